/* The communicators (engine/dist/comm.h) for real, one process per rank:
 *   test_comm            every collective on host buffers in the world this
 *                        process was started in (a world of one alone, MPI's
 *                        under mpirun), values checked against what each rank
 *                        contributed;
 *   test_comm rendezvous SPEC [TIMEOUT_S]
 *                        rank 0's blob reaches every rank through a file or
 *                        TCP rendezvous (KZ_RANK / KZ_WORLD_SIZE set by
 *                        tests/dist_comm.sh); prints it;
 *   test_comm nccl       a NCCL communicator of one rank on GPU 0: all-reduce,
 *                        reduce-scatter, all-gather and broadcast on device
 *                        buffers (77 without a GPU or without NCCL). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dist/comm.h"
#include "engine/dist/grad_buckets.h"
#include "engine/dist/launch.h"
#include "engine/dist/rendezvous.h"
#include "tests/test_util.h"

#ifdef KZ_WITH_CUDA
#include <cuda_runtime.h>
#endif

static int host_collectives(void) {
  KZ_CHECK_OK(kz_dist_init(NULL));
  kz_comm *c = kz_dist_world();
  KZ_CHECK(c != NULL);
  if (!c) return KZ_TEST_RESULT();
  const int r = kz_comm_rank(c), w = kz_comm_size(c);
  /* all-reduce: rank r contributes r + 1 + i */
  enum { N = 1000 };
  double d[N];
  float f[N];
  int64_t q[N];
  for (int i = 0; i < N; ++i) d[i] = r + 1 + i, f[i] = (float)(r + 1 + i), q[i] = r * 1000 + i;
  KZ_CHECK_OK(kz_comm_allreduce(c, d, N, KZ_COMM_F64, KZ_COMM_SUM));
  KZ_CHECK_OK(kz_comm_allreduce(c, f, N, KZ_COMM_F32, KZ_COMM_AVG));
  KZ_CHECK_OK(kz_comm_allreduce(c, q, N, KZ_COMM_I64, KZ_COMM_MAX));
  const double tri = (double)w * (w + 1) / 2; /* sum of r + 1 over ranks */
  int bad = 0;
  for (int i = 0; i < N; ++i) {
    bad += d[i] != tri + (double)w * i;
    bad += f[i] != (float)(tri / w + i);
    bad += q[i] != (int64_t)(w - 1) * 1000 + i;
  }
  KZ_CHECK(bad == 0);
  /* reduce-scatter: block b of rank r holds b * 10 + r */
  float *send = malloc(sizeof(float) * 4 * (size_t)w), recv[4];
  for (int b = 0; b < w; ++b)
    for (int i = 0; i < 4; ++i) send[b * 4 + i] = (float)(b * 10 + r + i);
  KZ_CHECK_OK(kz_comm_reduce_scatter(c, send, recv, 4, KZ_COMM_F32, KZ_COMM_SUM));
  for (int i = 0; i < 4; ++i) KZ_CHECK(recv[i] == (float)(w * (r * 10 + i)) + (float)(tri - w));
  /* all-gather: rank r sends r, r, r */
  int64_t mine[3] = {r, r, r}, *all = malloc(sizeof(int64_t) * 3 * (size_t)w);
  KZ_CHECK_OK(kz_comm_allgather(c, mine, all, 3, KZ_COMM_I64));
  for (int b = 0; b < w; ++b) KZ_CHECK(all[b * 3] == b && all[b * 3 + 2] == b);
  /* all-gatherv: rank r sends r + 1 bytes of value r */
  size_t *counts = malloc(sizeof(size_t) * (size_t)w), total = 0;
  for (int b = 0; b < w; ++b) counts[b] = (size_t)b + 1, total += (size_t)b + 1;
  uint8_t vs[64], *vr = malloc(total);
  memset(vs, r, sizeof vs);
  KZ_CHECK_OK(kz_comm_allgatherv(c, vs, vr, counts, KZ_COMM_U8));
  for (int b = 0, o = 0; b < w; o += b + 1, ++b) KZ_CHECK(vr[o] == b && vr[o + b] == b);
  /* broadcast from the last rank */
  double x[2] = {r == w - 1 ? 42.5 : -1, r == w - 1 ? -7 : -1};
  KZ_CHECK_OK(kz_comm_broadcast(c, x, 2, KZ_COMM_F64, w - 1));
  KZ_CHECK(x[0] == 42.5 && x[1] == -7);
  KZ_CHECK_FAILS(kz_comm_broadcast(c, x, 2, KZ_COMM_F64, w), KZ_ERR_INVALID_ARG, "root");
  KZ_CHECK_FAILS(kz_comm_allreduce(c, q, 1, KZ_COMM_I64, KZ_COMM_AVG), KZ_ERR_INVALID_ARG,
                 "integer");
  /* non-blocking all-reduce (gradient buckets): three started, driven
   * on, completed together; rank r contributes r + 1 + i */
  float *g = malloc(sizeof(float) * 3 * N);
  for (int i = 0; i < 3 * N; ++i) g[i] = (float)(r + 1 + i % N);
  KZ_CHECK_OK(kz_comm_iallreduce(c, g + 2 * N, N, KZ_COMM_F32, KZ_COMM_SUM, NULL));
  KZ_CHECK_OK(kz_comm_progress(c));
  KZ_CHECK_OK(kz_comm_iallreduce(c, g + N, N, KZ_COMM_F32, KZ_COMM_AVG, NULL));
  KZ_CHECK_OK(kz_comm_iallreduce(c, g, N - 1, KZ_COMM_F32, KZ_COMM_SUM, NULL));
  KZ_CHECK_OK(kz_comm_wait_all(c, NULL));
  bad = 0;
  for (int i = 0; i < N; ++i) {
    bad += g[2 * N + i] != (float)(tri + (double)w * i);
    bad += g[N + i] != (float)(tri / w + i);
    bad += g[i] != (i < N - 1 ? (float)(tri + (double)w * i) : (float)(r + 1 + i));
  }
  KZ_CHECK(bad == 0);
  KZ_CHECK_OK(kz_comm_wait_all(c, NULL)); /* nothing started: nothing to wait for */
  free(g);
  /* gradient buckets: 10 floats in buckets of 3 ([0,3) [3,6) [6,9) [9,10)),
   * floats 4 and 5 frozen; buckets start from the last down, a complete one
   * waiting for those above it */
  float gb[10];
  for (int i = 0; i < 10; ++i) gb[i] = (float)(r + 1);
  kz_grad_buckets b;
  const kz_param_range tr[2] = {{0, 4}, {6, 4}};
  KZ_CHECK_OK(kz_grad_buckets_init(&b, c, gb, 10, 3, tr, 2));
  kz_grad_buckets_arm(&b);
  KZ_CHECK_OK(kz_grad_buckets_ready(&b, NULL, 3, 1)); /* bucket 1 complete (4, 5 frozen) */
  KZ_CHECK(b.early == 0 && b.next == 3);              /* bucket 3 not yet */
  KZ_CHECK_OK(kz_grad_buckets_ready(&b, NULL, 9, 1)); /* bucket 3 starts */
  KZ_CHECK(b.early == 1 && b.next == 2);
  KZ_CHECK_OK(kz_grad_buckets_ready(&b, NULL, 6, 2)); /* bucket 2 not complete */
  KZ_CHECK(b.early == 1 && b.next == 2);
  KZ_CHECK_OK(kz_grad_buckets_ready(&b, NULL, 8, 1)); /* bucket 2, then 1 */
  KZ_CHECK(b.early == 3 && b.next == 0);
  KZ_CHECK_OK(kz_grad_buckets_finish(&b, NULL, NULL)); /* bucket 0 after the backward */
  KZ_CHECK(b.early == 3 && b.started == 4);
  for (int i = 0; i < 10; ++i) KZ_CHECK(gb[i] == (float)tri);
  kz_grad_buckets_free(&b);
  KZ_CHECK_OK(kz_comm_barrier(c));
  printf("rank %d of %d (%s): collectives ok\n", r, w, kz_comm_kind(c));
  free(send), free(all), free(counts), free(vr);
  int rc = KZ_TEST_RESULT();
  kz_dist_finalize();
  return rc;
}

