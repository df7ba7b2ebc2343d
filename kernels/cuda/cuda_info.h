/* Versions of the CUDA libraries this build is linked against, for
 * `kaizen info`. Calling into each library (rather than printing the header
 * macros) shows the libraries really load. A build without CUDA supplies a
 * stub from kernels/cuda_off/. */
#ifndef KZ_CUDA_INFO_H
#define KZ_CUDA_INFO_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One line, e.g. "CUDA runtime 13.0, driver 13.0, cuBLAS 13.0.0, cuDNN 9.19.0,
 * NCCL 2.28.9"; "driver none" where no driver is installed, "cuDNN not
 * linked" / "NCCL not linked" in a build without them (both optional). Always
 * NUL-terminated, truncated to size. Never fails. */
void kz_cuda_describe(char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
