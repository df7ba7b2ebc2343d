/* The backend contract.
 *
 * A backend (cpu, cuda) provides memory, streams, events and one table of op
 * entry points taking raw pointers and sizes. Model code never calls these
 * directly: it calls the validated tensor-level wrappers in kernels/ops.h,
 * which check shapes, dtypes and devices and then dispatch through the table
 * of the stream's backend. A NULL entry means "unsupported on this backend"
 * and is reported as KZ_ERR_UNSUPPORTED, never as a crash.
 *
 * Conventions shared by every op:
 *  - row-major, contiguous; "rows x cols" means cols is the fastest dimension;
 *  - pointers are device pointers of the stream's device;
 *  - backward ops take `accumulate`: false overwrites every gradient output,
 *    true adds into it (gradient accumulation, shared weights, residual
 *    branches). Every element of every output is written either way;
 *  - ops are asynchronous with respect to the host on CUDA; they return
 *    launch errors, not the kernel's completion. */
#ifndef KZ_CORE_BACKEND_H
#define KZ_CORE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "kaizen.h"
#include "kernels/config/kernel_config.h"
#include "kernels/core/tensor.h"
#include "kernels/op_list.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kz_backend kz_backend;

/* A stream orders work on one device. The CPU backend's stream is
 * synchronous. `knobs` is the kernel-config row of the device's target. */
typedef struct kz_stream {
  const kz_backend *backend;
  kz_device device;
  kz_target target;
  void *native; /* cudaStream_t on CUDA; NULL on the CPU */
  void *blas;   /* cublasHandle_t on CUDA; NULL on the CPU */
} kz_stream;

static inline int kz_stream_knob(const kz_stream *s, kz_knob id) {
  return kz_kernel_config_row(s->target)[id];
}

typedef enum kz_gelu_approx { KZ_GELU_ERF = 0, KZ_GELU_TANH = 1 } kz_gelu_approx;

/* C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b], b < batch, row-major.
 * op(A) is m x k, op(B) is k x n, C is m x n with leading dimension ldc.
 * A and B share a dtype (f32 or bf16, accumulation always f32); C is f32.
 * A batch stride of 0 broadcasts that operand across the batch. With
 * beta == 0, C is not read (it may hold NaN). */
typedef struct kz_gemm {
  const void *a;
  const void *b;
  float *c;
  kz_dtype ab_dtype;
  bool trans_a, trans_b;
  int64_t m, n, k;
  int64_t lda, ldb, ldc;                /* row strides in elements */
  int64_t stride_a, stride_b, stride_c; /* batch strides in elements */
  int64_t batch;
  float alpha, beta;
} kz_gemm;

/* Attention-style softmax over the last dim of x[B, H, T, S] (rows of S).
 * y = softmax(scale * x) over the keys allowed for that row; disallowed keys
 * get y = 0. Key j of query t in batch b is allowed when
 *   j < lengths[b] (if lengths != NULL, an i32 device array of B) and
 *   j <= t + (S - T) (if causal).
 * A row with no allowed key is all zeros (no NaN). */
typedef struct kz_softmax_shape {
  int64_t batch, heads, queries, keys; /* B, H, T, S */
  float scale;
  bool causal;
  const int32_t *lengths;
} kz_softmax_shape;

/* y (+)= x with its dims reordered: y's dim j is x's dim perm[j]. Tensors of
 * fewer than four dims are padded with leading ones (and perm with the
 * identity on them), so backends see one 4-D case. Splitting attention heads
 * ([B,T,H,D] -> [B,H,T,D]) and time-major slicing are this op. */
typedef struct kz_permute_shape {
  int64_t in[4]; /* x's dims */
  int perm[4];   /* y dim j = x dim perm[j] */
} kz_permute_shape;

/* Fused self-attention over T queries and T keys per (batch, head), on
 * tensors laid out token-major: element d of head h of token t of batch row
 * b is x[(b*T + t)*ld_x + h*D + d], so q, k and v may be column blocks of
 * one fused [B*T, 3*H*D] projection (ld = 3*H*D) or separate [B*T, H*D]
 * tensors (ld = H*D). Key j is visible to query i when
 *   j < lengths[b] (if lengths != NULL, an i32 device array of B) and
 *   j <= i (if causal).
 * Query rows past lengths[b] still attend to the visible keys (HF BERT).
 * A row that sees no key (lengths[b] == 0) has o = 0, lse = -inf and no
 * gradient. With dropout_p > 0 the probabilities are multiplied by
 * kz_attn_dropout_keep(...) / (1 - p), a function of (dropout_key, b, h,
 * i, j) alone (core/attn_dropout.h), so every backend draws the same mask
 * and the backward regenerates it. */
