/* Gradient buckets reduced during the backward pass (grad_buckets.h). */
#include "engine/dist/grad_buckets.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"

/* Trainable floats of [a, z) (the ranges are sorted and disjoint). */
static int64_t trainable_in(const kz_grad_buckets *b, int64_t a, int64_t z) {
  int64_t sum = 0;
  for (int i = 0; i < b->ntr; ++i) {
    const int64_t x = b->tr[i].offset > a ? b->tr[i].offset : a;
    const int64_t e = b->tr[i].offset + b->tr[i].count;
    const int64_t y = e < z ? e : z;
    if (x < y) sum += y - x;
  }
  return sum;
}

kz_status kz_grad_buckets_init(kz_grad_buckets *b, kz_comm *comm, float *grads, int64_t n,
                               int64_t bucket, const kz_param_range *tr, int ntr) {
  memset(b, 0, sizeof *b);
  if (bucket <= 0 || n <= 0 || ntr < 1 || ntr > KZ_NN_MAX_RANGES)
    return kz_fail(KZ_ERR_INVALID_ARG, "gradient buckets: %lld floats in buckets of %lld",
                   (long long)n, (long long)bucket);
  b->comm = comm;
  b->grads = grads;
  b->n = n;
  b->bucket = bucket;
  b->nb = (int)((n + bucket - 1) / bucket);
  b->ntr = ntr;
  memcpy(b->tr, tr, sizeof *tr * (size_t)ntr);
  b->total = calloc((size_t)b->nb, sizeof *b->total);
  b->left = calloc((size_t)b->nb, sizeof *b->left);
  if (!b->total || !b->left) {
    kz_grad_buckets_free(b);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "gradient buckets: out of memory");
  }
  for (int k = 0; k < b->nb; ++k) {
    const int64_t a = (int64_t)k * bucket, z = a + bucket < n ? a + bucket : n;
    b->total[k] = trainable_in(b, a, z);
  }
  b->next = -1;
  return KZ_OK;
}

void kz_grad_buckets_free(kz_grad_buckets *b) {
  free(b->total);
  free(b->left);
  b->total = b->left = NULL;
}

void kz_grad_buckets_arm(kz_grad_buckets *b) {
  memcpy(b->left, b->total, sizeof *b->left * (size_t)b->nb);
  b->next = b->nb - 1;
  b->armed = 1;
  b->model_stream = NULL;
}

static kz_status start(kz_grad_buckets *b, int k, kz_stream *s) {
  const int64_t a = (int64_t)k * b->bucket, z = a + b->bucket < b->n ? a + b->bucket : b->n;
  b->started += 1;
  return kz_comm_iallreduce(b->comm, b->grads + a, (size_t)(z - a), KZ_COMM_F32, KZ_COMM_SUM, s);
}

kz_status kz_grad_buckets_ready(void *ctx, kz_stream *s, int64_t offset, int64_t count) {
  kz_grad_buckets *b = ctx;
  if (!b->armed || count <= 0) return KZ_OK;
  b->model_stream = s;
  const int64_t end = offset + count;
  for (int64_t k = offset / b->bucket; k < b->nb && k * b->bucket < end; ++k) {
    const int64_t a = k * b->bucket, z = a + b->bucket < b->n ? a + b->bucket : b->n;
    b->left[k] -= trainable_in(b, offset > a ? offset : a, end < z ? end : z);
  }
  /* the complete buckets from the top down, none out of order */
  while (b->next >= 0 && b->left[b->next] <= 0) {
    KZ_TRY(start(b, b->next, s));
    b->early += 1;
    b->next -= 1;
  }
  return kz_comm_progress(b->comm);
}

kz_status kz_grad_buckets_finish(kz_grad_buckets *b, kz_stream *s, kz_stream *before) {
  if (!b->armed) kz_grad_buckets_arm(b);
  kz_stream *after = b->model_stream ? b->model_stream : s;
  while (b->next >= 0) {
    KZ_TRY(start(b, b->next, after));
    b->next -= 1;
  }
  b->armed = 0;
  return kz_comm_wait_all(b->comm, before);
}
