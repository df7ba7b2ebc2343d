/* Tests of the core layer: error reporting, tensor helpers, bf16 rounding,
 * the activation arena, device parsing, CPU streams, op validation and
 * views (reshape, slice, permute). */
#include <math.h>
#include <stdlib.h>

#include "kernels/core/arena.h"
#include "kernels/core/backend.h"
#include "kernels/core/error.h"
#include "kernels/core/splitmix64.h"
#include "kernels/ops.h"
#include "tests/test_util.h"

static const kz_device cpu = {KZ_DEVICE_CPU, 0};

static void test_errors(void) {
  KZ_CHECK(kz_fail(KZ_ERR_IO, "reading %s", "x.h5") == KZ_ERR_IO);
  KZ_CHECK(!strcmp(kz_last_error(), "reading x.h5"));
  kz_fail_context(KZ_ERR_IO, "loading %s", "job.yaml");
  KZ_CHECK(!strcmp(kz_last_error(), "loading job.yaml: reading x.h5"));
  KZ_CHECK(!strcmp(kz_status_name(KZ_ERR_INVALID_ARG), "invalid-argument"));
}

static void test_bf16(void) {
  KZ_CHECK(kz_bf16_to_f32(kz_f32_to_bf16(1.0f)) == 1.0f);
  /* 1 + 2^-8 lies exactly between two bf16 values: ties go to the even one (1.0). */
  KZ_CHECK(kz_bf16_to_f32(kz_f32_to_bf16(1.0f + 0x1p-8f)) == 1.0f);
  /* 1 + 3*2^-8 ties between 1+2^-7 (odd) and 1+2^-6 (even). */
  KZ_CHECK(kz_bf16_to_f32(kz_f32_to_bf16(1.0f + 3 * 0x1p-8f)) == 1.0f + 0x1p-6f);
  KZ_CHECK(kz_bf16_to_f32(kz_f32_to_bf16(-2.5f)) == -2.5f);
  KZ_CHECK(isnan(kz_bf16_to_f32(kz_f32_to_bf16(NAN))));
  KZ_CHECK(isinf(kz_bf16_to_f32(kz_f32_to_bf16(INFINITY))));
  /* The largest float rounds up to infinity in bf16, as IEEE rounding says. */
  KZ_CHECK(isinf(kz_bf16_to_f32(kz_f32_to_bf16(3.4028235e38f))));
}

static void test_tensor(void) {
  float buf[24];
  kz_tensor t = kz_tensor_view(buf, KZ_F32, cpu, 3, (int64_t)2, (int64_t)3, (int64_t)4);
  KZ_CHECK(kz_tensor_numel(&t) == 24);
  KZ_CHECK(kz_tensor_bytes(&t) == 96);
  KZ_CHECK(kz_tensor_rows(&t) == 6 && kz_tensor_cols(&t) == 4);
  char desc[64];
  kz_tensor_describe(&t, desc, sizeof desc);
  KZ_CHECK(!strcmp(desc, "[2, 3, 4] f32 cpu"));
  kz_dtype d;
  KZ_CHECK_OK(kz_dtype_parse("bf16", &d));
  KZ_CHECK(d == KZ_BF16 && kz_dtype_size(d) == 2);
  KZ_CHECK_FAILS(kz_dtype_parse("f16", &d), KZ_ERR_INVALID_ARG, "f16");
  kz_tensor a;
  int64_t huge[2] = {INT64_MAX / 2, 16};
  KZ_CHECK_FAILS(kz_tensor_alloc(cpu, KZ_F32, 2, huge, &a), KZ_ERR_INVALID_ARG, "too large");
}

static void test_arena(void) {
  kz_arena *plan;
  KZ_CHECK_OK(kz_arena_plan(cpu, &plan));
  void *p;
  KZ_CHECK_OK(kz_arena_alloc(plan, 100, &p));
  KZ_CHECK_OK(kz_arena_alloc(plan, 300, &p));
  size_t need = kz_arena_planned_bytes(plan);
  KZ_CHECK(need == 256 + 512);
  kz_arena_destroy(plan);

  kz_arena *a;
  KZ_CHECK_OK(kz_arena_create(cpu, need, &a));
  void *x, *y;
  KZ_CHECK_OK(kz_arena_alloc(a, 100, &x));
  size_t mark = kz_arena_mark(a);
  KZ_CHECK_OK(kz_arena_alloc(a, 300, &y));
  KZ_CHECK((char *)y - (char *)x == 256 && (uintptr_t)y % KZ_ARENA_ALIGN == 0);
  KZ_CHECK_FAILS(kz_arena_alloc(a, 1, &p), KZ_ERR_OUT_OF_MEMORY, "does not fit");
  kz_arena_release(a, mark);
  void *y2;
  KZ_CHECK_OK(kz_arena_alloc(a, 300, &y2));
  KZ_CHECK(y2 == y); /* released space is handed out again */
  kz_arena_reset(a);
  KZ_CHECK(kz_arena_used(a) == 0 && kz_arena_peak(a) == need);
  int64_t shape[2] = {3, 5};
  kz_tensor t;
  KZ_CHECK_OK(kz_arena_tensor(a, KZ_F32, 2, shape, &t));
  KZ_CHECK(t.data == x && kz_tensor_numel(&t) == 15);
  kz_arena_destroy(a);
}

