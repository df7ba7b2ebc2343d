/* LoRA adapters of a transformer (docs/MODELS.md, "LoRA adapters"): merge
 * and unmerge, the base model's fingerprint, adapter files and the Hugging
 * Face PEFT layout. A model has adapters when its model section had
 * model.lora (or it was built from an adapter file). */
#ifndef KZ_MODELS_TRANSFORMER_LORA_H
#define KZ_MODELS_TRANSFORMER_LORA_H

#include "models/nn_model.h"

/* merge 1: W += scale B A for every adapter, and the forward stops running
 * the adapters (no extra latency); merge 0: W back as it was, bit for bit
 * (kept on the host while merged), and the adapters run again. Idempotent.
 * Training a merged model is refused. */
kz_status kz_transformer_lora_merge(kz_nn_model *m, int merge);
int kz_transformer_lora_merged(const kz_nn_model *m);

/* The base model's fingerprint: "kz64:" and 16 hex digits, the kz64 hash
 * (docs/FORMATS.md) of the name, shape and floats of every tensor the
 * adapter does not hold (the frozen base weights), in layout order. */
enum { KZ_LORA_FINGERPRINT_LEN = 32 };
kz_status kz_transformer_base_fingerprint(const kz_nn_model *m, char out[KZ_LORA_FINGERPRINT_LEN]);

/* Writes the adapters (and the trained head and biases) of m in Hugging
 * Face PEFT's layout: dir/adapter_config.json and
 * dir/adapter_model.safetensors (metadata kaizen_base_fingerprint). Keys
 * are base_model.model.<name> under BertModel's names when the head is not
 * trained, else under the task's BertFor<Task> ("bert." before the encoder
 * and pooler), as PEFT writes them. An existing adapter in dir is an error
 * unless overwrite. */
kz_status kz_transformer_lora_export_peft(const kz_nn_model *m, const char *dir,
                                          const char *base_name, int overwrite);

/* A PEFT LoRA adapter directory (kaizen's or PEFT's) onto base, a
 * transformer without adapters: a new model (*out) with base's layout, its
 * tensors, and the adapter's (targets from the tensors present; a "bert."
 * prefix and PEFT's ".default" adapter name accepted). A recorded base
 * fingerprint that is not base's is an error naming both. note (may be
 * NULL) gets a one-line summary. */
kz_status kz_transformer_lora_import_peft(const kz_nn_model *base, const char *dir,
                                          kz_nn_model **out, char *note, size_t cap);

/* Whether m is a transformer with LoRA adapters. */
int kz_transformer_has_lora(const kz_nn_model *m);
/* The base of an adapter model: the same model without its adapters (a new
 * model; the adapters must not be merged). */
kz_status kz_transformer_lora_strip(const kz_nn_model *m, kz_nn_model **out);

/* ---- several adapters over one loaded base (tf_lora_swap.c) ----------------
 * An adapter kept apart from the base it was loaded for (the PEFT directory
 * read and its fingerprint checked as kz_transformer_lora_import_peft does,
 * which also needs a transient copy of the base): A and B on the base's
 * device, its trained head and biases on the host. apply merges it into the
 * base's own weights (W += scale B A, the GEMM kz_transformer_lora_merge
 * runs, so predictions equal `kaizen predict --adapter`'s), saving on the
 * host what it overwrites; remove restores that, bit for bit. One adapter at
 * a time on a base; the base must have no adapters of its own and must not
 * run while an adapter is applied or removed. */
typedef struct kz_tf_adapter kz_tf_adapter;
kz_status kz_transformer_adapter_load(const kz_nn_model *base, const char *dir, kz_tf_adapter **out,
                                      char *note, size_t cap);
void kz_transformer_adapter_free(kz_tf_adapter *a);
kz_status kz_transformer_adapter_apply(kz_nn_model *base, kz_tf_adapter *a);
kz_status kz_transformer_adapter_remove(kz_nn_model *base, kz_tf_adapter *a);
/* The fingerprint of the base it was trained on (and checked against). */
const char *kz_transformer_adapter_fingerprint(const kz_tf_adapter *a);
int64_t kz_transformer_adapter_rank(const kz_tf_adapter *a);

#endif
