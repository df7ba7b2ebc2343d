/* Adapter-only checkpoints (checkpoint.h, docs/MODELS.md "LoRA adapters"):
 * a run whose model has LoRA adapters trains a small part of a large frozen
 * base, so its checkpoints store only the trainable ranges (adapters, the
 * trained head and biases) and the frozen base's fingerprint. On resume or
 * rollback the base is the one the job loaded again from train.init_from;
 * the fingerprint proves it is the same one. */
#ifndef KZ_ENGINE_TRAIN_CKPT_ADAPTER_H
#define KZ_ENGINE_TRAIN_CKPT_ADAPTER_H

#include "engine/train/checkpoint.h"
#include "kernels/core/backend.h"
#include "models/nn_model.h"

/* Whether m's checkpoints hold only its trainable tensors. */
int kz_ckpt_adapter_only(const kz_nn_model *m);

/* host[n_params]: the whole parameter block; packs its trainable ranges to
 * the front (in range order) and sets st->params_n and st->base_fingerprint.
 * fp caches the fingerprint ("" at first: computed once, the base is frozen). */
kz_status kz_ckpt_adapter_pack(const kz_nn_model *m, float *host, kz_ckpt_state *st, char fp[40]);

/* Copies d's packed trainable floats into m's parameter block (device, on
 * s); the frozen rest must be the base the checkpoint was written against:
 * a different fingerprint is an error naming both (where: the checkpoint
 * directory, for the message). */
kz_status kz_ckpt_adapter_restore(kz_nn_model *m, kz_stream *s, const kz_ckpt_data *d,
                                  const char *where, char fp[40]);

#endif
