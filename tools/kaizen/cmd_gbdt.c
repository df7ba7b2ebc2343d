/* kaizen gbdt importance | export | shap: tools for a saved GBDT model file
 * (docs/GBDT.md, "Importance and SHAP", "XGBoost export"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fs/atomic_file.h"
#include "data/shard/fsutil.h"
#include "data/shard/reader.h"
#include "kernels/core/error.h"
#include "models/gbdt/gbdt_importance.h"
#include "models/gbdt/gbdt_json.h"
#include "models/gbdt/gbdt_shap.h"
#include "models/gbdt/gbdt_xgb_export.h"
#include "tools/kaizen/commands.h"

static const char usage_text[] =
    "usage: kaizen gbdt importance --model MODEL.json [--type TYPE]\n"
    "       kaizen gbdt export --model MODEL.json --format xgboost-json --out FILE [--overwrite]\n"
    "       kaizen gbdt shap --model MODEL.json --data DIR --out FILE.csv [--rows N] "
    "[--overwrite]\n\n"
    "importance  per-feature importance as XGBoost's get_score: TYPE is weight (split count),\n"
    "            gain (default: mean gain per split), total_gain, cover (mean cover per\n"
    "            split) or total_cover; unused features are left out, largest first\n"
    "export      write the model as an XGBoost JSON model (Booster.load_model)\n"
    "shap        exact TreeSHAP contributions of every row of a tabular data set (all its\n"
    "            shards, manifest order; --rows N: the first N): one CSV column per feature\n"
    "            and output group plus a bias column; each group's columns sum to its margin\n"
    "  --threads N  (shap) OpenMP threads, 0 = all cores (default)\n"
    "  --overwrite  (export, shap) replace an existing --out (never the model or the data)\n"
    "  -h, --help   this text\n";

typedef struct gbdt_args {
  const char *model, *type, *format, *out, *data;
  long long rows;
  int threads;
  int overwrite;
} gbdt_args;

static int usage_error(const char *fmt, const char *arg) {
  fputs("kaizen gbdt: ", stderr);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n\n%s", usage_text);
  return 2;
}

static int parse_count(const char *s, long long lo, long long hi, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return 0;
  *out = v;
  return 1;
}

/* Returns 0, or the exit code of a usage error. */
static int parse_args(int argc, char **argv, gbdt_args *a) {
  for (int i = 2; i < argc; ++i) {
    const char *k = argv[i];
    const char **slot = NULL;
    if (!strcmp(k, "--overwrite")) {
      a->overwrite = 1;
      continue;
    }
    if (!strcmp(k, "--model"))
      slot = &a->model;
    else if (!strcmp(k, "--type"))
      slot = &a->type;
    else if (!strcmp(k, "--format"))
      slot = &a->format;
    else if (!strcmp(k, "--out"))
      slot = &a->out;
    else if (!strcmp(k, "--data"))
      slot = &a->data;
    else if (strcmp(k, "--rows") && strcmp(k, "--threads"))
      return usage_error("unknown option '%s'", k);
    if (i + 1 >= argc) return usage_error("%s needs a value", k);
    const char *v = argv[++i];
    long long n;
    if (slot) {
      *slot = v;
    } else if (!strcmp(k, "--rows")) {
      if (!parse_count(v, 1, (long long)1 << 40, &n))
        return usage_error("--rows needs a positive integer, not '%s'", v);
      a->rows = n;
    } else {
      if (!parse_count(v, 0, 4096, &n))
        return usage_error("--threads needs an integer in [0, 4096], not '%s'", v);
      a->threads = (int)n;
    }
  }
  if (!a->model) return usage_error("%s needs --model", argv[1]);
  return 0;
}

static int cmp_desc(const void *pa, const void *pb) {
  const double *a = *(const double *const *)pa, *b = *(const double *const *)pb;
  return *a < *b ? 1 : *a > *b ? -1 : (a > b) - (a < b);
}

