/* The attention wrappers' validation (kernels/ops_attention.c): every bad
 * argument is refused with a message naming the op and the argument, before
 * any backend runs; the "not wanted" and empty cases return at once. */
#include <math.h>
#include <stdlib.h>

#include "kernels/ops.h"
#include "tests/test_util.h"

static const kz_device cpu = {KZ_DEVICE_CPU, 0};

static kz_tensor make(kz_dtype dtype, int64_t rows, int64_t cols, void *data) {
  return kz_tensor_view(data, dtype, cpu, 2, rows, cols);
}

int main(void) {
  kz_stream *s = NULL;
  KZ_CHECK_OK(kz_stream_create(cpu, &s));
  if (!s) return 1;
  /* B 2, T 3, H 2, D 4: qkv [6, 24], o [6, 8], lse [12]. */
  float *mem = calloc(4096, sizeof(float));
  int32_t len[2] = {3, 1};
  kz_tensor qkv = make(KZ_F32, 6, 24, mem), o = make(KZ_F32, 6, 8, mem + 200);
  kz_tensor lse = kz_tensor_view(mem + 300, KZ_F32, cpu, 1, (int64_t)12);
  kz_tensor dout = make(KZ_F32, 6, 8, mem + 400), dqkv = make(KZ_F32, 6, 24, mem + 500);
  kz_tensor lengths = kz_tensor_view(len, KZ_I32, cpu, 1, (int64_t)2);
  kz_attn_opts a = {2, 2, 0.5f, false, 0.0, 7};

  KZ_CHECK_OK(kz_op_attention(s, &qkv, &o, &lse, &lengths, &a));
  KZ_CHECK_OK(kz_op_attention(s, &qkv, &o, NULL, NULL, &a));
  KZ_CHECK_OK(kz_op_attention_bwd(s, &qkv, &o, &dout, &lse, &lengths, &dqkv, &a, false));
  KZ_CHECK_OK(kz_op_attention_bwd(s, &qkv, &o, &dout, &lse, NULL, NULL, &a, true));

  KZ_CHECK_FAILS(kz_op_attention(s, &qkv, &o, &lse, NULL, NULL), KZ_ERR_INVALID_ARG,
                 "attention: options");
  kz_attn_opts bad = a;
  bad.heads = 0;
  KZ_CHECK_FAILS(kz_op_attention(s, &qkv, &o, &lse, NULL, &bad), KZ_ERR_INVALID_ARG, "heads 0");
  bad = a;
  bad.heads = 5; /* 24 columns are not 3 * 5 * D */
  KZ_CHECK_FAILS(kz_op_attention(s, &qkv, &o, &lse, NULL, &bad), KZ_ERR_INVALID_ARG,
                 "attention: qkv");
  bad = a;
  bad.batch = 4; /* 6 rows */
  KZ_CHECK_FAILS(kz_op_attention(s, &qkv, &o, &lse, NULL, &bad), KZ_ERR_INVALID_ARG,
                 "not a multiple of batch 4");
  bad = a;
  bad.dropout_p = 1.0;
  KZ_CHECK_FAILS(kz_op_attention(s, &qkv, &o, &lse, NULL, &bad), KZ_ERR_INVALID_ARG,
                 "dropout_p = 1");
  bad = a;
  bad.scale = INFINITY;
  KZ_CHECK_FAILS(kz_op_attention(s, &qkv, &o, &lse, NULL, &bad), KZ_ERR_INVALID_ARG,
                 "scale must be finite");

  kz_tensor o_wide = make(KZ_F32, 6, 24, mem + 200);
  KZ_CHECK_FAILS(kz_op_attention(s, &qkv, &o_wide, &lse, NULL, &a), KZ_ERR_INVALID_ARG,
                 "attention: o");
  kz_tensor lse_short = kz_tensor_view(mem + 300, KZ_F32, cpu, 1, (int64_t)6);
  KZ_CHECK_FAILS(kz_op_attention(s, &qkv, &o, &lse_short, NULL, &a), KZ_ERR_INVALID_ARG,
                 "attention: lse");
  kz_tensor len_f = kz_tensor_view(mem + 900, KZ_F32, cpu, 1, (int64_t)2);
  KZ_CHECK_FAILS(kz_op_attention(s, &qkv, &o, &lse, &len_f, &a), KZ_ERR_INVALID_ARG,
                 "attention: lengths must be i32");
  kz_tensor len_3 = kz_tensor_view(len, KZ_I32, cpu, 1, (int64_t)1);
  KZ_CHECK_FAILS(kz_op_attention(s, &qkv, &o, &lse, &len_3, &a), KZ_ERR_INVALID_ARG,
                 "one per batch row");
  kz_tensor qkv_bf = make(KZ_BF16, 6, 24, mem);
  KZ_CHECK_FAILS(kz_op_attention(s, &qkv_bf, &o, &lse, NULL, &a), KZ_ERR_INVALID_ARG,
                 "attention: qkv must be f32");

  KZ_CHECK_FAILS(kz_op_attention_bwd(s, &qkv, &o, &dout, NULL, NULL, &dqkv, &a, false),
                 KZ_ERR_INVALID_ARG, "attention_bwd: lse is missing");
  KZ_CHECK_FAILS(kz_op_attention_bwd(s, &qkv, &o, &qkv, &lse, NULL, &dqkv, &a, false),
                 KZ_ERR_INVALID_ARG, "attention_bwd: dout");
  KZ_CHECK_FAILS(kz_op_attention_bwd(s, &qkv, &o, &dout, &lse, NULL, &o, &a, false),
                 KZ_ERR_INVALID_ARG, "attention_bwd: dqkv");

  /* Separate tensors: k must match q; each gradient is checked on its own. */
  kz_tensor q = make(KZ_F32, 6, 8, mem + 1000), k = make(KZ_F32, 6, 8, mem + 1100);
  kz_tensor v = make(KZ_F32, 6, 8, mem + 1200), k_bad = make(KZ_F32, 3, 8, mem + 1100);
  kz_tensor dq = make(KZ_F32, 6, 8, mem + 1300), dv_bad = make(KZ_F32, 6, 4, mem + 1400);
  KZ_CHECK_OK(kz_op_attention_sep(s, &q, &k, &v, &o, &lse, &lengths, &a));
  KZ_CHECK_FAILS(kz_op_attention_sep(s, &q, &k_bad, &v, &o, &lse, NULL, &a), KZ_ERR_INVALID_ARG,
                 "attention: k");
  KZ_CHECK_OK(
      kz_op_attention_sep_bwd(s, &q, &k, &v, &o, &dout, &lse, NULL, &dq, NULL, NULL, &a, false));
  KZ_CHECK_FAILS(
      kz_op_attention_sep_bwd(s, &q, &k, &v, &o, &dout, &lse, NULL, &dq, NULL, &dv_bad, &a, false),
      KZ_ERR_INVALID_ARG, "attention_bwd: dv");

  free(mem);
  kz_stream_destroy(s);
  return KZ_TEST_RESULT();
}
