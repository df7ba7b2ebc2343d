/* Reading run directories back: summary.json, metrics.csv, and the runs
 * under a runs directory. Every error names the file at fault. */
#define _POSIX_C_SOURCE 200809L
#include "engine/track/runs_read.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config/cfg.h"
#include "engine/track/run_internal.h"
#include "kernels/core/error.h"

static void copy(char *dst, size_t cap, const char *src) {
  snprintf(dst, cap, "%s", src ? src : "");
}

/* dir/name into buf; an over-long path becomes "" (which no stat finds). */
static const char *join(char *buf, size_t cap, const char *dir, const char *name) {
  int n = snprintf(buf, cap, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= cap) buf[0] = '\0';
  return buf;
}

static int is_dir(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int is_file(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* ---- summary.json ---------------------------------------------------------- */

static kz_status get_string(json_t *j, const char *path, const char *key, char *dst, size_t cap) {
  json_t *v = json_object_get(j, key);
  if (!v || json_is_null(v)) return KZ_OK;
  if (!json_is_string(v))
    return kz_fail(KZ_ERR_FORMAT, "%s: field '%s' is not a string", path, key);
  copy(dst, cap, json_string_value(v));
  return KZ_OK;
}

static kz_status get_number(json_t *j, const char *path, const char *key, double *dst) {
  json_t *v = json_object_get(j, key);
  if (!v || json_is_null(v)) return KZ_OK;
  if (!json_is_number(v))
    return kz_fail(KZ_ERR_FORMAT, "%s: field '%s' is not a number", path, key);
  *dst = json_number_value(v);
  return KZ_OK;
}

static kz_status get_int(json_t *j, const char *path, const char *key, int64_t *dst) {
  json_t *v = json_object_get(j, key);
  if (!v || json_is_null(v)) return KZ_OK;
  if (!json_is_integer(v))
    return kz_fail(KZ_ERR_FORMAT, "%s: field '%s' is not an integer", path, key);
  *dst = (int64_t)json_integer_value(v);
  return KZ_OK;
}

static kz_status read_summary(const char *path, kz_run_info *r) {
  json_error_t jerr;
  json_t *j = json_load_file(path, 0, &jerr);
  if (!j) return kz_fail(KZ_ERR_FORMAT, "%s:%d: invalid JSON: %s", path, jerr.line, jerr.text);
  kz_status st = KZ_OK;
  if (!json_is_object(j)) st = kz_fail(KZ_ERR_FORMAT, "%s: expected a JSON object", path);
  double peak = 0;
  if (st == KZ_OK) st = get_string(j, path, "status", r->status, sizeof r->status);
  if (st == KZ_OK) st = get_string(j, path, "model_type", r->model_type, sizeof r->model_type);
  if (st == KZ_OK) st = get_string(j, path, "device", r->device, sizeof r->device);
  if (st == KZ_OK) st = get_string(j, path, "git_hash", r->git_hash, sizeof r->git_hash);
  if (st == KZ_OK) st = get_string(j, path, "started", r->started, sizeof r->started);
  if (st == KZ_OK) st = get_string(j, path, "finished", r->finished, sizeof r->finished);
  if (st == KZ_OK) st = get_string(j, path, "best_metric", r->best_metric, sizeof r->best_metric);
  if (st == KZ_OK) st = get_number(j, path, "best_value", &r->best_value);
  if (st == KZ_OK) st = get_int(j, path, "best_step", &r->best_step);
  if (st == KZ_OK) st = get_int(j, path, "steps", &r->steps);
  if (st == KZ_OK) st = get_int(j, path, "final_step", &r->final_step);
  if (st == KZ_OK) st = get_number(j, path, "wall_s", &r->wall_s);
  if (st == KZ_OK) st = get_number(j, path, "peak_memory_bytes", &peak);
  r->peak_memory_bytes = peak > 0 ? (uint64_t)peak : 0;
  json_t *final = st == KZ_OK ? json_object_get(j, "final") : NULL;
  if (final && !json_is_object(final) && !json_is_null(final))
    st = kz_fail(KZ_ERR_FORMAT, "%s: field 'final' is not an object", path);
  if (st == KZ_OK && json_is_object(final)) {
    const char *key;
    json_t *v;
    json_object_foreach(final, key, v) {
      if (r->n_final == KZ_RUN_INFO_MAX_FINAL) break;
      if (!json_is_number(v) && !json_is_null(v)) {
        st = kz_fail(KZ_ERR_FORMAT, "%s: final.%s is not a number", path, key);
        break;
      }
      copy(r->final_names[r->n_final], sizeof r->final_names[0], key);
      r->final_values[r->n_final++] = json_is_number(v) ? json_number_value(v) : NAN;
    }
  }
  json_decref(j);
  return st;
}

typedef struct find_ctx {
  const char *key;
  char *dst;
  size_t cap;
} find_ctx;

static void find_key(const char *path, const char *value, void *ctx) {
  find_ctx *f = ctx;
  if (!strcmp(path, f->key)) copy(f->dst, f->cap, value);
}

kz_status kz_run_info_read(const char *dir, kz_run_info *out) {
  memset(out, 0, sizeof *out);
  out->wall_s = NAN;
  out->best_value = NAN;
  out->steps = -1;
  out->final_step = -1;
  if (!is_dir(dir)) return kz_fail(KZ_ERR_NOT_FOUND, "%s: no such run directory", dir);
  copy(out->dir, sizeof out->dir, dir);
  /* experiment and run id: the last two path components */
  char tmp[4096];
  copy(tmp, sizeof tmp, dir);
  size_t len = strlen(tmp);
  while (len > 1 && tmp[len - 1] == '/') tmp[--len] = '\0';
  char *slash = strrchr(tmp, '/');
  copy(out->run_id, sizeof out->run_id, slash ? slash + 1 : tmp);
  if (slash) {
    *slash = '\0';
    char *prev = strrchr(tmp, '/');
    copy(out->experiment, sizeof out->experiment, prev ? prev + 1 : tmp);
  }
  char path[4200];
  join(path, sizeof path, dir, "summary.json");
  if (is_file(path)) {
    out->has_summary = 1;
    KZ_TRY(read_summary(path, out));
  } else {
    kz_run_owner o = kz_run_owner_state(dir, NULL);
    copy(out->status, sizeof out->status,
         o == KZ_RUN_OWNER_ALIVE  ? "running"
         : o == KZ_RUN_OWNER_DEAD ? "crashed"
                                  : "running/crashed");
  }
  if (!out->model_type[0]) {
    join(path, sizeof path, dir, "config.yaml");
    kz_cfg *cfg = NULL;
    if (is_file(path)) {
      KZ_TRY(kz_cfg_load_file(path, &cfg));
      find_ctx f = {"model.type", out->model_type, sizeof out->model_type};
      kz_cfg_walk(cfg, find_key, &f);
      kz_cfg_free(cfg);
    }
  }
  return KZ_OK;
}

/* The final metric the run was judged by: best_metric itself, or its split-
 * qualified name ("accuracy" matches "valid/accuracy"); else the first. */
static int names_metric(const char *final_name, const char *metric) {
  if (!metric[0]) return 0;
  if (!strcmp(final_name, metric)) return 1;
  const char *slash = strrchr(final_name, '/');
  return slash && !strchr(metric, '/') && !strcmp(slash + 1, metric);
}

const char *kz_run_info_primary(const kz_run_info *info, double *value) {
  if (info->n_final == 0) return NULL;
  int pick = 0;
  for (int i = info->n_final - 1; i >= 0; --i)
    if (names_metric(info->final_names[i], info->best_metric)) pick = i;
  *value = info->final_values[pick];
  return info->final_names[pick];
}

/* ---- scanning ---------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the subdirectories of dir (not starting with '.'). */
static kz_status subdirs(const char *dir, char ***out, int *n) {
  *out = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return kz_fail(KZ_ERR_NOT_FOUND, "%s: cannot open directory: %s", dir, strerror(errno));
  char **names = NULL;
  int count = 0, cap = 0;
  struct dirent *e;
  kz_status st = KZ_OK;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[4200];
    join(path, sizeof path, dir, e->d_name);
    if (!is_dir(path)) continue;
    if (count == cap) {
      cap = cap ? 2 * cap : 16;
      char **nn = realloc(names, (size_t)cap * sizeof *nn);
      if (!nn) {
        st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "runs: out of memory");
        break;
      }
      names = nn;
    }
    size_t len = strlen(e->d_name) + 1;
    names[count] = malloc(len);
    if (!names[count]) {
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "runs: out of memory");
      break;
    }
    memcpy(names[count++], e->d_name, len);
  }
  closedir(d);
  if (count) qsort(names, (size_t)count, sizeof *names, cmp_str);
  *out = names;
  *n = count;
  return st;
}

