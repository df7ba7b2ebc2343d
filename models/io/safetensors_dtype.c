/* safetensors dtypes: names, sizes, and the half-precision widening. */
#include <stdio.h>
#include <string.h>

#include "models/io/safetensors.h"
#include "models/io/safetensors_internal.h"

static const struct {
  const char *name;
  size_t size;
} dtypes[KZ_ST_N_DTYPES] = {
    [KZ_ST_BOOL] = {"BOOL", 1},       [KZ_ST_U8] = {"U8", 1},           [KZ_ST_I8] = {"I8", 1},
    [KZ_ST_F8_E5M2] = {"F8_E5M2", 1}, [KZ_ST_F8_E4M3] = {"F8_E4M3", 1}, [KZ_ST_I16] = {"I16", 2},
    [KZ_ST_U16] = {"U16", 2},         [KZ_ST_F16] = {"F16", 2},         [KZ_ST_BF16] = {"BF16", 2},
    [KZ_ST_I32] = {"I32", 4},         [KZ_ST_U32] = {"U32", 4},         [KZ_ST_F32] = {"F32", 4},
    [KZ_ST_F64] = {"F64", 8},         [KZ_ST_I64] = {"I64", 8},         [KZ_ST_U64] = {"U64", 8},
};

const char *kz_st_dtype_name(kz_st_dtype d) {
  return (unsigned)d < KZ_ST_N_DTYPES ? dtypes[d].name : "?";
}

size_t kz_st_dtype_size(kz_st_dtype d) {
  return (unsigned)d < KZ_ST_N_DTYPES ? dtypes[d].size : 1;
}

int kz_st_dtype_reads_as_f32(kz_st_dtype d) {
  return d == KZ_ST_F32 || d == KZ_ST_F16 || d == KZ_ST_BF16;
}

kz_st_text kz_st_shape_text(int rank, const int64_t *shape) {
  kz_st_text t;
  size_t n = 0;
  t.s[n++] = '[';
  for (int k = 0; k < rank; ++k) {
    char dim[32];
    int w = snprintf(dim, sizeof dim, "%s%lld", k ? ", " : "", (long long)shape[k]);
    if (n + (size_t)w + 5 > sizeof t.s) {
      memcpy(t.s + n, "...", 3);
      n += 3;
      break;
    }
    memcpy(t.s + n, dim, (size_t)w);
    n += (size_t)w;
  }
  t.s[n++] = ']';
  t.s[n] = '\0';
  return t;
}

float kz_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu, bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13); /* infinity, NaN (payload kept) */
  } else if (exp != 0) {
    bits = sign | ((exp + 112u) << 23) | (mant << 13); /* rebias 15 -> 127 */
  } else if (mant == 0) {
    bits = sign; /* signed zero */
  } else {
    /* subnormal: mant * 2^-24, normalised for float */
    int e = -1;
    do {
      mant <<= 1;
      ++e;
    } while (!(mant & 0x400u));
    bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3FFu) << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}
