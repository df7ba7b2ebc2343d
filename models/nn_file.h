/* The neural model file (.kzm), shared by every neural model type:
 *   "KZM1"            4 bytes magic
 *   u32 version       1
 *   u64 meta_len      bytes of the meta JSON that follows (no NUL)
 *   meta              JSON object from ops->meta_json; "type" names the model
 *   u64 n_params
 *   f32 params[n_params]
 *   u64 checksum      kz64 (data/shard/hash64.h) of every byte before it
 * little-endian. Written to path.tmp, fsynced and renamed. */
#ifndef KZ_MODELS_NN_FILE_H
#define KZ_MODELS_NN_FILE_H

#include <stdint.h>

#include "kaizen.h"

#define KZ_NN_FILE_MAGIC "KZM1"

kz_status kz_nn_file_write(const char *path, const char *meta_json, const float *params,
                           int64_t n_params);
/* Validates magic, version, sizes (against the file size) and checksum; the
 * error names the file and what is wrong. *meta_json and *params are
 * malloc'ed (free them). */
kz_status kz_nn_file_read(const char *path, char **meta_json, float **params, int64_t *n_params);

#endif
