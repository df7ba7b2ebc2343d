/* CPU backend op entry points (OpenMP threads, OpenBLAS sgemm). Each has the
 * signature of its kz_op_table slot in core/backend.h; backend_cpu.c fills
 * the table with them. Tunables come from kz_stream_knob(s, KZ_KNOB_CPU_*). */
#ifndef KZ_CPU_OPS_H
#define KZ_CPU_OPS_H

#include "kernels/core/backend.h"

kz_status kz_cpu_gemm(kz_stream *s, const kz_gemm *g);
kz_status kz_cpu_bias_add_fwd(kz_stream *s, const float *x, const float *bias, float *y,
                              int64_t rows, int64_t cols);
kz_status kz_cpu_bias_add_bwd(kz_stream *s, const float *dy, float *dbias, int64_t rows,
                              int64_t cols, bool accumulate);
kz_status kz_cpu_add(kz_stream *s, const float *a, const float *b, float *y, int64_t n);
kz_status kz_cpu_gelu_fwd(kz_stream *s, const float *x, float *y, int64_t n, kz_gelu_approx approx);
kz_status kz_cpu_gelu_bwd(kz_stream *s, const float *x, const float *dy, float *dx, int64_t n,
                          kz_gelu_approx approx, bool accumulate);
kz_status kz_cpu_layernorm_fwd(kz_stream *s, const float *x, const float *gamma, const float *beta,
                               float *y, float *mean, float *rstd, int64_t rows, int64_t cols,
                               float eps);
kz_status kz_cpu_layernorm_bwd(kz_stream *s, const float *dy, const float *x, const float *gamma,
                               const float *mean, const float *rstd, float *dx, float *dgamma,
                               float *dbeta, int64_t rows, int64_t cols, bool accumulate);
kz_status kz_cpu_softmax_fwd(kz_stream *s, const float *x, float *y, const kz_softmax_shape *sh);
kz_status kz_cpu_softmax_bwd(kz_stream *s, const float *y, const float *dy, float *dx,
                             const kz_softmax_shape *sh, bool accumulate);
kz_status kz_cpu_cross_entropy_fwd(kz_stream *s, const float *logits, const int32_t *targets,
                                   float *losses, int64_t rows, int64_t classes,
                                   int32_t ignore_index);
kz_status kz_cpu_cross_entropy_bwd(kz_stream *s, const float *logits, const int32_t *targets,
                                   const float *dloss, float *dlogits, int64_t rows,
                                   int64_t classes, int32_t ignore_index, bool accumulate);
kz_status kz_cpu_embedding_fwd(kz_stream *s, const int32_t *ids, const float *table, float *out,
                               int64_t n, int64_t vocab, int64_t dim);
kz_status kz_cpu_embedding_bwd(kz_stream *s, const int32_t *ids, const float *dout, float *dtable,
                               int64_t n, int64_t vocab, int64_t dim, bool accumulate);
kz_status kz_cpu_adamw(kz_stream *s, float *params, const float *grads, float *m, float *v,
                       uint16_t *params_bf16, int64_t n, const kz_adamw_hparams *hp);
kz_status kz_cpu_cast_f32_to_bf16(kz_stream *s, const float *x, uint16_t *y, int64_t n);
kz_status kz_cpu_cast_bf16_to_f32(kz_stream *s, const uint16_t *x, float *y, int64_t n);

#endif
