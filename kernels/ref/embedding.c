/* Reference embedding lookup and its scatter-add gradient. */
#include "kernels/ref/ref_ops.h"

bool kz_ref_embedding_fwd(const int32_t *ids, const double *table, double *out, int64_t n,
                          int64_t vocab, int64_t dim) {
  for (int64_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= vocab) return false;
    for (int64_t d = 0; d < dim; d++) out[i * dim + d] = table[(int64_t)ids[i] * dim + d];
  }
  return true;
}

/* Out-of-range ids (refused by the forward pass) are skipped rather than
 * written outside the table. */
void kz_ref_embedding_bwd(const int32_t *ids, const double *dout, double *dtable, int64_t n,
                          int64_t vocab, int64_t dim, bool accumulate) {
  if (!accumulate)
    for (int64_t i = 0; i < vocab * dim; i++) dtable[i] = 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= vocab) continue;
    for (int64_t d = 0; d < dim; d++) dtable[(int64_t)ids[i] * dim + d] += dout[i * dim + d];
  }
}
