/* Kernel configuration: every tunable of every kernel, one table per target.
 *
 * A target is the CPU ("cpu") or a CUDA architecture ("sm_80", "sm_90").
 * Built-in defaults live in knobs.c; a YAML file (docs/KERNEL_CONFIG.md) may
 * override any of them at run time. Kernels read their knobs through the
 * stream they are launched on (kz_stream_knob), which resolves the target of
 * the stream's device once, so a launch costs an array index, not a lookup. */
#ifndef KZ_CONFIG_KERNEL_CONFIG_H
#define KZ_CONFIG_KERNEL_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "kaizen.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum kz_target {
  KZ_TARGET_CPU = 0,
  KZ_TARGET_SM80 = 1, /* Ampere and Ada (sm_80 .. sm_89) */
  KZ_TARGET_SM90 = 2, /* Hopper and newer */
  KZ_TARGET_COUNT
} kz_target;

typedef enum kz_knob {
  /* CPU */
  KZ_KNOB_CPU_MATMUL_IMPL,       /* matmul.impl: 0 = blas, 1 = tiled (hand-written) */
  KZ_KNOB_CPU_MATMUL_TILE,       /* matmul.tile: tile edge of the hand-written GEMM */
  KZ_KNOB_CPU_ELEMENTWISE_GRAIN, /* elementwise.grain: elements per OpenMP task */
  KZ_KNOB_CPU_ROWWISE_GRAIN, /* rowwise.grain: rows per OpenMP task (norm, softmax, xent, embedding)
                              */
  KZ_KNOB_CPU_ATTENTION_BLOCK_Q, /* attention.block_q: queries per tile */
  KZ_KNOB_CPU_ATTENTION_BLOCK_K, /* attention.block_k: keys per tile */
  /* CUDA */
  KZ_KNOB_CUDA_MATMUL_IMPL,        /* matmul.impl: 0 = cublas, 1 = tiled (hand-written) */
  KZ_KNOB_CUDA_MATMUL_TILE,        /* matmul.tile: 16 or 32, hand-written GEMM tile edge */
  KZ_KNOB_CUDA_ELEMENTWISE_BLOCK,  /* elementwise.block: threads per block */
  KZ_KNOB_CUDA_ELEMENTWISE_VEC,    /* elementwise.vec: elements per thread per load: 1, 2, 4 */
  KZ_KNOB_CUDA_LAYERNORM_BLOCK,    /* layernorm.block: threads per row-block */
  KZ_KNOB_CUDA_LAYERNORM_BWD_ROWS, /* layernorm.bwd_rows: rows per block in the dgamma/dbeta pass */
  KZ_KNOB_CUDA_SOFTMAX_BLOCK,      /* softmax.block */
  KZ_KNOB_CUDA_XENT_BLOCK,         /* cross_entropy.block */
  KZ_KNOB_CUDA_EMBEDDING_BLOCK,    /* embedding.block */
  KZ_KNOB_CUDA_BIAS_BWD_ROWS,      /* bias_add.bwd_rows: rows reduced per block */
  KZ_KNOB_CUDA_ADAMW_BLOCK,        /* adamw.block */
  KZ_KNOB_CUDA_GBDT_BLOCK,         /* gbdt.block: threads per block of the GBDT row kernels */
  KZ_KNOB_CUDA_GBDT_HIST_BLOCK,    /* gbdt_hist.block */
  KZ_KNOB_CUDA_GBDT_HIST_ROWS,     /* gbdt_hist.rows_per_block */
  KZ_KNOB_CUDA_GBDT_HIST_FEATURES, /* gbdt_hist.features_per_group (shared-memory histograms) */
  KZ_KNOB_CUDA_ATTENTION_BLOCK_Q,  /* attention.block_q: queries (threads) per block (CUDA) */
  KZ_KNOB_CUDA_ATTENTION_BLOCK_K,  /* attention.block_k: keys per shared-memory tile (CUDA) */
  KZ_KNOB_COUNT
} kz_knob;

typedef enum kz_knob_kind { KZ_KNOB_INT, KZ_KNOB_CHOICE } kz_knob_kind;

typedef struct kz_knob_def {
  kz_knob id;
  bool cuda;        /* applies to CUDA targets (else to the CPU target) */
  const char *op;   /* YAML section, e.g. "layernorm" */
  const char *name; /* YAML key, e.g. "block" */
  kz_knob_kind kind;
  int min, max;           /* inclusive range for INT knobs */
  int multiple_of;        /* INT values must be multiples of this (1 = any) */
  bool power_of_two;      /* INT values must be powers of two */
  const char *choices[4]; /* names for CHOICE knobs, NULL-terminated; value = index */
  int defaults[KZ_TARGET_COUNT];
  const char *doc; /* one line for `kaizen info` and docs */
} kz_knob_def;

const kz_knob_def *kz_knob_def_get(kz_knob id);
const char *kz_target_name(kz_target t);
/* Maps a compute capability to its table: < 9.0 -> sm_80, else sm_90. */
kz_target kz_target_for_cuda(int major, int minor);
kz_status kz_target_parse(const char *name, kz_target *out);

/* Row of knob values in effect for a target (points into the live table). */
const int *kz_kernel_config_row(kz_target t);
int kz_kernel_config_value(kz_target t, kz_knob id);
/* Sets one knob after validating it; the error names the knob and value. */
kz_status kz_kernel_config_set(kz_target t, kz_knob id, int value);
/* Checks a value against the knob's rules without setting it. */
kz_status kz_knob_validate(const kz_knob_def *def, int value);
/* Parses YAML text (name is used in messages) into the live table; on failure
 * the table is unchanged. */
kz_status kz_kernel_config_load_text(const char *name, const char *text, size_t len);
/* Prints the effective table for one target as YAML (loadable back). */
void kz_kernel_config_print(FILE *out, kz_target t);
/* Source of the config in effect: "built-in" or the file last loaded. */
const char *kz_kernel_config_source(void);

#ifdef __cplusplus
}
#endif
#endif