static int run_importance(const kz_gbdt_model *m, const gbdt_args *a) {
  kz_gbdt_importance_type type = KZ_GBDT_IMPORTANCE_GAIN;
  if (a->type && !kz_gbdt_importance_parse(a->type, &type))
    return usage_error("--type must be weight, gain, total_gain, cover or total_cover, not '%s'",
                       a->type);
  int32_t nf = m->n_numeric + m->n_categorical;
  double *v = calloc((size_t)nf + 1, sizeof *v), *w = calloc((size_t)nf + 1, sizeof *w);
  const double **order = calloc((size_t)nf + 1, sizeof *order);
  int rc = 0;
  if (!v || !w || !order) {
    kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    rc = kz_cli_fail("gbdt importance");
  } else if (kz_gbdt_importance(m, type, v) != KZ_OK ||
             kz_gbdt_importance(m, KZ_GBDT_IMPORTANCE_WEIGHT, w) != KZ_OK) {
    rc = kz_cli_fail("gbdt importance");
  } else {
    int32_t n = 0;
    for (int32_t f = 0; f < nf; ++f)
      if (w[f] > 0) order[n++] = &v[f];
    qsort(order, (size_t)n, sizeof *order, cmp_desc);
    printf("feature\t%s\n", kz_gbdt_importance_name(type));
    for (int32_t i = 0; i < n; ++i)
      printf("%s\t%.17g\n", m->feature_names[order[i] - v], *order[i]);
  }
  free(v);
  free(w);
  free(order);
  return rc;
}

static void csv_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; ++s) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* The data set's columns must be the model's features, in order. */
static kz_status match_schema(const kz_gbdt_model *m, const kz_schema *s, const char *data,
                              int *f_num, int *f_cat) {
  const char *field[2] = {"numeric", "categorical"};
  int32_t want[2] = {m->n_numeric, m->n_categorical};
  int *idx[2] = {f_num, f_cat};
  if (strcmp(s->kind, "tabular"))
    return kz_fail(KZ_ERR_FORMAT, "%s: a %s data set; gbdt shap needs tabular data", data, s->kind);
  for (int k = 0; k < 2; ++k) {
    *idx[k] = kz_schema_field_index(s, field[k]);
    int64_t have = *idx[k] >= 0 ? s->fields[*idx[k]].width : 0;
    if (have != want[k])
      return kz_fail(KZ_ERR_FORMAT, "%s: %lld %s columns, the model has %d", data, (long long)have,
                     field[k], want[k]);
    for (int32_t c = 0; c < want[k]; ++c) {
      const kz_field *fd = &s->fields[*idx[k]];
      const char *name = c < fd->n_columns ? fd->columns[c].name : "";
      const char *expect = m->feature_names[(k ? m->n_numeric : 0) + c];
      if (strcmp(name, expect))
        return kz_fail(KZ_ERR_FORMAT, "%s: %s column %d is '%s', the model expects '%s'", data,
                       field[k], c, name, expect);
    }
  }
  return KZ_OK;
}

static kz_status write_shap(const kz_gbdt_model *m, kz_dataset *ds, int64_t rows, int f_num,
                            int f_cat, int threads, FILE *f) {
  int32_t nf = m->n_numeric + m->n_categorical, G = m->num_group;
  for (int g = 0; g < G; ++g)
    for (int32_t j = 0; j <= nf; ++j) {
      const char *fname = j < nf ? m->feature_names[j] : "bias";
      if (g || j) fputc(',', f);
      if (G == 1) {
        csv_field(f, fname);
        continue;
      }
      /* Several groups: "<class>:<feature>", the class name or the group index. */
      char gname[16];
      snprintf(gname, sizeof gname, "%d", g);
      const char *cls = m->class_names ? m->class_names[g] : gname;
      size_t len = strlen(cls) + strlen(fname) + 2;
      char *col = malloc(len);
      if (!col) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
      snprintf(col, len, "%s:%s", cls, fname);
      csv_field(f, col);
      free(col);
    }
  fputc('\n', f);
  enum { CHUNK = 4096 };
  kz_shard_batch b;
  memset(&b, 0, sizeof b);
  KZ_TRY(kz_shard_batch_alloc(kz_dataset_schema(ds), CHUNK, &b));
  double *phi = malloc(sizeof *phi * (size_t)CHUNK * (size_t)G * (size_t)(nf + 1));
  kz_status st = phi ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (int64_t r0 = 0; st == KZ_OK && r0 < rows; r0 += CHUNK) {
    int64_t n = rows - r0 < CHUNK ? rows - r0 : CHUNK;
    if ((st = kz_dataset_read_range(ds, r0, n, &b, 0)) != KZ_OK) break;
    const float *num = f_num >= 0 ? (const float *)b.data[f_num] : NULL;
    const int32_t *cat = f_cat >= 0 ? (const int32_t *)b.data[f_cat] : NULL;
    if ((st = kz_gbdt_shap(m, n, num, cat, threads, phi)) != KZ_OK) break;
    for (int64_t r = 0; r < n; ++r) {
      const double *p = phi + r * G * (nf + 1);
      for (int64_t k = 0; k < (int64_t)G * (nf + 1); ++k) fprintf(f, k ? ",%.9g" : "%.9g", p[k]);
      fputc('\n', f);
    }
  }
  free(phi);
  kz_shard_batch_free(&b);
  return st;
}