static void free_names(char **names, int n) {
  for (int i = 0; i < n; ++i) free(names[i]);
  free(names);
}

/* A run directory holds at least one of the files a run writes first. */
static int looks_like_run(const char *dir) {
  static const char *const files[] = {"config.yaml", "metrics.csv", "summary.json"};
  char path[4200];
  for (int i = 0; i < 3; ++i) {
    join(path, sizeof path, dir, files[i]);
    if (is_file(path)) return 1;
  }
  return 0;
}

kz_status kz_runs_scan(const char *runs_dir, const char *experiment, kz_run_info **out, int *n) {
  *out = NULL;
  *n = 0;
  if (!is_dir(runs_dir)) return kz_fail(KZ_ERR_NOT_FOUND, "%s: no such runs directory", runs_dir);
  char **exps = NULL;
  int n_exps = 0;
  if (experiment) {
    char path[4200];
    join(path, sizeof path, runs_dir, experiment);
    if (!is_dir(path))
      return kz_fail(KZ_ERR_NOT_FOUND, "%s: no experiment '%s' here", runs_dir, experiment);
    exps = malloc(sizeof *exps);
    if (!exps || !(exps[0] = malloc(strlen(experiment) + 1))) {
      free(exps);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "runs: out of memory");
    }
    strcpy(exps[0], experiment);
    n_exps = 1;
  } else {
    KZ_TRY(subdirs(runs_dir, &exps, &n_exps));
  }
  kz_run_info *infos = NULL;
  int count = 0, cap = 0;
  kz_status st = KZ_OK;
  for (int e = 0; e < n_exps && st == KZ_OK; ++e) {
    char exp_dir[4200];
    join(exp_dir, sizeof exp_dir, runs_dir, exps[e]);
    char **runs = NULL;
    int n_runs = 0;
    st = subdirs(exp_dir, &runs, &n_runs);
    for (int r = 0; r < n_runs && st == KZ_OK; ++r) {
      char dir[4400];
      join(dir, sizeof dir, exp_dir, runs[r]);
      if (!looks_like_run(dir)) continue;
      if (count == cap) {
        cap = cap ? 2 * cap : 16;
        kz_run_info *ni = realloc(infos, (size_t)cap * sizeof *ni);
        if (!ni) {
          st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "runs: out of memory");
          break;
        }
        infos = ni;
      }
      /* One damaged run (a malformed summary.json) must not hide the others:
       * it is skipped with a warning naming the file and what is wrong. */
      st = kz_run_info_read(dir, &infos[count]);
      if (st == KZ_OK) {
        ++count;
      } else if (st != KZ_ERR_OUT_OF_MEMORY) {
        fprintf(stderr, "kaizen: warning: %s (run skipped)\n", kz_last_error());
        kz_clear_error();
        st = KZ_OK;
      }
    }
    free_names(runs, n_runs);
  }
  free_names(exps, n_exps);
  if (st != KZ_OK) {
    free(infos);
    return st;
  }
  *out = infos;
  *n = count;
  return KZ_OK;
}

