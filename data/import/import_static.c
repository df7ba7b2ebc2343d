/* --static columns must hold one value per series (import_internal.h).
 * Checked in pass 1, before anything is written: each series keeps the
 * first value it showed and the line, and a later row of the series that
 * differs is an error naming both lines. Two spellings of one number ("1",
 * "1.0") differ only if the column ends up categorical, which is known after
 * the pass: the first such pair is kept and judged then. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/import_internal.h"
#include "data/import/numparse.h"
#include "kernels/core/error.h"

static const char *series_name(const kz_import *im, int32_t series) {
  const kz_strset *d = im->series_col >= 0 ? &im->cols[im->series_col].dict : NULL;
  return d && series < d->count ? d->keys[series] : "all";
}

/* A value for a message: quoted and cut at 40 bytes, or "missing". */
static void shown(const char *v, size_t len, char out[48]) {
  if (kz_is_missing(v, len))
    snprintf(out, 48, "missing");
  else
    snprintf(out, 48, "'%.*s'", (int)(len < 40 ? len : 40), v);
}

static kz_status grow(col_info *ci, int32_t series) {
  if (series < ci->static_cap) return KZ_OK;
  int32_t cap = ci->static_cap ? ci->static_cap * 2 : 64;
  while (cap <= series) cap *= 2;
  char **f = realloc(ci->static_first, (size_t)cap * sizeof *f);
  if (f) ci->static_first = f;
  int64_t *l = f ? realloc(ci->static_line, (size_t)cap * sizeof *l) : NULL;
  if (!l) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory checking --static columns");
  ci->static_line = l;
  for (int32_t i = ci->static_cap; i < cap; ++i) f[i] = NULL, l[i] = 0;
  ci->static_cap = cap;
  return KZ_OK;
}

static int same_value(const char *a, const char *b, size_t blen, int *numeric_only) {
  size_t alen = strlen(a);
  *numeric_only = 0;
  if (alen == blen && !memcmp(a, b, blen)) return 1;
  int ma = kz_is_missing(a, alen), mb = kz_is_missing(b, blen);
  if (ma || mb) return ma && mb;
  double x, y;
  if (kz_parse_number(a, alen, &x) && kz_parse_number(b, blen, &y) && x == y) {
    *numeric_only = 1;
    return 1;
  }
  return 0;
}

kz_status kz_import_static_check(kz_import *im, col_info *ci, int32_t series, const char *v,
                                 size_t len, int64_t line) {
  KZ_TRY(grow(ci, series));
  char **first = &ci->static_first[series];
  if (!*first) {
    if (!(*first = malloc(len + 1)))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory checking --static columns");
    memcpy(*first, v, len);
    (*first)[len] = '\0';
    ci->static_line[series] = line;
    return KZ_OK;
  }
  int numeric_only;
  if (same_value(*first, v, len, &numeric_only)) {
    if (numeric_only && !ci->static_spelling_line) {
      ci->static_spelling_line = line;
      ci->static_spelling_series = series;
    }
    return KZ_OK;
  }
  char now[48], then[48];
  shown(v, len, now);
  shown(*first, strlen(*first), then);
  return kz_fail(KZ_ERR_FORMAT,
                 "%s:%lld: --static column '%s' is %s in series '%s', but %s at line %lld; a "
                 "static column must hold one value per series",
                 im->o->input, (long long)line, ci->name, now, series_name(im, series), then,
                 (long long)ci->static_line[series]);
}

kz_status kz_import_static_finish(const kz_import *im) {
  for (int i = 0; i < im->n_cols; ++i) {
    const col_info *ci = &im->cols[i];
    if (ci->role != ROLE_STATIC || ci->numeric || !ci->static_spelling_line) continue;
    int32_t s = ci->static_spelling_series;
    return kz_fail(KZ_ERR_FORMAT,
                   "%s:%lld: --static column '%s' is categorical, and series '%s' spells its "
                   "value differently here than at line %lld ('%.40s'): two categories in one "
                   "series",
                   im->o->input, (long long)ci->static_spelling_line, ci->name, series_name(im, s),
                   (long long)ci->static_line[s], ci->static_first[s]);
  }
  return KZ_OK;
}

void kz_import_static_free(col_info *ci) {
  for (int32_t i = 0; i < ci->static_cap; ++i) free(ci->static_first[i]);
  free(ci->static_first);
  free(ci->static_line);
  ci->static_first = NULL;
  ci->static_line = NULL;
  ci->static_cap = 0;
}
