/* Op benchmarks: realistic (BERT-base-sized) shapes of every op, timed with
 * the backend's events, reported as a ratio to the machine's measured peaks:
 * the GEMM rate (OpenBLAS sgemm on the CPU, cuBLAS through the matmul op on
 * CUDA) and the copy bandwidth. On the CPU each matmul shape is also timed
 * with cblas_sgemm directly, interleaved with kaizen's op. */
#ifndef KZ_HARNESS_OP_BENCH_H
#define KZ_HARNESS_OP_BENCH_H

#include <stdio.h>

#include "kernels/harness/op_case.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kz_bench_options {
  const char *op; /* NULL: every op */
  int repeat;     /* timed samples per shape; the median is reported */
  FILE *out;
} kz_bench_options;

typedef struct kz_bench_peaks {
  double gemm_gflops;      /* f32 GEMM: OpenBLAS sgemm (CPU) or cuBLAS sgemm */
  double gemm_bf16_gflops; /* cuBLAS bf16 GEMM (CUDA); the f32 rate on the CPU */
  double copy_gbs;         /* bytes read + written per second */
} kz_bench_peaks;

kz_status kz_bench_measure_peaks(kz_stream *s, int repeat, kz_bench_peaks *peaks, FILE *out);
/* Copy bandwidth (bytes read + written per second, in GB/s) of a copy of
 * `bytes` bytes on the stream's device: at an op's own size it runs from the
 * same cache level as the op. */
kz_status kz_bench_copy_rate(kz_stream *s, size_t bytes, int repeat, double *gbs);
/* Prints the table; the last line is the headline ratio. */
kz_status kz_harness_bench(kz_device device, const kz_bench_options *o);

/* Every benchmark case (big shapes); exposed for `kaizen kernels list`. */
kz_status kz_bench_cases_build(kz_op_case_list *list);

#ifdef __cplusplus
}
#endif
#endif