/* ---- metrics.csv ------------------------------------------------------------------ */

void kz_metrics_free(kz_metrics_table *t) {
  if (!t) return;
  for (int i = 0; i < t->n_cols; ++i) free(t->names[i]);
  free(t->names);
  free(t->values);
  memset(t, 0, sizeof *t);
}

int kz_metrics_column(const kz_metrics_table *t, const char *name) {
  for (int i = 0; i < t->n_cols; ++i)
    if (!strcmp(t->names[i], name)) return i;
  return -1;
}

/* Splits line at commas in place; returns the cell count (up to cap). */
static int split(char *line, char **cells, int cap) {
  int n = 0;
  for (char *p = line;;) {
    if (n < cap) cells[n] = p;
    ++n;
    char *c = strchr(p, ',');
    if (!c) break;
    *c = '\0';
    p = c + 1;
  }
  return n;
}

static kz_status parse_table(const char *path, char *text, kz_metrics_table *t) {
  char *line = text;
  int lineno = 0, cap_rows = 0;
  char **cells = NULL;
  kz_status st = KZ_OK;
  while (*line && st == KZ_OK) {
    char *nl = strchr(line, '\n');
    if (!nl) break; /* cut short by a crash */
    *nl = '\0';
    ++lineno;
    size_t len = (size_t)(nl - line);
    if (len && line[len - 1] == '\r') line[len - 1] = '\0';
    if (lineno == 1) {
      int n = 1;
      for (const char *c = line; *c; ++c) n += *c == ',';
      cells = malloc((size_t)n * sizeof *cells);
      t->names = calloc((size_t)n, sizeof *t->names);
      if (!cells || !t->names) {
        st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        break;
      }
      split(line, cells, n);
      if (n < 2 || strcmp(cells[0], "step") || strcmp(cells[1], "wall_s")) {
        st = kz_fail(KZ_ERR_FORMAT, "%s:1: header must start with 'step,wall_s'", path);
        break;
      }
      for (int i = 0; i < n; ++i) {
        t->names[i] = malloc(strlen(cells[i]) + 1);
        if (!t->names[i]) {
          st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
          break;
        }
        strcpy(t->names[i], cells[i]);
        t->n_cols = i + 1;
      }
    } else if (*line) {
      int n = split(line, cells, t->n_cols);
      if (n != t->n_cols) {
        st = kz_fail(KZ_ERR_FORMAT, "%s:%d: %d cells, the header has %d", path, lineno, n,
                     t->n_cols);
        break;
      }
      if (t->n_rows == cap_rows) {
        cap_rows = cap_rows ? 2 * cap_rows : 256;
        double *nv = realloc(t->values, (size_t)cap_rows * (size_t)t->n_cols * sizeof *nv);
        if (!nv) {
          st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
          break;
        }
        t->values = nv;
      }
      double *row = t->values + (size_t)t->n_rows * (size_t)t->n_cols;
      for (int i = 0; i < n && st == KZ_OK; ++i) {
        row[i] = NAN;
        if (!cells[i][0] && i > 0) continue;
        char *end = NULL;
        row[i] = strtod(cells[i], &end);
        if (end == cells[i] || *end)
          st = kz_fail(KZ_ERR_FORMAT, "%s:%d: column '%s': bad number '%.40s'", path, lineno,
                       t->names[i], cells[i]);
      }
      ++t->n_rows;
    }
    line = nl + 1;
  }
  if (st == KZ_OK && lineno == 0) st = kz_fail(KZ_ERR_FORMAT, "%s: empty, no header", path);
  free(cells);
  return st;
}

kz_status kz_metrics_read(const char *path, kz_metrics_table *t) {
  memset(t, 0, sizeof *t);
  char *buf = NULL;
  KZ_TRY(kz_run_read_file(path, &buf, NULL));
  kz_status st = parse_table(path, buf, t);
  free(buf);
  if (st != KZ_OK) kz_metrics_free(t);
  return st;
}