typedef struct kz_attn_shape {
  int64_t batch, heads, seq, head_dim; /* B, H, T, D */
  int64_t ld_q, ld_k, ld_v, ld_o;      /* floats between consecutive tokens */
  float scale;                         /* usually 1/sqrt(D) */
  bool causal;
  const int32_t *lengths; /* NULL or [B] (device memory) */
  double dropout_p;       /* dropout on the attention probabilities, 0 = off */
  uint64_t dropout_key;
} kz_attn_shape;

/* Decoupled-weight-decay Adam (Loshchilov & Hutter). grad_scale multiplies
 * the gradient first (1/accumulation steps, clipping factor). step counts
 * from 1 and drives the bias corrections. */
typedef struct kz_adamw_hparams {
  float lr, beta1, beta2, eps, weight_decay, grad_scale;
  int64_t step;
} kz_adamw_hparams;

/* One entry point per slot of the op list (op_list.h); the signatures are
 * the parenthesised parameter lists there. What each slot computes:
 *  gemm               see kz_gemm.
 *  bias_add_fwd       y[r, c] = x[r, c] + bias[c]; y may alias x.
 *  bias_add_bwd       dbias[c] (+)= sum_r dy[r, c].
 *  add                y = a + b elementwise (the residual); y may alias a or b.
 *  gelu_fwd/_bwd      GELU; dx (+)= dy * gelu'(x).
 *  layernorm_fwd      y = (x - mean) * rstd * gamma + beta per row; rstd =
 *                     1/sqrt(var + eps), biased variance. mean and rstd (rows
 *                     each) may be NULL (inference).
 *  layernorm_bwd      dx, dgamma, dbeta (+)= gradients given the saved mean
 *                     and rstd.
 *  softmax_fwd/_bwd   see kz_softmax_shape; dx (+)= scale * y * (dy - sum_j
 *                     dy_j y_j) per row.
 *  cross_entropy_fwd  losses[r] = logsumexp(logits[r]) - logits[r, targets[r]];
 *                     0 where targets[r] == ignore_index. A target outside
 *                     [0, classes) that is not ignore_index gives
 *                     KZ_ERR_INVALID_ARG on the CPU and a NaN loss on CUDA.
 *  cross_entropy_bwd  dlogits[r] (+)= dloss[r] * (softmax(logits[r]) -
 *                     onehot(targets[r])); zero rows where the target is ignored.
 *  embedding_fwd      out[i, :] = table[ids[i], :]. An id outside [0, vocab)
 *                     gives KZ_ERR_INVALID_ARG on the CPU and a zero row on CUDA.
 *  embedding_bwd      dtable[ids[i], :] += dout[i, :]; without accumulate
 *                     dtable is zeroed first.
 *  residual_layernorm_fwd  y = layernorm(x + dropout(h; p, key)); r (the sum)
 *                     and mean/rstd may be NULL; y may alias x or h.
 *  residual_layernorm_bwd  dx (+)= dr, dh (+)= dr * mask, dgamma/dbeta (+)=,
 *                     xhat from r (r non-NULL, with mean) or from y as
 *                     (y - beta) / gamma; any output may be NULL.
 *  gather_rows_fwd/_bwd  out[i, :] = x[idx[i], :] / dx[idx[i], :] += dout[i, :]
 *                     (as embedding, x the table; same error rules).
 *  qa_span_loss_fwd/_bwd  per sequence (CE(start) + CE(end)) / 2 over its first
 *                     lengths[b] positions of logits [B*T, 2]; a bad length or
 *                     target: KZ_ERR_INVALID_ARG on the CPU, NaN loss on CUDA.
 *  adamw              one AdamW step on fp32 master weights; if params_bf16 is
 *                     not NULL it receives the updated weights rounded to bf16.
 *  cast_*             f32 <-> bf16, round to nearest even.
 *  attention_fwd      see kz_attn_shape: o = softmax(scale q k^T + masks)
 *                     (dropout) v per (b, h), stride ld_o; lse [B, H, T] (may
 *                     be NULL: inference) = log-sum-exp of the visible scaled
 *                     scores of each query row.
 *  attention_bwd      dq, dk, dv (+)= the gradients given o and lse of the
 *                     forward (probabilities recomputed, dropout mask
 *                     regenerated); written with strides ld_q, ld_k, ld_v,
 *                     dout read with ld_o; any of dq, dk, dv may be NULL.
 *  <unary>_fwd/_bwd   y = f(x; param), dx (+)= dy * f'(x; param) (op_list.h).
 *
 * Gradient outputs are optional: a NULL gradient output (dx, dgamma, dbeta,
 * ...) means "not wanted" (a frozen layer, a LoRA base weight) and a backend
 * neither reads nor writes it; the others are computed as usual. */