static int rendezvous(const char *spec, double timeout_s) {
  kz_dist_env e;
  KZ_CHECK_OK(kz_dist_env_detect(&e));
  char blob[32] = "";
  if (e.rank == 0) snprintf(blob, sizeof blob, "id-from-rank-0:%d", e.size);
  kz_status st = kz_rendezvous_share(strcmp(spec, "env") ? spec : NULL, e.rank, e.size, blob,
                                     sizeof blob, timeout_s);
  if (st != KZ_OK) {
    fprintf(stderr, "rank %d: %s\n", e.rank, kz_last_error());
    return 1;
  }
  printf("rank %d got %s\n", e.rank, blob);
  return 0;
}

static int nccl_one(void) {
#if defined(KZ_WITH_CUDA)
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
    printf("skipped: no GPU\n");
    return 77;
  }
  kz_comm *c = NULL;
  kz_status st = kz_comm_nccl_create(NULL, NULL, 0, 1, 0, &c);
  if (st == KZ_ERR_UNSUPPORTED) {
    printf("skipped: %s\n", kz_last_error());
    return 77;
  }
  KZ_CHECK_OK(st);
  if (!c) return KZ_TEST_RESULT();
  enum { N = 1 << 20 };
  float *h = malloc(sizeof(float) * N), *d = NULL, *d2 = NULL;
  for (int i = 0; i < N; ++i) h[i] = (float)(i % 977) * 0.5f;
  KZ_CHECK(cudaMalloc((void **)&d, sizeof(float) * N) == cudaSuccess);
  KZ_CHECK(cudaMalloc((void **)&d2, sizeof(float) * N) == cudaSuccess);
  cudaMemcpy(d, h, sizeof(float) * N, cudaMemcpyHostToDevice);
  KZ_CHECK_OK(kz_comm_allreduce(c, d, N, KZ_COMM_F32, KZ_COMM_SUM));
  KZ_CHECK_OK(kz_comm_allreduce(c, d, N, KZ_COMM_F32, KZ_COMM_AVG));
  KZ_CHECK_OK(kz_comm_reduce_scatter(c, d, d2, N, KZ_COMM_F32, KZ_COMM_SUM));
  KZ_CHECK_OK(kz_comm_allgather(c, d2, d, N, KZ_COMM_F32));
  KZ_CHECK_OK(kz_comm_broadcast(c, d, N, KZ_COMM_F32, 0));
  KZ_CHECK_OK(kz_comm_barrier(c));
  float *back = malloc(sizeof(float) * N);
  cudaMemcpy(back, d, sizeof(float) * N, cudaMemcpyDeviceToHost);
  int bad = 0;
  for (int i = 0; i < N; ++i) bad += back[i] != h[i];
  KZ_CHECK(bad == 0);
  /* the non-blocking all-reduce between streams: the buffer is written on
   * stream s, reduced on the communicator's stream after it (an event),
   * read back on s after the wait (another event) */
  kz_stream *s = NULL;
  KZ_CHECK_OK(kz_stream_create((kz_device){KZ_DEVICE_CUDA, 0}, &s));
  if (s) {
    KZ_CHECK_OK(kz_copy_to_device(s, d2, h, sizeof(float) * N));
    KZ_CHECK_OK(kz_comm_iallreduce(c, d2, N / 2, KZ_COMM_F32, KZ_COMM_SUM, s));
    KZ_CHECK_OK(kz_comm_iallreduce(c, d2 + N / 2, N / 2, KZ_COMM_F32, KZ_COMM_AVG, s));
    KZ_CHECK_OK(kz_comm_wait_all(c, s));
    KZ_CHECK_OK(kz_copy_to_host(s, back, d2, sizeof(float) * N));
    KZ_CHECK_OK(kz_stream_sync(s));
    for (int i = 0; i < N; ++i) bad += back[i] != h[i];
    KZ_CHECK(bad == 0);
    kz_stream_destroy(s);
  }
  printf("nccl world of 1 on GPU 0: collectives ok (%d mismatches)\n", bad);
  cudaFree(d), cudaFree(d2), free(h), free(back);
  kz_comm_destroy(c);
  return KZ_TEST_RESULT();
#else
  kz_comm *c = NULL;
  KZ_CHECK_FAILS(kz_comm_nccl_create(NULL, NULL, 0, 1, 0, &c), KZ_ERR_UNSUPPORTED, "without");
  printf("skipped: built without CUDA\n");
  return kz_test_failures ? 1 : 77;
#endif
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "rendezvous"))
    return rendezvous(argv[2], argc >= 4 ? atof(argv[3]) : 30);
  if (argc >= 2 && !strcmp(argv[1], "nccl")) return nccl_one();
  return host_collectives();
}