static void test_devices(void) {
  KZ_CHECK(kz_device_list_count() == 1 + kz_cuda_device_count());
  kz_device_info info;
  KZ_CHECK_OK(kz_device_list_get(0, &info));
  KZ_CHECK(info.device.kind == KZ_DEVICE_CPU && info.multiprocessors >= 1);
  KZ_CHECK(!strcmp(info.kernel_target, "cpu"));
  kz_device d;
  KZ_CHECK_OK(kz_device_parse("cpu", &d));
  KZ_CHECK(d.kind == KZ_DEVICE_CPU);
  KZ_CHECK_OK(kz_device_parse("auto", &d));
  KZ_CHECK(d.kind == (kz_cuda_device_count() > 0 ? KZ_DEVICE_CUDA : KZ_DEVICE_CPU));
  KZ_CHECK_FAILS(kz_device_parse("gpu", &d), KZ_ERR_INVALID_ARG, "gpu");
  KZ_CHECK_FAILS(kz_device_parse("cuda:x", &d), KZ_ERR_INVALID_ARG, "cuda:x");
  if (kz_cuda_device_count() == 0) {
    /* Absent CUDA devices are an error naming the request, never an abort. */
    kz_status st = kz_device_parse("cuda:0", &d);
    KZ_CHECK(st == KZ_ERR_NOT_FOUND || st == KZ_ERR_UNSUPPORTED);
    KZ_CHECK(strstr(kz_last_error(), "cuda:0") != NULL);
  }
  char name[16];
  kz_device_format((kz_device){KZ_DEVICE_CUDA, 3}, name, sizeof name);
  KZ_CHECK(!strcmp(name, "cuda:3"));
}

static void test_stream_and_validation(void) {
  kz_stream *s;
  KZ_CHECK_OK(kz_stream_create(cpu, &s));
  float host[6] = {1, 2, 3, 4, 5, 6}, back[6] = {0};
  int64_t shape[2] = {2, 3};
  kz_tensor a, c;
  KZ_CHECK_OK(kz_tensor_alloc(cpu, KZ_F32, 2, shape, &a));
  KZ_CHECK_OK(kz_copy_to_device(s, a.data, host, sizeof host));
  KZ_CHECK_OK(kz_copy_to_host(s, back, a.data, sizeof back));
  KZ_CHECK(!memcmp(host, back, sizeof host));

  /* Shape errors name the op, the argument and both shapes. */
  int64_t bad[2] = {4, 4};
  KZ_CHECK_OK(kz_tensor_alloc(cpu, KZ_F32, 2, bad, &c));
  KZ_CHECK_FAILS(kz_op_matmul(s, &a, &a, &c, false, false, 1, 0), KZ_ERR_INVALID_ARG,
                 "matmul: shapes do not chain");
  KZ_CHECK_FAILS(kz_op_add(s, &a, &c, &a), KZ_ERR_INVALID_ARG, "add: b [4, 4] f32 cpu");
  kz_tensor ids = kz_tensor_view(host, KZ_F32, cpu, 1, (int64_t)6);
  KZ_CHECK_FAILS(kz_op_embedding(s, &ids, &c, &a), KZ_ERR_INVALID_ARG, "ids must be i32");
  kz_tensor elsewhere = a;
  elsewhere.device = (kz_device){KZ_DEVICE_CUDA, 0};
  KZ_CHECK_FAILS(kz_op_gelu(s, &elsewhere, &a, KZ_GELU_ERF), KZ_ERR_INVALID_ARG,
                 "stream runs on cpu");
  kz_adamw_hparams hp = {.lr = -1, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .step = 1};
  KZ_CHECK_FAILS(kz_op_adamw(s, &a, &a, &a, &a, NULL, &hp), KZ_ERR_INVALID_ARG, "lr");
  kz_tensor_free(&a);
  kz_tensor_free(&c);
  kz_stream_destroy(s);

  kz_stream *none;
  if (kz_cuda_device_count() == 0) {
    kz_status st = kz_stream_create((kz_device){KZ_DEVICE_CUDA, 0}, &none);
    KZ_CHECK(st == KZ_ERR_NOT_FOUND || st == KZ_ERR_UNSUPPORTED);
  }
}

