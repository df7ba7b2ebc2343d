/* Extractive-QA span loss on the CPU: per sequence, a softmax cross-entropy
 * over the first lengths[b] positions of the start column and of the end
 * column, averaged. Sequences in parallel; the two columns are interleaved
 * in logits ([B*T, 2]), read with stride 2. */
#include <math.h>

#include "kernels/core/error.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/cpu/cpu_vec.h"

/* Everything is checked before anything is written. */
static kz_status check_spans(const char *op, const int32_t *lengths, const int32_t *starts,
                             const int32_t *ends, int64_t batch, int64_t seq) {
  for (int64_t b = 0; b < batch; ++b) {
    if (lengths[b] < 1 || lengths[b] > seq)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: length %d of sequence %lld is outside [1, %lld]", op,
                     (int)lengths[b], (long long)b, (long long)seq);
    const int32_t t[2] = {starts[b], ends[b]};
    for (int k = 0; k < 2; ++k)
      if (t[k] < 0 || t[k] >= lengths[b])
        return kz_fail(KZ_ERR_INVALID_ARG,
                       "%s: %s position %d of sequence %lld is outside its length %d", op,
                       k ? "end" : "start", (int)t[k], (long long)b, (int)lengths[b]);
  }
  return KZ_OK;
}

/* log sum_t exp(z[2t]) over t < len (z points at one column). */
static float column_logsumexp(const float *z, int64_t len) {
  float mx = z[0];
  for (int64_t t = 1; t < len; ++t) mx = z[2 * t] > mx ? z[2 * t] : mx;
  float sum = 0.0f;
  for (int64_t t = 0; t < len; ++t) sum += expf(z[2 * t] - mx);
  return mx + logf(sum);
}

kz_status kz_cpu_qa_span_loss_fwd(kz_stream *s, const float *logits, const int32_t *lengths,
                                  const int32_t *starts, const int32_t *ends, float *losses,
                                  int64_t batch, int64_t seq) {
  KZ_TRY(check_spans("qa_span_loss", lengths, starts, ends, batch, seq));
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));
#pragma omp parallel for schedule(static) if (batch * seq > grain)
  for (int64_t b = 0; b < batch; ++b) {
    const float *z = logits + b * seq * 2;
    const float ce_start = column_logsumexp(z, lengths[b]) - z[2 * starts[b]];
    const float ce_end = column_logsumexp(z + 1, lengths[b]) - z[2 * ends[b] + 1];
    losses[b] = 0.5f * (ce_start + ce_end);
  }
  return KZ_OK;
}

kz_status kz_cpu_qa_span_loss_bwd(kz_stream *s, const float *logits, const int32_t *lengths,
                                  const int32_t *starts, const int32_t *ends, const float *dloss,
                                  float *dlogits, int64_t batch, int64_t seq, bool accumulate) {
  KZ_TRY(check_spans("qa_span_loss_bwd", lengths, starts, ends, batch, seq));
  const int64_t grain = kz_cpu_grain(kz_stream_knob(s, KZ_KNOB_CPU_ROWWISE_GRAIN));
#pragma omp parallel for schedule(static) if (batch * seq > grain)
  for (int64_t b = 0; b < batch; ++b) {
    const float half = 0.5f * dloss[b];
    const int64_t len = lengths[b];
    for (int col = 0; col < 2; ++col) {
      const float *z = logits + b * seq * 2 + col;
      float *dz = dlogits + b * seq * 2 + col;
      const int64_t target = col ? ends[b] : starts[b];
      const float lse = column_logsumexp(z, len);
      for (int64_t t = 0; t < seq; ++t) {
        const float g =
            t < len ? half * (expf(z[2 * t] - lse) - (t == target ? 1.0f : 0.0f)) : 0.0f;
        dz[2 * t] = accumulate ? dz[2 * t] + g : g;
      }
    }
  }
  return KZ_OK;
}
