/* What this binary was built with, for `kaizen info` and run summaries. */
#include <cblas.h>
#include <omp.h>

#include "build_config.h"
#include "kaizen.h"

const char *kz_version(void) {
  return KZ_VERSION_STRING;
}

void kz_build_info_get(kz_build_info *info) {
  info->version = KZ_VERSION_STRING;
  info->git_hash = KZ_GIT_HASH;
  info->build_type = KZ_BUILD_TYPE;
#ifdef KZ_WITH_CUDA
  info->cuda_enabled = 1;
  info->cuda_archs = KZ_CUDA_ARCHS;
#else
  info->cuda_enabled = 0;
  info->cuda_archs = "";
#endif
  info->blas = openblas_get_config();
  info->openmp_threads = omp_get_max_threads();
#ifdef KZ_SANITIZED
  info->sanitizers = 1;
#else
  info->sanitizers = 0;
#endif
}
