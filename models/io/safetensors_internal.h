/* Helpers shared by the safetensors reader, writer and the HF BERT loader. */
#ifndef KZ_MODELS_IO_SAFETENSORS_INTERNAL_H
#define KZ_MODELS_IO_SAFETENSORS_INTERNAL_H

#include <stdint.h>

#include "models/io/safetensors.h"

/* "[30522, 384]" (a scalar is "[]"), for messages; long shapes end in "...". */
typedef struct kz_st_text {
  char s[96];
} kz_st_text;
kz_st_text kz_st_shape_text(int rank, const int64_t *shape);

/* IEEE half to float, exact (subnormals, infinities and NaN included). */
float kz_f16_to_f32(uint16_t h);

#endif
