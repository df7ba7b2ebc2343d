#define _POSIX_C_SOURCE 200809L
#include "data/inspect/inspect.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/inspect/inspect_time.h"
#include "data/shard/iter.h"
#include "data/shard/reader.h"
#include "kernels/core/error.h"

typedef struct col_stats {
  int64_t count, missing;
  double min, max, sum;
  int64_t *cat_counts; /* categorical columns: per code */
} col_stats;

typedef struct inspector {
  const kz_schema *s;
  col_stats **stats; /* [field][column] (one entry for unnamed fields) */
} inspector;

static void update(inspector *in, const kz_shard_batch *b) {
  for (int32_t f = 0; f < in->s->n_fields; ++f) {
    const kz_field *fd = &in->s->fields[f];
    int32_t ncol = fd->n_columns ? fd->n_columns : 1;
    if (fd->type == KZ_FIELD_STR || (!fd->n_columns && fd->width > 1)) continue;
    for (int64_t r = 0; r < b->rows; ++r)
      for (int32_t c = 0; c < ncol; ++c) {
        col_stats *cs = &in->stats[f][c];
        double x;
        int cats = fd->n_columns && fd->columns[c].n_categories;
        if (fd->type == KZ_FIELD_F32)
          x = kz_batch_f32(b, f, r)[c];
        else if (fd->type == KZ_FIELD_F64)
          x = kz_batch_f64(b, f, r)[c];
        else {
          int32_t v = kz_batch_i32(b, f, r)[c];
          if (cats) {
            if (v < 0 || v >= fd->columns[c].n_categories) {
              cs->missing++;
              continue;
            }
            cs->cat_counts[v]++;
          }
          x = v;
        }
        if (isnan(x)) {
          cs->missing++;
          continue;
        }
        if (!cs->count || x < cs->min) cs->min = x;
        if (!cs->count || x > cs->max) cs->max = x;
        cs->sum += x;
        cs->count++;
      }
  }
}

/* Category strings are printed up to this many bytes (SECURITY.md, "Limits"):
 * a data set imported before categories were capped may hold megabytes. */
enum { KZ_INSPECT_MAX_SHOWN = 200 };

static void print_category(FILE *out, const char *name) {
  size_t n = strlen(name);
  if (n <= KZ_INSPECT_MAX_SHOWN) {
    fprintf(out, "        %-28s", name);
    return;
  }
  size_t cut = KZ_INSPECT_MAX_SHOWN;
  while (cut && ((unsigned char)name[cut] & 0xC0) == 0x80) --cut; /* not inside a character */
  fprintf(out, "        %.*s… (%zu bytes)", (int)cut, name, n);
}

/* the column being sorted (qsort has no context argument; inspect runs on one thread) */
static const col_stats *sort_stats;
static int by_count_then_code(const void *pa, const void *pb) {
  int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
  int64_t ca = sort_stats->cat_counts[a], cb = sort_stats->cat_counts[b];
  if (ca != cb) return ca > cb ? -1 : 1;
  return a < b ? -1 : a > b;
}

static void print_categories(FILE *out, const kz_column *col, const col_stats *cs, int64_t rows,
                             int show, int all) {
  int32_t n = col->n_categories, seen = 0;
  for (int32_t k = 0; k < n; ++k) seen += cs->cat_counts[k] > 0;
  fprintf(out, "    %-24s categorical  %d categories (%d present), missing %.2f%%\n", col->name,
          (int)n, (int)seen, rows ? 100.0 * (double)cs->missing / (double)rows : 0.0);
  /* largest first, ties in dictionary order */
  int32_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
  if (!order) return;
  for (int32_t k = 0; k < n; ++k) order[k] = k;
  /* qsort, not insertion: 65,536 categories in rising counts took seconds */
  sort_stats = cs;
  qsort(order, (size_t)n, sizeof *order, by_count_then_code);
  int32_t limit = all ? n : (n < show ? n : show);
  for (int32_t k = 0; k < limit; ++k) {
    print_category(out, col->categories[order[k]]);
    fprintf(out, " %10" PRId64 "  %6.2f%%\n", cs->cat_counts[order[k]],
            rows ? 100.0 * (double)cs->cat_counts[order[k]] / (double)rows : 0.0);
  }
  if (limit < n) fprintf(out, "        ... %d more\n", (int)(n - limit));
  free(order);
}

static void print_numeric(FILE *out, const char *name, const char *type, const col_stats *cs,
                          int64_t rows) {
  if (cs->count)
    fprintf(out, "    %-24s %-11s  min %-12.6g max %-12.6g mean %-12.6g missing %.2f%%\n", name,
            type, cs->min, cs->max, cs->sum / (double)cs->count,
            rows ? 100.0 * (double)cs->missing / (double)rows : 0.0);
  else
    fprintf(out, "    %-24s %-11s  all missing\n", name, type);
}