/* Views as model code uses them: [B,T,H*D] split into heads [B,H,T,D] with a
 * reshape and a permute, merged back, and one time step sliced out of a
 * time-major copy; no hand-written copy loop anywhere. */
static void test_views(void) {
  enum { B = 2, T = 3, H = 2, D = 4 };
  kz_stream *s;
  KZ_CHECK_OK(kz_stream_create(cpu, &s));
  float x[B * T * H * D], heads[B * H * T * D], back[B * T * H * D];
  for (int i = 0; i < B * T * H * D; ++i) x[i] = (float)i;
  kz_tensor xt = kz_tensor_view(x, KZ_F32, cpu, 3, (int64_t)B, (int64_t)T, (int64_t)(H * D));
  kz_tensor x4,
      ht = kz_tensor_view(heads, KZ_F32, cpu, 4, (int64_t)B, (int64_t)H, (int64_t)T, (int64_t)D);
  const int64_t split[4] = {B, T, H, D};
  KZ_CHECK_OK(kz_tensor_reshape(&xt, 4, split, &x4));
  KZ_CHECK(x4.data == x && x4.ndim == 4 && x4.shape[2] == H);
  const int bthd_to_bhtd[4] = {0, 2, 1, 3};
  KZ_CHECK_OK(kz_op_permute(s, &x4, &ht, bthd_to_bhtd));
  /* heads[b,h,t,d] == x[b,t,h*D+d] */
  bool ok = true;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int t = 0; t < T; ++t)
        for (int d = 0; d < D; ++d)
          ok &= heads[((b * H + h) * T + t) * D + d] == x[(b * T + t) * H * D + h * D + d];
  KZ_CHECK(ok);
  /* Merging is the same permutation again ([B,H,T,D] -> [B,T,H,D]); the
   * backward of the split is that merge too. */
  kz_tensor bt =
      kz_tensor_view(back, KZ_F32, cpu, 4, (int64_t)B, (int64_t)T, (int64_t)H, (int64_t)D);
  KZ_CHECK_OK(kz_op_permute(s, &ht, &bt, bthd_to_bhtd));
  KZ_CHECK(!memcmp(back, x, sizeof x));
  memset(back, 0, sizeof back);
  KZ_CHECK_OK(kz_op_permute_bwd(s, &ht, &bt, bthd_to_bhtd, false));
  KZ_CHECK(!memcmp(back, x, sizeof x));
  KZ_CHECK_OK(kz_op_permute_bwd(s, &ht, NULL, bthd_to_bhtd, false)); /* not wanted */

  /* Time-major: [B,T,C] -> [T,B,C], then step t is rows [t, t+1) of dim 0. */
  float tm[B * T * H * D];
  kz_tensor tmt = kz_tensor_view(tm, KZ_F32, cpu, 3, (int64_t)T, (int64_t)B, (int64_t)(H * D));
  const int swap01[3] = {1, 0, 2};
  KZ_CHECK_OK(kz_op_permute(s, &xt, &tmt, swap01));
  kz_tensor step;
  KZ_CHECK_OK(kz_tensor_slice(&tmt, 2, 1, &step));
  KZ_CHECK(step.shape[0] == 1 && step.shape[1] == B && (float *)step.data == tm + 2 * B * H * D);
  KZ_CHECK(((float *)step.data)[H * D] == x[(1 * T + 2) * H * D]); /* b=1, t=2, c=0 */

  /* Errors: a bad perm, a shape that is not the permuted one, overlap,
   * reshape to another element count, a slice out of range. */
  const int dup[4] = {0, 1, 1, 3};
  KZ_CHECK_FAILS(kz_op_permute(s, &x4, &ht, dup), KZ_ERR_INVALID_ARG, "not a permutation");
  KZ_CHECK_FAILS(kz_op_permute_bwd(s, &ht, &bt, dup, false), KZ_ERR_INVALID_ARG,
                 "not a permutation");
  const int ident[4] = {0, 1, 2, 3};
  KZ_CHECK_FAILS(kz_op_permute(s, &x4, &ht, ident), KZ_ERR_INVALID_ARG, "dims permuted");
  kz_tensor alias = ht;
  alias.data = x;
  KZ_CHECK_FAILS(kz_op_permute(s, &x4, &alias, bthd_to_bhtd), KZ_ERR_INVALID_ARG, "overlap");
  const int64_t wrong[2] = {5, 5};
  KZ_CHECK_FAILS(kz_tensor_reshape(&xt, 2, wrong, &x4), KZ_ERR_INVALID_ARG, "48 elements");
  KZ_CHECK_FAILS(kz_tensor_slice(&tmt, 2, 2, &step), KZ_ERR_INVALID_ARG, "out of range");
  kz_stream_destroy(s);
}