typedef struct kz_op_table {
#define KZ_SLOT(slot, cpu, cuda, params) kz_status(*slot) params;
  KZ_OP_SLOTS()
#undef KZ_SLOT
} kz_op_table;

typedef enum kz_copy_kind {
  KZ_COPY_HOST_TO_DEVICE,
  KZ_COPY_DEVICE_TO_HOST,
  KZ_COPY_DEVICE_TO_DEVICE
} kz_copy_kind;

struct kz_backend {
  const char *name;
  kz_device_kind kind;
  int (*device_count)(void);
  kz_status (*device_info)(int index, kz_device_info *info);
  kz_status (*alloc)(int device, size_t bytes, void **ptr);
  void (*release)(int device, void *ptr);
  /* Ordered on the stream; returns once the copy is enqueued (CPU: done). */
  kz_status (*copy)(kz_stream *s, void *dst, const void *src, size_t bytes, kz_copy_kind kind);
  kz_status (*fill_bytes)(kz_stream *s, void *dst, int value, size_t bytes);
  kz_status (*stream_init)(kz_stream *s); /* fills native/blas for s->device */
  void (*stream_fini)(kz_stream *s);
  kz_status (*stream_sync)(kz_stream *s);
  /* Events time work on a stream: record two, synchronise, read the gap. */
  kz_status (*event_create)(int device, void **event);
  void (*event_destroy)(void *event);
  kz_status (*event_record)(kz_stream *s, void *event);
  kz_status (*event_elapsed_ms)(void *start, void *stop, float *ms);
  /* Work enqueued on s after this waits for the event's recorded work (CPU:
   * streams run in program order, so it has already happened). */
  kz_status (*stream_wait_event)(kz_stream *s, void *event);
  kz_op_table ops;
};

/* The backends compiled into this build. kz_backend_cuda() returns NULL in a
 * build without CUDA; its device_count() returns 0 without a GPU. */
const kz_backend *kz_backend_cpu(void);
const kz_backend *kz_backend_cuda(void);
const kz_backend *kz_backend_for(kz_device device);

/* ---- device-generic helpers built on the table ------------------------ */
kz_status kz_stream_create(kz_device device, kz_stream **out);
void kz_stream_destroy(kz_stream *s);
kz_status kz_stream_sync(kz_stream *s);

/* Events order work across streams of one device and time it: record on
 * one stream, make another wait for it, or read the time between two. */
typedef struct kz_event kz_event;
kz_status kz_event_create(kz_device device, kz_event **out);
void kz_event_destroy(kz_event *e);
kz_status kz_event_record(kz_stream *s, kz_event *e);
kz_status kz_stream_wait_event(kz_stream *s, const kz_event *e);
/* Waits for stop's work, then the milliseconds between the two records. */
kz_status kz_event_elapsed_ms(const kz_event *start, const kz_event *stop, float *ms);

kz_status kz_device_alloc(kz_device device, size_t bytes, void **ptr);
void kz_device_free(kz_device device, void *ptr);
/* Copies a tensor's bytes between host memory and the stream's device. */
kz_status kz_copy_to_device(kz_stream *s, void *dst, const void *host_src, size_t bytes);
kz_status kz_copy_to_host(kz_stream *s, void *host_dst, const void *src, size_t bytes);
kz_status kz_copy_on_device(kz_stream *s, void *dst, const void *src, size_t bytes);
kz_status kz_fill_bytes(kz_stream *s, void *dst, int value, size_t bytes);

/* Allocates a tensor of the given shape on a device (free with kz_tensor_free). */
kz_status kz_tensor_alloc(kz_device device, kz_dtype dtype, int ndim, const int64_t *shape,
                          kz_tensor *out);
void kz_tensor_free(kz_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
