/* The tensor type: a contiguous, row-major view of device or host memory.
 *
 * A tensor does not own its memory; buffers come from kz_device_alloc or an
 * arena. Keeping it a plain value (like DLPack's DLTensor) lets model code
 * carve named tensors out of one parameter block by offset. */
#ifndef KZ_CORE_TENSOR_H
#define KZ_CORE_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "kaizen.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KZ_MAX_DIMS 4

typedef enum kz_dtype { KZ_F32 = 0, KZ_BF16 = 1, KZ_I32 = 2, KZ_U8 = 3 } kz_dtype;

typedef struct kz_tensor {
  void *data;
  kz_dtype dtype;
  int ndim;
  int64_t shape[KZ_MAX_DIMS];
  kz_device device;
} kz_tensor;

size_t kz_dtype_size(kz_dtype dtype);
const char *kz_dtype_name(kz_dtype dtype);
/* Parses "f32", "bf16", "i32", "u8". */
kz_status kz_dtype_parse(const char *name, kz_dtype *out);

/* Builds a tensor view; ndim dims follow (int64_t). */
kz_tensor kz_tensor_view(void *data, kz_dtype dtype, kz_device device, int ndim, ...);
int64_t kz_tensor_numel(const kz_tensor *t);
size_t kz_tensor_bytes(const kz_tensor *t);
/* Product of all dims but the last: the row count of a [..., cols] tensor. */
int64_t kz_tensor_rows(const kz_tensor *t);
int64_t kz_tensor_cols(const kz_tensor *t);
/* Views that copy nothing (the data stays the parent's; a permutation that
 * moves data is kz_op_permute in ops.h):
 * - reshape: the same elements under another shape of equal numel
 *   ([B,T,H*D] <-> [B,T,H,D] when splitting and merging heads);
 * - slice: rows [start, start+len) of dim 0, a contiguous block (one time
 *   step of a time-major [T,B,D] tensor, one batch of [B,...]).
 * Both fail with KZ_ERR_INVALID_ARG (and leave *out alone) on a bad shape
 * or range. */
kz_status kz_tensor_reshape(const kz_tensor *t, int ndim, const int64_t *shape, kz_tensor *out);
kz_status kz_tensor_slice(const kz_tensor *t, int64_t start, int64_t len, kz_tensor *out);
bool kz_tensor_same_shape(const kz_tensor *a, const kz_tensor *b);
/* "[2, 3, 4] f32 cpu" into buf, for error messages. */
void kz_tensor_describe(const kz_tensor *t, char *buf, size_t size);

/* bf16 <-> f32 on the host; rounding is to nearest even, NaN stays NaN. */
uint16_t kz_f32_to_bf16(float x);
float kz_bf16_to_f32(uint16_t x);

#ifdef __cplusplus
}
#endif
#endif