/* The transformer ops on the CPU: the fused residual_layernorm is bit for bit
 * the unfused sequence dropout, add, layernorm (same mask from the key), its
 * dh is dropout_bwd of its dx, and bad indices, spans and aliases are refused
 * with messages that say what is wrong. */
static void test_transformer_ops(void) {
  enum { R = 5, C = 37 };
  kz_stream *s;
  KZ_CHECK_OK(kz_stream_create(cpu, &s));
  static float x[R * C], h[R * C], gamma[C], beta[C], y[R * C], mean[R], rstd[R];
  static float hd[R * C], mask[R * C], sum[R * C], y2[R * C], mean2[R], rstd2[R];
  uint64_t st = 42;
  for (int i = 0; i < R * C; ++i) {
    x[i] = (float)(kz_splitmix64_unit(&st) * 4 - 2);
    h[i] = (float)(kz_splitmix64_unit(&st) * 4 - 2);
  }
  for (int c = 0; c < C; ++c) {
    gamma[c] = (float)(0.5 + kz_splitmix64_unit(&st));
    beta[c] = (float)(kz_splitmix64_unit(&st) - 0.5);
  }
  kz_tensor xt = kz_tensor_view(x, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  kz_tensor ht = kz_tensor_view(h, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  kz_tensor gt = kz_tensor_view(gamma, KZ_F32, cpu, 1, (int64_t)C);
  kz_tensor bt = kz_tensor_view(beta, KZ_F32, cpu, 1, (int64_t)C);
  kz_tensor yt = kz_tensor_view(y, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  kz_tensor mt = kz_tensor_view(mean, KZ_F32, cpu, 1, (int64_t)R);
  kz_tensor rt = kz_tensor_view(rstd, KZ_F32, cpu, 1, (int64_t)R);
  kz_tensor hdt = kz_tensor_view(hd, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  kz_tensor maskt = kz_tensor_view(mask, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  kz_tensor sumt = kz_tensor_view(sum, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  kz_tensor y2t = kz_tensor_view(y2, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  kz_tensor m2t = kz_tensor_view(mean2, KZ_F32, cpu, 1, (int64_t)R);
  kz_tensor r2t = kz_tensor_view(rstd2, KZ_F32, cpu, 1, (int64_t)R);
  const uint64_t key = 0x1234abcdULL;
  for (int k = 0; k < 2; ++k) {
    const double p = k ? 0.3 : 0.0;
    KZ_CHECK_OK(kz_op_residual_layernorm(s, &xt, &ht, &gt, &bt, &yt, &mt, &rt, p, key, 1e-5f));
    KZ_CHECK_OK(kz_op_dropout(s, &ht, &hdt, &maskt, p, key));
    KZ_CHECK_OK(kz_op_add(s, &xt, &hdt, &sumt));
    KZ_CHECK_OK(kz_op_layernorm(s, &sumt, &gt, &bt, &y2t, &m2t, &r2t, 1e-5f));
    KZ_CHECK(!memcmp(y, y2, sizeof y) && !memcmp(mean, mean2, sizeof mean) &&
             !memcmp(rstd, rstd2, sizeof rstd));
  }
  /* Backward from y (p = 0.3 still in force): dh is exactly dropout_bwd(dx). */
  static float dy[R * C], dx[R * C], dh[R * C], dh2[R * C];
  for (int i = 0; i < R * C; ++i) dy[i] = (float)(kz_splitmix64_unit(&st) - 0.5);
  kz_tensor dyt = kz_tensor_view(dy, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  kz_tensor dxt = kz_tensor_view(dx, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  kz_tensor dht = kz_tensor_view(dh, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  kz_tensor dh2t = kz_tensor_view(dh2, KZ_F32, cpu, 2, (int64_t)R, (int64_t)C);
  KZ_CHECK_OK(kz_op_residual_layernorm_bwd(s, &dyt, &yt, NULL, &gt, &bt, NULL, &rt, &dxt, &dht,
                                           NULL, NULL, 0.3, key, 1e-5f, false));
  KZ_CHECK_OK(kz_op_dropout_bwd(s, &dxt, &maskt, &dh2t, false));
  KZ_CHECK(!memcmp(dh, dh2, sizeof dh));

  /* Refusals: a missing saved input, overlaps, p out of range. */
  KZ_CHECK_FAILS(kz_op_residual_layernorm_bwd(s, &dyt, NULL, NULL, &gt, &bt, NULL, &rt, &dxt, NULL,
                                              NULL, NULL, 0.1, key, 1e-5f, false),
                 KZ_ERR_INVALID_ARG, "y (or the saved sum r) is missing");
  gamma[3] = 0.0f;
  KZ_CHECK_FAILS(kz_op_residual_layernorm_bwd(s, &dyt, &yt, NULL, &gt, &bt, NULL, &rt, &dxt, NULL,
                                              NULL, NULL, 0.1, key, 1e-5f, false),
                 KZ_ERR_INVALID_ARG, "gamma[3] is 0");
  gamma[3] = 1.0f;
  KZ_CHECK_FAILS(
      kz_op_residual_layernorm_r(s, &xt, &ht, &gt, &bt, &yt, &yt, NULL, NULL, 0.1, key, 1e-5f),
      KZ_ERR_INVALID_ARG, "must not overlap");
  kz_tensor shifted = kz_tensor_view(x + 1, KZ_F32, cpu, 2, (int64_t)R - 1, (int64_t)C);
  kz_tensor xs = kz_tensor_view(x, KZ_F32, cpu, 2, (int64_t)R - 1, (int64_t)C);
  kz_tensor hs = kz_tensor_view(h, KZ_F32, cpu, 2, (int64_t)R - 1, (int64_t)C);
  KZ_CHECK_FAILS(
      kz_op_residual_layernorm(s, &xs, &hs, &gt, &bt, &shifted, NULL, NULL, 0.1, key, 1e-5f),
      KZ_ERR_INVALID_ARG, "partly overlaps");
  KZ_CHECK_FAILS(kz_op_residual_layernorm(s, &xt, &ht, &gt, &bt, &yt, NULL, NULL, 1.0, key, 1e-5f),
                 KZ_ERR_INVALID_ARG, "dropout p = 1");
  /* In place (y = x) gives the out-of-place result. */
  KZ_CHECK_OK(kz_op_residual_layernorm(s, &xt, &ht, &gt, &bt, &y2t, NULL, NULL, 0.3, key, 1e-5f));
  KZ_CHECK_OK(kz_op_residual_layernorm(s, &xt, &ht, &gt, &bt, &xt, NULL, NULL, 0.3, key, 1e-5f));
  KZ_CHECK(!memcmp(x, y2, sizeof x));

  /* gather_rows: an index past N is refused before anything is written. */
  int32_t idx[3] = {2, 5, 0};
  float out[3 * C];
  memset(out, 0, sizeof out);
  kz_tensor it = kz_tensor_view(idx, KZ_I32, cpu, 1, (int64_t)3);
  kz_tensor ot = kz_tensor_view(out, KZ_F32, cpu, 2, (int64_t)3, (int64_t)C);
  KZ_CHECK_FAILS(kz_op_gather_rows(s, &xt, &it, &ot), KZ_ERR_INVALID_ARG,
                 "gather_rows: index 5 at position 1 is outside [0, 5)");
  KZ_CHECK(out[0] == 0.0f);
  idx[1] = 4;
  KZ_CHECK_OK(kz_op_gather_rows(s, &xt, &it, &ot));
  KZ_CHECK(out[C] == x[4 * C] && out[2 * C + 3] == x[3]);
  /* x as [B, T, D]: rows are numbered b*T + t. */
  kz_tensor x3 = kz_tensor_view(x, KZ_F32, cpu, 3, (int64_t)1, (int64_t)R, (int64_t)C);
  memset(out, 0, sizeof out);
  KZ_CHECK_OK(kz_op_gather_rows(s, &x3, &it, &ot));
  KZ_CHECK(out[C] == x[4 * C] && out[2 * C + 3] == x[3]);

  /* qa_span_loss: a target at the length, a length past T. */
  float logits[2 * 4 * 2] = {0}, losses[2];
  int32_t lengths[2] = {4, 2}, starts[2] = {0, 2}, ends[2] = {3, 1};
  kz_tensor lt = kz_tensor_view(logits, KZ_F32, cpu, 2, (int64_t)8, (int64_t)2);
  kz_tensor lent = kz_tensor_view(lengths, KZ_I32, cpu, 1, (int64_t)2);
  kz_tensor stt = kz_tensor_view(starts, KZ_I32, cpu, 1, (int64_t)2);
  kz_tensor ent = kz_tensor_view(ends, KZ_I32, cpu, 1, (int64_t)2);
  kz_tensor lost = kz_tensor_view(losses, KZ_F32, cpu, 1, (int64_t)2);
  KZ_CHECK_FAILS(kz_op_qa_span_loss(s, &lt, &lent, &stt, &ent, &lost), KZ_ERR_INVALID_ARG,
                 "start position 2 of sequence 1 is outside its length 2");
  starts[1] = 1;
  lengths[0] = 5;
  KZ_CHECK_FAILS(kz_op_qa_span_loss(s, &lt, &lent, &stt, &ent, &lost), KZ_ERR_INVALID_ARG,
                 "length 5 of sequence 0 is outside [1, 4]");
  /* Equal logits: each CE is log(length), masked positions do not count. */
  lengths[0] = 4;
  KZ_CHECK_OK(kz_op_qa_span_loss(s, &lt, &lent, &stt, &ent, &lost));
  KZ_CHECK(fabsf(losses[0] - logf(4.0f)) < 1e-6f && fabsf(losses[1] - logf(2.0f)) < 1e-6f);
  kz_stream_destroy(s);
}

/* Stream a fills a buffer and records; stream b waits, then reads it back.
 * On a GPU the wait is what orders the two streams; on the CPU they run in
 * program order and the API must still accept and check the calls. */
static void test_events_on(kz_device dev) {
  enum { N = 1 << 22 };
  kz_stream *a, *b;
  KZ_CHECK_OK(kz_stream_create(dev, &a));
  KZ_CHECK_OK(kz_stream_create(dev, &b));
  kz_event *start, *done;
  KZ_CHECK_OK(kz_event_create(dev, &start));
  KZ_CHECK_OK(kz_event_create(dev, &done));
  KZ_CHECK_FAILS(kz_stream_wait_event(b, done), KZ_ERR_INVALID_ARG, "never recorded");
  void *buf;
  KZ_CHECK_OK(kz_device_alloc(dev, N, &buf));
  unsigned char *host = malloc(N);
  KZ_CHECK_OK(kz_event_record(a, start));
  KZ_CHECK_OK(kz_fill_bytes(a, buf, 0x3c, N));
  KZ_CHECK_OK(kz_event_record(a, done));
  KZ_CHECK_OK(kz_stream_wait_event(b, done));
  KZ_CHECK_OK(kz_copy_to_host(b, host, buf, N));
  KZ_CHECK_OK(kz_stream_sync(b));
  int64_t wrong = 0;
  for (int i = 0; i < N; ++i) wrong += host[i] != 0x3c;
  KZ_CHECK(wrong == 0);
  float ms = -1;
  KZ_CHECK_OK(kz_event_elapsed_ms(start, done, &ms));
  KZ_CHECK(ms >= 0 && ms < 60e3);
  kz_event *fresh;
  KZ_CHECK_OK(kz_event_create(dev, &fresh));
  KZ_CHECK_FAILS(kz_event_elapsed_ms(start, fresh, &ms), KZ_ERR_INVALID_ARG, "never recorded");
  kz_event_destroy(fresh);
  free(host);
  kz_device_free(dev, buf);
  kz_event_destroy(start);
  kz_event_destroy(done);
  kz_stream_destroy(a);
  kz_stream_destroy(b);
}

static void test_events(void) {
  test_events_on(cpu);
  if (kz_cuda_device_count() > 0) test_events_on((kz_device){KZ_DEVICE_CUDA, 0});
  kz_event *e;
  KZ_CHECK_FAILS(kz_event_create((kz_device){KZ_DEVICE_CPU, 1}, &e), KZ_ERR_NOT_FOUND,
                 "no such device");
}

int main(void) {
  test_errors();
  test_bf16();
  test_tensor();
  test_arena();
  test_devices();
  test_stream_and_validation();
  test_views();
  test_transformer_ops();
  test_events();
  return KZ_TEST_RESULT();
}
