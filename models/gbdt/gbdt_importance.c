/* Feature importance (gain, cover, weight) as XGBoost defines it. */
#include "models/gbdt/gbdt_importance.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/gbdt/gbdt_json.h"

static const char *const names[] = {"weight", "gain", "total_gain", "cover", "total_cover"};

int kz_gbdt_importance_parse(const char *name, kz_gbdt_importance_type *out) {
  for (int i = 0; i < (int)(sizeof names / sizeof names[0]); ++i)
    if (!strcmp(name, names[i])) {
      *out = (kz_gbdt_importance_type)i;
      return 1;
    }
  return 0;
}

const char *kz_gbdt_importance_name(kz_gbdt_importance_type t) {
  return (int)t >= 0 && (int)t < (int)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

kz_status kz_gbdt_importance(const kz_gbdt_model *m, kz_gbdt_importance_type type, double *out) {
  if (!out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_gbdt_importance: no output");
  if (kz_gbdt_importance_name(type)[0] == 'u')
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_gbdt_importance: unknown type %d", (int)type);
  KZ_TRY(kz_gbdt_model_validate(m, "gbdt importance"));
  int32_t nf = m->n_numeric + m->n_categorical;
  double *count = calloc((size_t)(nf ? nf : 1), sizeof *count);
  if (!count) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "kz_gbdt_importance: out of memory");
  for (int32_t f = 0; f < nf; ++f) out[f] = 0;
  for (int32_t i = 0; i < m->n_trees; ++i) {
    const kz_gbdt_tree *t = &m->trees[i];
    for (int32_t n = 0; n < t->n_nodes; ++n) {
      if (t->left[n] < 0) continue;
      int32_t f = t->feature[n];
      count[f] += 1;
      if (type == KZ_GBDT_IMPORTANCE_GAIN || type == KZ_GBDT_IMPORTANCE_TOTAL_GAIN)
        out[f] += t->gain[n];
      else if (type == KZ_GBDT_IMPORTANCE_COVER || type == KZ_GBDT_IMPORTANCE_TOTAL_COVER)
        out[f] += t->cover[n];
    }
  }
  for (int32_t f = 0; f < nf; ++f) {
    if (type == KZ_GBDT_IMPORTANCE_WEIGHT)
      out[f] = count[f];
    else if ((type == KZ_GBDT_IMPORTANCE_GAIN || type == KZ_GBDT_IMPORTANCE_COVER) && count[f] > 0)
      out[f] /= count[f];
  }
  free(count);
  return KZ_OK;
}
