/* The safetensors weight format (Hugging Face): reader and writer.
 *
 * Layout (docs/FORMATS.md, "safetensors"): u64 little-endian header length N,
 * N bytes of JSON header {name: {"dtype", "shape", "data_offsets": [begin,
 * end]}, optional "__metadata__": {string: string}}, then the data buffer;
 * offsets are relative to the buffer's start.
 *
 * The header is untrusted input. kz_safetensors_open validates all of it
 * before returning (SECURITY.md, "Limits"): header length against the file
 * and KZ_SAFETENSORS_MAX_HEADER, the JSON (no duplicate key, no unknown key,
 * at most KZ_SAFETENSORS_MAX_JSON_VALUES values), every dtype, every shape
 * (rank, no overflow, elements x dtype size == the byte range), every offset
 * pair (inside the buffer; sorted they tile it exactly: no overlap, no gap, no
 * trailing byte). Errors name the file and the tensor.
 *
 *   kz_safetensors *st;
 *   KZ_TRY(kz_safetensors_open("model.safetensors", &st));
 *   for (int64_t i = 0; i < kz_safetensors_count(st); ++i) {
 *     const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, i);
 *     ... t->name, t->dtype, t->rank, t->shape, t->numel ...
 *   }
 *   kz_safetensors_read_f32(st, kz_safetensors_find(st, "w"), buf, n);
 *   kz_safetensors_close(st);
 *
 * Writing: kz_safetensors_writer_new, _add_f32 (the data is referenced, not
 * copied: keep it alive until _write), _set_metadata, _write (NAME.tmp, fsync,
 * rename), _free. Little-endian hosts only, as every kaizen binary format. */
#ifndef KZ_MODELS_IO_SAFETENSORS_H
#define KZ_MODELS_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "kaizen.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest header accepted (the JSON text): real BERT headers are 10-50 KB. */
#define KZ_SAFETENSORS_MAX_HEADER ((uint64_t)16 << 20)
/* JSON values (array elements, object members) in a header, counted before
 * the JSON parser builds them: it spends about 40 bytes on each. */
#define KZ_SAFETENSORS_MAX_JSON_VALUES 1000000
/* Dimensions of one tensor. */
#define KZ_SAFETENSORS_MAX_RANK 8
/* Bytes of one tensor name or metadata key / value. */
#define KZ_SAFETENSORS_MAX_NAME 1024

/* Every dtype of the format; only F32, F16 and BF16 read as f32. */
typedef enum kz_st_dtype {
  KZ_ST_BOOL,
  KZ_ST_U8,
  KZ_ST_I8,
  KZ_ST_F8_E5M2,
  KZ_ST_F8_E4M3,
  KZ_ST_I16,
  KZ_ST_U16,
  KZ_ST_F16,
  KZ_ST_BF16,
  KZ_ST_I32,
  KZ_ST_U32,
  KZ_ST_F32,
  KZ_ST_F64,
  KZ_ST_I64,
  KZ_ST_U64,
  KZ_ST_N_DTYPES
} kz_st_dtype;

/* "F32", "BF16", ... */
const char *kz_st_dtype_name(kz_st_dtype d);
size_t kz_st_dtype_size(kz_st_dtype d);
/* 1 when kz_safetensors_read_f32 converts this dtype (F32, F16, BF16). */
int kz_st_dtype_reads_as_f32(kz_st_dtype d);

typedef struct kz_safetensors_tensor {
  const char *name; /* as in the file */
  kz_st_dtype dtype;
  int rank; /* 0 for a scalar */
  int64_t shape[KZ_SAFETENSORS_MAX_RANK];
  int64_t numel;  /* product of shape (1 for a scalar) */
  uint64_t begin; /* byte range in the data buffer */
  uint64_t end;
} kz_safetensors_tensor;

typedef struct kz_safetensors kz_safetensors;

/* Opens and validates path (a regular file). *out is NULL on failure. */
kz_status kz_safetensors_open(const char *path, kz_safetensors **out);
void kz_safetensors_close(kz_safetensors *st);
const char *kz_safetensors_path(const kz_safetensors *st);
/* Tensors in data order (ascending offsets; the JSON's order is not kept). */
int64_t kz_safetensors_count(const kz_safetensors *st);
const kz_safetensors_tensor *kz_safetensors_tensor_at(const kz_safetensors *st, int64_t i);
/* Index of the tensor named name, or -1. */
int64_t kz_safetensors_find(const kz_safetensors *st, const char *name);
/* __metadata__ entries (string -> string), sorted by key. */
int64_t kz_safetensors_metadata_count(const kz_safetensors *st);
void kz_safetensors_metadata_at(const kz_safetensors *st, int64_t i, const char **key,
                                const char **value);
/* The value of a metadata key, or NULL. */
const char *kz_safetensors_metadata_get(const kz_safetensors *st, const char *key);

/* Reads tensor i converted to f32 into dst, which holds dst_count floats:
 * dst_count must equal the tensor's numel. F16 and BF16 are widened exactly;
 * any other dtype is refused naming the tensor. A file that changed since
 * open (shorter now) fails naming the tensor. */
kz_status kz_safetensors_read_f32(kz_safetensors *st, int64_t i, float *dst, int64_t dst_count);
/* Elements [first, first + count) of tensor i (row-major order) as f32: the
 * first rows of a table, say. The range must lie inside the tensor. */
kz_status kz_safetensors_read_f32_range(kz_safetensors *st, int64_t i, int64_t first, int64_t count,
                                        float *dst);

/* ---- writer ---------------------------------------------------------------- */

typedef struct kz_safetensors_writer kz_safetensors_writer;

kz_status kz_safetensors_writer_new(kz_safetensors_writer **out);
void kz_safetensors_writer_free(kz_safetensors_writer *w);
/* Adds a named f32 tensor (rank 0..KZ_SAFETENSORS_MAX_RANK, dims >= 0). The
 * data is referenced until _write. Names must be unique, non-empty valid
 * UTF-8 of at most KZ_SAFETENSORS_MAX_NAME bytes, and not "__metadata__".
 * Data is written in the order tensors were added. */
kz_status kz_safetensors_writer_add_f32(kz_safetensors_writer *w, const char *name, int rank,
                                        const int64_t *shape, const float *data);
/* Sets (or replaces) a __metadata__ entry; both strings are copied. */
kz_status kz_safetensors_writer_set_metadata(kz_safetensors_writer *w, const char *key,
                                             const char *value);
/* Writes the file through NAME.tmp + rename: a failure leaves nothing. */
kz_status kz_safetensors_writer_write(kz_safetensors_writer *w, const char *path);

#ifdef __cplusplus
}
#endif
#endif
