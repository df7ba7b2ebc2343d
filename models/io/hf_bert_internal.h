/* Shared by the Hugging Face BERT directory files (hf_bert_*.c). */
#ifndef KZ_MODELS_IO_HF_BERT_INTERNAL_H
#define KZ_MODELS_IO_HF_BERT_INTERNAL_H

#include <stddef.h>

#include "kaizen.h"

/* JSON side files (config.json, tokenizer_config.json) are a few hundred
 * bytes; anything past this is not one. */
#define KZ_HF_JSON_MAX_BYTES ((size_t)1 << 20)

/* Reads a regular file of at most max bytes (checked before reading, so a
 * huge file costs nothing); *text is malloc'ed and NUL-terminated. */
kz_status kz_hf_read_small(const char *path, const char *what, size_t max, unsigned char **text,
                           size_t *len);

#endif
