/* Validation helpers of ops.c for the wrappers kept in their own files
 * (ops_attention.c): the same checks and messages as every other op. Not
 * part of the op API. */
#ifndef KZ_OPS_INTERNAL_H
#define KZ_OPS_INTERNAL_H

#include "kernels/ops.h"

/* A short description of a tensor for messages (a small per-thread ring, so
 * one message may show a few). */
const char *kz_ops_describe(const kz_tensor *t);
/* t is present, of dtype, on the stream's device, with sane dims and data. */
kz_status kz_ops_check(const kz_stream *s, const char *op, const char *arg, const kz_tensor *t,
                       kz_dtype dtype);
kz_status kz_ops_check_numel(const char *op, const char *arg, const kz_tensor *t, int64_t want,
                             const char *why);

#endif