static int run_shap(const kz_gbdt_model *m, const gbdt_args *a) {
  kz_dataset *ds = NULL;
  if (kz_dataset_open(a->data, NULL, &ds) != KZ_OK) return kz_cli_fail("gbdt shap");
  int f_num = -1, f_cat = -1;
  if (match_schema(m, kz_dataset_schema(ds), a->data, &f_num, &f_cat) != KZ_OK) {
    kz_dataset_close(ds);
    return kz_cli_fail("gbdt shap");
  }
  int64_t rows = kz_dataset_rows(ds);
  if (a->rows > 0 && a->rows < rows) rows = a->rows;
  kz_atomic_file out;
  kz_status st = kz_atomic_file_open(&out, a->out);
  if (st == KZ_OK)
    st = kz_atomic_file_finish(&out, write_shap(m, ds, rows, f_num, f_cat, a->threads, out.f));
  kz_dataset_close(ds);
  if (st != KZ_OK) return kz_cli_fail("gbdt shap");
  fprintf(stderr, "kaizen gbdt shap: %lld rows -> %s\n", (long long)rows, a->out);
  return 0;
}

static int run_export(const kz_gbdt_model *m, const gbdt_args *a) {
  if (!a->format || strcmp(a->format, "xgboost-json"))
    return usage_error("export needs --format xgboost-json (got '%s')", a->format ? a->format : "");
  if (!a->out) return usage_error("%s needs --out", "export");
  if (kz_gbdt_export_xgboost_json(m, a->out) != KZ_OK) return kz_cli_fail("gbdt export");
  return 0;
}

int kz_cmd_gbdt(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(usage_text, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (int i = 2; i < argc; ++i)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      fputs(usage_text, stdout);
      return 0;
    }
  const char *sub = argv[1];
  if (strcmp(sub, "importance") && strcmp(sub, "export") && strcmp(sub, "shap"))
    return usage_error("unknown subcommand '%s'", sub);
  gbdt_args a = {0};
  int rc = parse_args(argc, argv, &a);
  if (rc) return rc;
  /* Usage errors first, before the model is read. */
  kz_gbdt_importance_type type;
  if (!strcmp(sub, "importance") && a.type && !kz_gbdt_importance_parse(a.type, &type))
    return usage_error("--type must be weight, gain, total_gain, cover or total_cover, not '%s'",
                       a.type);
  if (!strcmp(sub, "export") && (!a.format || strcmp(a.format, "xgboost-json")))
    return usage_error("export needs --format xgboost-json (got '%s')", a.format ? a.format : "");
  if (strcmp(sub, "importance") && !a.out) return usage_error("%s needs --out", sub);
  if (!strcmp(sub, "shap") && !a.data) return usage_error("%s needs --data", sub);
  if (a.overwrite && !strcmp(sub, "importance"))
    return usage_error("%s has no output file (--overwrite)", sub);
  /* The output never replaces the model or the data set (its directory,
   * manifest or a shard in it), nor an existing file without --overwrite. */
  if (a.out) {
    char manifest[4200] = "", out_dir[4200];
    if (a.data) snprintf(manifest, sizeof manifest, "%s/manifest.json", a.data);
    const char *slash = strrchr(a.out, '/');
    snprintf(out_dir, sizeof out_dir, "%.*s", slash ? (int)(slash - a.out) : 1,
             slash ? a.out : ".");
    const char *inputs[] = {a.model, a.data, a.data ? manifest : NULL};
    if (kz_fs_check_output("--out", a.out, inputs, 3, a.overwrite) != KZ_OK)
      return kz_cli_fail("gbdt");
    if (kz_fs_same_file(out_dir, a.data)) {
      kz_fail(KZ_ERR_INVALID_ARG, "--out %s is inside the data set %s; choose another file", a.out,
              a.data);
      return kz_cli_fail("gbdt");
    }
  }
  kz_gbdt_model *m = NULL;
  if (kz_gbdt_model_load_json(a.model, &m) != KZ_OK) return kz_cli_fail("gbdt");
  if (!strcmp(sub, "importance"))
    rc = run_importance(m, &a);
  else if (!strcmp(sub, "export"))
    rc = run_export(m, &a);
  else
    rc = run_shap(m, &a);
  kz_gbdt_model_free(m);
  return rc;
}
