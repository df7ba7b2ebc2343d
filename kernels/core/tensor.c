/* Tensor descriptors and dtype helpers. */
#include "kernels/core/tensor.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernels/core/error.h"

static const struct {
  const char *name;
  size_t size;
} dtype_table[] = {
    [KZ_F32] = {"f32", 4},
    [KZ_BF16] = {"bf16", 2},
    [KZ_I32] = {"i32", 4},
    [KZ_U8] = {"u8", 1},
};
#define N_DTYPES ((int)(sizeof dtype_table / sizeof dtype_table[0]))

size_t kz_dtype_size(kz_dtype dtype) {
  return (int)dtype >= 0 && (int)dtype < N_DTYPES ? dtype_table[dtype].size : 0;
}

const char *kz_dtype_name(kz_dtype dtype) {
  return (int)dtype >= 0 && (int)dtype < N_DTYPES ? dtype_table[dtype].name : "?";
}

kz_status kz_dtype_parse(const char *name, kz_dtype *out) {
  for (int i = 0; i < N_DTYPES; ++i) {
    if (!strcmp(name, dtype_table[i].name)) {
      *out = (kz_dtype)i;
      return KZ_OK;
    }
  }
  return kz_fail(KZ_ERR_INVALID_ARG, "unknown dtype '%s' (expected f32, bf16, i32 or u8)", name);
}

kz_tensor kz_tensor_view(void *data, kz_dtype dtype, kz_device device, int ndim, ...) {
  kz_tensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.dtype = dtype;
  t.device = device;
  t.ndim = ndim < 0 ? 0 : (ndim > KZ_MAX_DIMS ? KZ_MAX_DIMS : ndim);
  va_list ap;
  va_start(ap, ndim);
  for (int i = 0; i < t.ndim; ++i) t.shape[i] = va_arg(ap, int64_t);
  va_end(ap);
  return t;
}

int64_t kz_tensor_numel(const kz_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->ndim; ++i) n *= t->shape[i];
  return n;
}

kz_status kz_tensor_reshape(const kz_tensor *t, int ndim, const int64_t *shape, kz_tensor *out) {
  if (ndim < 1 || ndim > KZ_MAX_DIMS)
    return kz_fail(KZ_ERR_INVALID_ARG, "reshape: %d dims (1 to %d allowed)", ndim, KZ_MAX_DIMS);
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] < 0) return kz_fail(KZ_ERR_INVALID_ARG, "reshape: dim %d is negative", i);
    n *= shape[i];
  }
  if (n != kz_tensor_numel(t)) {
    char buf[96];
    kz_tensor_describe(t, buf, sizeof buf);
    return kz_fail(KZ_ERR_INVALID_ARG, "reshape: %s has %lld elements, the new shape %lld", buf,
                   (long long)kz_tensor_numel(t), (long long)n);
  }
  kz_tensor v = *t;
  v.ndim = ndim;
  for (int i = 0; i < KZ_MAX_DIMS; ++i) v.shape[i] = i < ndim ? shape[i] : 0;
  *out = v;
  return KZ_OK;
}

kz_status kz_tensor_slice(const kz_tensor *t, int64_t start, int64_t len, kz_tensor *out) {
  if (t->ndim < 1 || start < 0 || len < 0 || start > t->shape[0] - len) {
    char buf[96];
    kz_tensor_describe(t, buf, sizeof buf);
    return kz_fail(KZ_ERR_INVALID_ARG, "slice: rows [%lld, %lld) of %s are out of range",
                   (long long)start, (long long)(start + len), buf);
  }
  kz_tensor v = *t;
  v.shape[0] = len;
  /* Bytes per dim-0 row: the element count of one row times the dtype size. */
  size_t row = kz_dtype_size(t->dtype);
  for (int i = 1; i < t->ndim; ++i) row *= (size_t)t->shape[i];
  if (v.data) v.data = (char *)t->data + (size_t)start * row;
  *out = v;
  return KZ_OK;
}

size_t kz_tensor_bytes(const kz_tensor *t) {
  return (size_t)kz_tensor_numel(t) * kz_dtype_size(t->dtype);
}

int64_t kz_tensor_rows(const kz_tensor *t) {
  int64_t n = 1;
  for (int i = 0; i + 1 < t->ndim; ++i) n *= t->shape[i];
  return n;
}

int64_t kz_tensor_cols(const kz_tensor *t) {
  return t->ndim > 0 ? t->shape[t->ndim - 1] : 1;
}

bool kz_tensor_same_shape(const kz_tensor *a, const kz_tensor *b) {
  if (a->ndim != b->ndim) return false;
  for (int i = 0; i < a->ndim; ++i)
    if (a->shape[i] != b->shape[i]) return false;
  return true;
}

void kz_tensor_describe(const kz_tensor *t, char *buf, size_t size) {
  size_t used = 0;
  int n = snprintf(buf, size, "[");
  used = n > 0 ? (size_t)n : 0;
  for (int i = 0; i < t->ndim && used < size; ++i) {
    n = snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    used += n > 0 ? (size_t)n : 0;
  }
  if (used < size) {
    char dev[32];
    kz_device_format(t->device, dev, sizeof dev);
    snprintf(buf + used, size - used, "] %s %s", kz_dtype_name(t->dtype), dev);
  }
}

uint16_t kz_f32_to_bf16(float x) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  if (isnan(x)) return (uint16_t)((bits >> 16) | 0x0040u); /* keep it a quiet NaN */
  /* Round to nearest, ties to even, by adding half an ulp of bf16 plus the
   * parity of the bit that survives. */
  uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
  return (uint16_t)((bits + rounding) >> 16);
}

float kz_bf16_to_f32(uint16_t x) {
  uint32_t bits = (uint32_t)x << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}
