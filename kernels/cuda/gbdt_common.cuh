/* Shared by the GBDT kernels (kernels/cuda/gbdt_*.cu): argument checks and the
 * launch sizes read from the kernel config, so every entry point rejects a
 * bad call the same way before touching the device. */
#ifndef KZ_CUDA_GBDT_COMMON_CUH
#define KZ_CUDA_GBDT_COMMON_CUH

#include "kernels/cuda/common.cuh"
#include "kernels/gbdt_device.h"

/* Threads per block of the row kernels (gbdt.block), checked like every knob
 * at launch because a YAML file may have changed it. */
static inline kz_status kz_gbdt_row_block(const kz_stream *s, const char *op, int *block) {
  *block = kz_stream_knob(s, KZ_KNOB_CUDA_GBDT_BLOCK);
  return kz_cuda_check_block(op, "gbdt.block", *block);
}

static inline kz_status kz_gbdt_check_count(const char *op, const char *what, int64_t v) {
  if (v < 0)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s = %lld is negative", op, what, (long long)v);
  return KZ_OK;
}

static inline kz_status kz_gbdt_check_ptr(const char *op, const char *what, const void *p) {
  if (p == NULL) return kz_fail(KZ_ERR_INVALID_ARG, "%s: %s is NULL", op, what);
  return KZ_OK;
}

/* Row indices are int32 throughout the booster (row lists halve their memory
 * that way), so a data set is limited to INT32_MAX rows. */
static inline kz_status kz_gbdt_check_rows(const char *op, int64_t n) {
  KZ_TRY(kz_gbdt_check_count(op, "row count", n));
  if (n > INT32_MAX)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %lld rows exceed the int32 row index limit", op,
                   (long long)n);
  return KZ_OK;
}

#endif