static void report(FILE *out, const inspector *in, int64_t rows, int show) {
  const kz_schema *s = in->s;
  fprintf(out, "columns:\n");
  for (int32_t f = 0; f < s->n_fields; ++f) {
    const kz_field *fd = &s->fields[f];
    fprintf(out, "  field '%s' (%s, width %lld)\n", fd->name, kz_field_type_name(fd->type),
            (long long)fd->width);
    if (fd->type == KZ_FIELD_STR) continue;
    if (!fd->n_columns) {
      if (fd->width == 1)
        print_numeric(out, fd->name, kz_field_type_name(fd->type), &in->stats[f][0], rows);
      continue;
    }
    for (int32_t c = 0; c < fd->n_columns; ++c) {
      const kz_column *col = &fd->columns[c];
      if (s->label && !strcmp(col->name, s->label)) {
        fprintf(out, "    %-24s (label: distribution below)\n", col->name);
        continue;
      }
      if (col->n_categories)
        print_categories(out, col, &in->stats[f][c], rows, show, 0);
      else
        print_numeric(out, col->name, kz_field_type_name(fd->type), &in->stats[f][c], rows);
    }
  }
  int lf, lc;
  if (s->label && kz_schema_find_column(s, s->label, &lf, &lc)) {
    const kz_column *col = &s->fields[lf].columns[lc];
    fprintf(out, "label distribution ('%s'):\n", s->label);
    if (col->n_categories)
      print_categories(out, col, &in->stats[lf][lc], rows, show, 1);
    else
      print_numeric(out, col->name, "numeric", &in->stats[lf][lc], rows);
  }
}

kz_status kz_inspect(const char *path, const kz_inspect_options *options, FILE *out) {
  kz_inspect_options o = {0, 10};
  if (options) o = *options;
  if (o.max_categories_shown < 1) o.max_categories_shown = 10;
  kz_dataset_options dopt = {NULL, o.verify_checksums};
  kz_dataset *ds;
  KZ_TRY(kz_dataset_open(path, &dopt, &ds));
  const kz_schema *s = kz_dataset_schema(ds);
  inspector in = {s, calloc((size_t)s->n_fields + 1, sizeof(col_stats *))};
  kz_status st = in.stats ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int32_t f = 0; st == KZ_OK && f < s->n_fields; ++f) {
    const kz_field *fd = &s->fields[f];
    int32_t ncol = fd->n_columns ? fd->n_columns : 1;
    if (!(in.stats[f] = calloc((size_t)ncol, sizeof(col_stats))))
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    for (int32_t c = 0; st == KZ_OK && c < fd->n_columns; ++c)
      if (fd->columns[c].n_categories &&
          !(in.stats[f][c].cat_counts =
                calloc((size_t)fd->columns[c].n_categories, sizeof(int64_t))))
        st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  kz_shard_iter *it = NULL;
  kz_shard_iter_options io;
  kz_shard_iter_options_default(&io);
  io.batch_size = 4096;
  if (st == KZ_OK) st = kz_shard_iter_open(ds, &io, &it);
  const kz_shard_batch *b;
  while (st == KZ_OK && (st = kz_shard_iter_next(it, &b)) == KZ_OK && b) update(&in, b);
  kz_shard_iter_close(it);
  if (st == KZ_OK) {
    int64_t rows = kz_dataset_rows(ds);
    fprintf(out, "data set: %s\nkind: %s\nrows: %lld in %d shard(s)%s\n", kz_dataset_path(ds),
            s->kind, (long long)rows, kz_dataset_shard_count(ds),
            o.verify_checksums ? " (checksums verified)" : "");
    /* a text set's vocabulary is thousands of tokens: shown by its size */
    json_t *shown = json_copy(s->meta);
    json_t *toks = json_object_get(shown, "vocab_tokens");
    if (json_is_array(toks)) {
      char what[48];
      snprintf(what, sizeof what, "(%zu tokens)", json_array_size(toks));
      json_object_set_new(shown, "vocab_tokens", json_string(what));
    }
    char *meta = json_dumps(shown, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(shown);
    if (meta) fprintf(out, "meta: %s\n", meta);
    free(meta);
    fprintf(out, "shards:\n");
    for (int i = 0; i < kz_dataset_shard_count(ds); ++i) {
      kz_shard_info info;
      kz_dataset_shard_info(ds, i, &info);
      const char *slash = strrchr(info.path, '/');
      fprintf(out, "  %-24s split %-6s rows %lld\n", slash ? slash + 1 : info.path, info.split,
              (long long)info.rows);
    }
    report(out, &in, rows, o.max_categories_shown);
    st = kz_inspect_time(ds, o.max_categories_shown, out);
  }
  for (int32_t f = 0; in.stats && f < s->n_fields; ++f) {
    for (int32_t c = 0; in.stats[f] && c < s->fields[f].n_columns; ++c)
      free(in.stats[f][c].cat_counts);
    free(in.stats[f]);
  }
  free(in.stats);
  kz_dataset_close(ds);
  return st;
}
