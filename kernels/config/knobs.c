/* The built-in knob table: what every kernel tunable is called in YAML, which
 * values are legal, and the default per target.
 *
 * Entries are indexed by their kz_knob (designated initialisers), so the
 * table cannot drift out of enum order; tests/test_kernel_config.c checks
 * that def[i].id == i as well, which catches a wrong .id field.
 *
 * Every knob has a default for every target, including the targets it does
 * not apply to (a CPU knob under sm_90): the live table is a dense
 * [target][knob] array and those cells are simply never read. They repeat the
 * real default so that every cell of the table is a legal value. */
#include <limits.h>
#include <string.h>

#include "kernels/config/kernel_config.h"
#include "kernels/core/error.h"

/* Defaults that are the same on every target. */
#define KZ_SAME(v)                                                                                 \
  { v, v, v }

static const kz_knob_def knob_defs[KZ_KNOB_COUNT] = {
    /* ---- CPU --------------------------------------------------------- */
    [KZ_KNOB_CPU_MATMUL_IMPL] =
        {
            .id = KZ_KNOB_CPU_MATMUL_IMPL,
            .cuda = false,
            .op = "matmul",
            .name = "impl",
            .kind = KZ_KNOB_CHOICE,
            .min = 0,
            .max = 1,
            .multiple_of = 1,
            .choices = {"blas", "tiled", NULL},
            .defaults = KZ_SAME(0),
            .doc = "GEMM implementation: blas (OpenBLAS sgemm) or tiled (hand-written, OpenMP)",
        },
    [KZ_KNOB_CPU_MATMUL_TILE] =
        {
            .id = KZ_KNOB_CPU_MATMUL_TILE,
            .cuda = false,
            .op = "matmul",
            .name = "tile",
            .kind = KZ_KNOB_INT,
            .min = 16,
            .max = 256,
            .multiple_of = 8,
            .defaults = KZ_SAME(64),
            .doc = "tile edge of the hand-written GEMM (used when impl is tiled)",
        },
    [KZ_KNOB_CPU_ELEMENTWISE_GRAIN] =
        {
            .id = KZ_KNOB_CPU_ELEMENTWISE_GRAIN,
            .cuda = false,
            .op = "elementwise",
            .name = "grain",
            .kind = KZ_KNOB_INT,
            .min = 256,
            .max = INT_MAX,
            .multiple_of = 1,
            .defaults = KZ_SAME(16384),
            .doc = "elements per OpenMP task in elementwise ops (gelu, add, bias, casts, adamw)",
        },
    [KZ_KNOB_CPU_ROWWISE_GRAIN] =
        {
            .id = KZ_KNOB_CPU_ROWWISE_GRAIN,
            .cuda = false,
            .op = "rowwise",
            .name = "grain",
            .kind = KZ_KNOB_INT,
            .min = 1,
            .max = INT_MAX,
            .multiple_of = 1,
            .defaults = KZ_SAME(8),
            .doc = "rows per OpenMP task in row-wise ops (layernorm, softmax, cross entropy, "
                   "embedding)",
        },
    /* ---- CUDA -------------------------------------------------------- */
    [KZ_KNOB_CUDA_MATMUL_IMPL] =
        {
            .id = KZ_KNOB_CUDA_MATMUL_IMPL,
            .cuda = true,
            .op = "matmul",
            .name = "impl",
            .kind = KZ_KNOB_CHOICE,
            .min = 0,
            .max = 1,
            .multiple_of = 1,
            .choices = {"cublas", "tiled", NULL},
            .defaults = KZ_SAME(0),
            .doc = "GEMM implementation: cublas or tiled (hand-written shared-memory kernel)",
        },
    [KZ_KNOB_CUDA_MATMUL_TILE] =
        {
            .id = KZ_KNOB_CUDA_MATMUL_TILE,
            .cuda = true,
            .op = "matmul",
            .name = "tile",
            .kind = KZ_KNOB_INT,
            .min = 16,
            .max = 32,
            .multiple_of = 1,
            .power_of_two = true,
            .defaults = KZ_SAME(32),
            .doc = "tile edge of the hand-written GEMM: 16 or 32 (used when impl is tiled)",
        },
    [KZ_KNOB_CUDA_ELEMENTWISE_BLOCK] =
        {
            .id = KZ_KNOB_CUDA_ELEMENTWISE_BLOCK,
            .cuda = true,
            .op = "elementwise",
            .name = "block",
            .kind = KZ_KNOB_INT,
            .min = 32,
            .max = 1024,
            .multiple_of = 32,
            .defaults = KZ_SAME(256),
            .doc = "threads per block of elementwise kernels",
        },
    [KZ_KNOB_CUDA_ELEMENTWISE_VEC] =
        {
            .id = KZ_KNOB_CUDA_ELEMENTWISE_VEC,
            .cuda = true,
            .op = "elementwise",
            .name = "vec",
            .kind = KZ_KNOB_INT,
            .min = 1,
            .max = 4,
            .multiple_of = 1,
            .power_of_two = true,
            .defaults = KZ_SAME(4),
            .doc = "elements per thread per load (1, 2 or 4; 4 is one 128-bit load)",
        },
    [KZ_KNOB_CUDA_LAYERNORM_BLOCK] =
        {
            .id = KZ_KNOB_CUDA_LAYERNORM_BLOCK,
            .cuda = true,
            .op = "layernorm",
            .name = "block",
            .kind = KZ_KNOB_INT,
            .min = 32,
            .max = 1024,
            .multiple_of = 32,
            /* Hopper's larger register file keeps 256 threads per row
             * resident without spilling; Ampere does better with 128. */
            .defaults = {256, 128, 256},
            .doc = "threads per block of the layernorm kernels",
        },
    [KZ_KNOB_CUDA_LAYERNORM_BWD_ROWS] =
        {
            .id = KZ_KNOB_CUDA_LAYERNORM_BWD_ROWS,
            .cuda = true,
            .op = "layernorm",
            .name = "bwd_rows",
            .kind = KZ_KNOB_INT,
            .min = 1,
            .max = 1024,
            .multiple_of = 1,
            .defaults = KZ_SAME(64),
            .doc = "rows per block in the dgamma/dbeta reduction of layernorm backward",
        },
    [KZ_KNOB_CUDA_SOFTMAX_BLOCK] =
        {
            .id = KZ_KNOB_CUDA_SOFTMAX_BLOCK,
            .cuda = true,
            .op = "softmax",
            .name = "block",
            .kind = KZ_KNOB_INT,
            .min = 32,
            .max = 1024,
            .multiple_of = 32,
            .defaults = KZ_SAME(256),
            .doc = "threads per block of the attention softmax kernels",
        },
    [KZ_KNOB_CUDA_XENT_BLOCK] =
        {
            .id = KZ_KNOB_CUDA_XENT_BLOCK,
            .cuda = true,
            .op = "cross_entropy",
            .name = "block",
            .kind = KZ_KNOB_INT,
            .min = 32,
            .max = 1024,
            .multiple_of = 32,
            .defaults = KZ_SAME(256),
            .doc = "threads per block of the cross-entropy kernels",
        },
    [KZ_KNOB_CUDA_EMBEDDING_BLOCK] =
        {
            .id = KZ_KNOB_CUDA_EMBEDDING_BLOCK,
            .cuda = true,
            .op = "embedding",
            .name = "block",
            .kind = KZ_KNOB_INT,
            .min = 32,
            .max = 1024,
            .multiple_of = 32,
            .defaults = KZ_SAME(128),
            .doc = "threads per block of the embedding kernels",
        },
    [KZ_KNOB_CUDA_BIAS_BWD_ROWS] =
        {
            .id = KZ_KNOB_CUDA_BIAS_BWD_ROWS,
            .cuda = true,
            .op = "bias_add",
            .name = "bwd_rows",
            .kind = KZ_KNOB_INT,
            .min = 1,
            .max = 4096,
            .multiple_of = 1,
            .defaults = KZ_SAME(128),
            .doc = "rows reduced per block in bias_add backward (dbias)",
        },
    [KZ_KNOB_CUDA_ADAMW_BLOCK] =
        {
            .id = KZ_KNOB_CUDA_ADAMW_BLOCK,
            .cuda = true,
            .op = "adamw",
            .name = "block",
            .kind = KZ_KNOB_INT,
            .min = 32,
            .max = 1024,
            .multiple_of = 32,
            .defaults = KZ_SAME(256),
            .doc = "threads per block of the AdamW kernel",
        },
    [KZ_KNOB_CUDA_GBDT_BLOCK] =
        {
            .id = KZ_KNOB_CUDA_GBDT_BLOCK,
            .cuda = true,
            .op = "gbdt",
            .name = "block",
            .kind = KZ_KNOB_INT,
            .min = 32,
            .max = 1024,
            .multiple_of = 32,
            .defaults = KZ_SAME(256),
            .doc = "threads per block of the GBDT gradient, quantise, split, partition and "
                   "predict kernels",
        },
    [KZ_KNOB_CUDA_GBDT_HIST_BLOCK] =
        {
            .id = KZ_KNOB_CUDA_GBDT_HIST_BLOCK,
            .cuda = true,
            .op = "gbdt_hist",
            .name = "block",
            .kind = KZ_KNOB_INT,
            .min = 32,
            .max = 1024,
            .multiple_of = 32,
            .defaults = {256, 256, 512},
            .doc = "threads per block of the GBDT histogram kernel",
        },
    [KZ_KNOB_CUDA_GBDT_HIST_ROWS] =
        {
            .id = KZ_KNOB_CUDA_GBDT_HIST_ROWS,
            .cuda = true,
            .op = "gbdt_hist",
            .name = "rows_per_block",
            .kind = KZ_KNOB_INT,
            .min = 32,
            .max = 1 << 20,
            .multiple_of = 32,
            /* More rows per block amortise the flush of the shared histogram
             * (256 bins per feature) into global memory. */
            .defaults = {2048, 2048, 4096},
            .doc = "node rows each histogram block accumulates before its global flush",
        },
    [KZ_KNOB_CUDA_GBDT_HIST_FEATURES] =
        {
            .id = KZ_KNOB_CUDA_GBDT_HIST_FEATURES,
            .cuda = true,
            .op = "gbdt_hist",
            .name = "features_per_group",
            .kind = KZ_KNOB_INT,
            .min = 1,
            .max = 64,
            .multiple_of = 1,
            /* 4 KiB of shared memory per feature (256 bins x 2 int64): 8 on
             * Ampere keeps several blocks per SM; Hopper's 228 KiB per SM
             * affords 12 (48 KiB, no opt-in needed). */
            .defaults = {8, 8, 12},
            .doc = "features per histogram block; the block's shared memory is 4 KiB per feature",
        },
    /* ---- fused attention ------------------------------------------- */
    [KZ_KNOB_CPU_ATTENTION_BLOCK_Q] =
        {
            .id = KZ_KNOB_CPU_ATTENTION_BLOCK_Q,
            .cuda = false,
            .op = "attention",
            .name = "block_q",
            .kind = KZ_KNOB_INT,
            .min = 8,
            .max = 1024,
            .multiple_of = 8,
            .defaults = KZ_SAME(64),
            .doc = "queries per tile of the fused attention (a tile's scores are block_q x "
                   "block_k floats)",
        },
    [KZ_KNOB_CPU_ATTENTION_BLOCK_K] =
        {
            .id = KZ_KNOB_CPU_ATTENTION_BLOCK_K,
            .cuda = false,
            .op = "attention",
            .name = "block_k",
            .kind = KZ_KNOB_INT,
            .min = 8,
            .max = 4096,
            .multiple_of = 8,
            .defaults = KZ_SAME(128),
            .doc = "keys per tile of the fused attention",
        },
    [KZ_KNOB_CUDA_ATTENTION_BLOCK_Q] =
        {
            .id = KZ_KNOB_CUDA_ATTENTION_BLOCK_Q,
            .cuda = true,
            .op = "attention",
            .name = "block_q",
            .kind = KZ_KNOB_INT,
            .min = 32,
            .max = 256,
            .multiple_of = 32,
            .defaults = KZ_SAME(64),
            .doc = "queries per block of the fused attention kernels, one thread each (also the "
                   "keys per block of the dK/dV kernel)",
        },
    [KZ_KNOB_CUDA_ATTENTION_BLOCK_K] =
        {
            .id = KZ_KNOB_CUDA_ATTENTION_BLOCK_K,
            .cuda = true,
            .op = "attention",
            .name = "block_k",
            .kind = KZ_KNOB_INT,
            .min = 8,
            .max = 128,
            .multiple_of = 8,
            .defaults = KZ_SAME(32),
            .doc = "keys (forward, dQ) or queries (dK/dV) staged per shared-memory tile",
        },
};

const kz_knob_def *kz_knob_def_get(kz_knob id) {
  if ((int)id < 0 || id >= KZ_KNOB_COUNT) return NULL;
  return &knob_defs[id];
}

static const char *const target_names[KZ_TARGET_COUNT] = {
    [KZ_TARGET_CPU] = "cpu",
    [KZ_TARGET_SM80] = "sm_80",
    [KZ_TARGET_SM90] = "sm_90",
};

const char *kz_target_name(kz_target t) {
  if ((int)t < 0 || t >= KZ_TARGET_COUNT) return "unknown";
  return target_names[t];
}

kz_target kz_target_for_cuda(int major, int minor) {
  (void)minor;
  return major < 9 ? KZ_TARGET_SM80 : KZ_TARGET_SM90;
}

kz_status kz_target_parse(const char *name, kz_target *out) {
  if (!name || !out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_target_parse: NULL argument");
  for (int t = 0; t < KZ_TARGET_COUNT; ++t) {
    if (!strcmp(name, target_names[t])) {
      *out = (kz_target)t;
      return KZ_OK;
    }
  }
  return kz_fail(KZ_ERR_INVALID_ARG, "unknown kernel target '%s' (expected cpu, sm_80 or sm_90)",
                 name);
}
