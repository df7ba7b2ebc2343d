/* kaizen runs: list, compare and plot the runs that training jobs recorded
 * (docs/RUNS.md). Reads only: summary.json, metrics.csv and config.yaml. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config/cfg.h"
#include "data/shard/fsutil.h"
#include "engine/track/runs_read.h"
#include "engine/track/svg_plot.h"
#include "kernels/core/error.h"
#include "tools/kaizen/commands.h"

static void usage(FILE *out) {
  fprintf(out, "usage: kaizen runs list [--runs-dir DIR] [--experiment E]\n"
               "       kaizen runs compare RUN... [--runs-dir DIR]\n"
               "       kaizen runs plot RUN... --metric NAME --out FILE.svg [--overwrite]\n"
               "                        [--runs-dir DIR]\n\n"
               "RUN is a run directory, or EXPERIMENT/RUN_ID under --runs-dir (default: runs).\n"
               "  list     one line per run: experiment, run id, model type, status, steps,\n"
               "           wall time, best metric and value, final primary metric\n"
               "  compare  one column per run: summary fields, every final metric, and the\n"
               "           config keys whose values differ between the runs\n"
               "  plot     an SVG line chart of one metrics.csv column against step; an\n"
               "           existing FILE.svg is replaced only with --overwrite, a run's own\n"
               "           files never\n");
}

/* ---- a text table ---------------------------------------------------------- */

typedef struct table {
  int cols, rows, cap;
  char **cells; /* rows x cols */
} table;

static int table_add(table *t, const char *const *cells) {
  if (t->rows == t->cap) {
    int cap = t->cap ? 2 * t->cap : 32;
    char **c = realloc(t->cells, (size_t)cap * (size_t)t->cols * sizeof *c);
    if (!c) return -1;
    t->cells = c;
    t->cap = cap;
  }
  for (int i = 0; i < t->cols; ++i) {
    const char *s = cells[i] ? cells[i] : "";
    char *d = malloc(strlen(s) + 1);
    if (!d) return -1;
    strcpy(d, s);
    t->cells[(size_t)t->rows * (size_t)t->cols + (size_t)i] = d;
  }
  ++t->rows;
  return 0;
}

static void table_print(const table *t) {
  size_t *w = calloc((size_t)t->cols, sizeof *w);
  if (!w) return;
  for (int r = 0; r < t->rows; ++r)
    for (int c = 0; c < t->cols; ++c) {
      size_t n = strlen(t->cells[(size_t)r * (size_t)t->cols + (size_t)c]);
      if (n > w[c]) w[c] = n;
    }
  for (int r = 0; r < t->rows; ++r) {
    for (int c = 0; c < t->cols; ++c) {
      const char *s = t->cells[(size_t)r * (size_t)t->cols + (size_t)c];
      if (c + 1 < t->cols)
        printf("%-*s  ", (int)w[c], s);
      else
        printf("%s", s);
    }
    printf("\n");
  }
  free(w);
}

static void table_free(table *t) {
  for (size_t i = 0; i < (size_t)t->rows * (size_t)t->cols; ++i) free(t->cells[i]);
  free(t->cells);
}

static void fmt_num(char *buf, size_t cap, double v) {
  if (isnan(v))
    snprintf(buf, cap, "-");
  else
    snprintf(buf, cap, "%.6g", v);
}

/* ---- list ------------------------------------------------------------------------ */

static int cmd_list(const char *runs_dir, const char *experiment) {
  kz_run_info *runs = NULL;
  int n = 0;
  if (kz_runs_scan(runs_dir, experiment, &runs, &n) != KZ_OK) return kz_cli_fail("runs list");
  table t = {.cols = 8};
  const char *head[] = {"experiment", "run", "model", "status", "steps", "wall_s", "best", "final"};
  int bad = table_add(&t, head);
  for (int i = 0; i < n && !bad; ++i) {
    const kz_run_info *r = &runs[i];
    char steps[32] = "-", wall[32], best[200] = "-", final[200] = "-";
    if (r->steps >= 0) snprintf(steps, sizeof steps, "%lld", (long long)r->steps);
    fmt_num(wall, sizeof wall, r->wall_s);
    if (r->best_metric[0]) {
      char v[32];
      fmt_num(v, sizeof v, r->best_value);
      snprintf(best, sizeof best, "%s=%s", r->best_metric, v);
    }
    double pv = NAN;
    const char *pname = kz_run_info_primary(r, &pv);
    if (pname) {
      char v[32];
      fmt_num(v, sizeof v, pv);
      snprintf(final, sizeof final, "%s=%s", pname, v);
    }
    const char *row[] = {r->experiment, r->run_id, r->model_type[0] ? r->model_type : "-",
                         r->status,     steps,     wall,
                         best,          final};
    bad = table_add(&t, row);
  }
  if (!bad) {
    table_print(&t);
    if (n == 0) printf("(no runs under %s)\n", runs_dir);
  }
  table_free(&t);
  free(runs);
  if (bad) {
    fprintf(stderr, "kaizen: runs list: out of memory\n");
    return 1;
  }
  return 0;
}

/* ---- resolving RUN arguments --------------------------------------------------------- */

static int resolve(const char *runs_dir, const char *arg, char *dir, size_t cap) {
  struct stat sb;
  if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    snprintf(dir, cap, "%s", arg);
    return 0;
  }
  int n = snprintf(dir, cap, "%s/%s", runs_dir, arg);
  if (n > 0 && (size_t)n < cap && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return 0;
  fprintf(stderr, "kaizen: runs: run '%s' not found (neither a directory nor %s/%s)\n", arg,
          runs_dir, arg);
  return 1;
}

/* ---- compare ---------------------------------------------------------------------- */

typedef struct config_keys {
  int run, n_runs;
  int n, cap;
  char **paths;
  char **values; /* n x n_runs; NULL where a run lacks the key */
} config_keys;

static void collect_key(const char *path, const char *value, void *ctx) {
  config_keys *k = ctx;
  int i = 0;
  while (i < k->n && strcmp(k->paths[i], path)) ++i;
  if (i == k->n) {
    if (k->n == k->cap) {
      int cap = k->cap ? 2 * k->cap : 64;
      char **p = realloc(k->paths, (size_t)cap * sizeof *p);
      if (!p) return;
      k->paths = p;
      char **v = realloc(k->values, (size_t)cap * (size_t)k->n_runs * sizeof *v);
      if (!v) return;
      k->values = v;
      k->cap = cap;
    }
    k->paths[i] = malloc(strlen(path) + 1);
    if (!k->paths[i]) return;
    strcpy(k->paths[i], path);
    for (int r = 0; r < k->n_runs; ++r) k->values[(size_t)i * (size_t)k->n_runs + (size_t)r] = NULL;
    ++k->n;
  }
  char *v = malloc(strlen(value) + 1);
  if (!v) return;
  strcpy(v, value);
  k->values[(size_t)i * (size_t)k->n_runs + (size_t)k->run] = v;
}

static int cmd_compare(const char *runs_dir, char **args, int n_args) {
  kz_run_info *runs = calloc((size_t)n_args, sizeof *runs);
  config_keys keys = {.n_runs = n_args};
  table t = {.cols = n_args + 1};
  const char **row = calloc((size_t)n_args + 1, sizeof *row);
  char(*cells)[600] = calloc((size_t)n_args, sizeof *cells);
  int rc = 0;
  if (!runs || !row || !cells) {
    fprintf(stderr, "kaizen: runs compare: out of memory\n");
    rc = 1;
  }
  for (int i = 0; i < n_args && !rc; ++i) {
    char dir[4096];
    rc = resolve(runs_dir, args[i], dir, sizeof dir);
    if (!rc && kz_run_info_read(dir, &runs[i]) != KZ_OK) rc = kz_cli_fail("runs compare");
    if (rc) break;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.yaml", dir);
    struct stat sb;
    if (stat(path, &sb) == 0) {
      kz_cfg *cfg = NULL;
      if (kz_cfg_load_file(path, &cfg) != KZ_OK) {
        rc = kz_cli_fail("runs compare");
        break;
      }
      keys.run = i;
      kz_cfg_walk(cfg, collect_key, &keys);
      kz_cfg_free(cfg);
    }
  }
  if (!rc) {
    row[0] = "run";
    for (int i = 0; i < n_args; ++i) {
      snprintf(cells[i], sizeof cells[i], "%s/%s", runs[i].experiment, runs[i].run_id);
      row[i + 1] = cells[i];
    }
    table_add(&t, row);
    static const char *const fields[] = {
        "status",     "model_type", "steps",           "wall_s", "best_metric",
        "best_value", "best_step",  "peak_memory_mib", "device", "git_hash",
        "started",    "finished",   "final_step"};
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; ++f) {
      row[0] = fields[f];
      for (int i = 0; i < n_args; ++i) {
        const kz_run_info *r = &runs[i];
        char *c = cells[i];
        size_t cap = sizeof cells[i];
        switch (f) {
        case 0:
          snprintf(c, cap, "%s", r->status);
          break;
        case 1:
          snprintf(c, cap, "%s", r->model_type[0] ? r->model_type : "-");
          break;
        case 2:
          r->steps >= 0 ? snprintf(c, cap, "%lld", (long long)r->steps) : snprintf(c, cap, "-");
          break;
        case 3:
          fmt_num(c, cap, r->wall_s);
          break;
        case 4:
          snprintf(c, cap, "%s", r->best_metric[0] ? r->best_metric : "-");
          break;
        case 5:
          fmt_num(c, cap, r->best_metric[0] ? r->best_value : NAN);
          break;
        case 6:
          r->best_metric[0] ? snprintf(c, cap, "%lld", (long long)r->best_step)
                            : snprintf(c, cap, "-");
          break;
        case 7:
          r->has_summary ? snprintf(c, cap, "%.1f", (double)r->peak_memory_bytes / (1 << 20))
                         : snprintf(c, cap, "-");
          break;
        case 8:
          snprintf(c, cap, "%s", r->device[0] ? r->device : "-");
          break;
        case 9:
          snprintf(c, cap, "%s", r->git_hash[0] ? r->git_hash : "-");
          break;
        case 10:
          snprintf(c, cap, "%s", r->started[0] ? r->started : "-");
          break;
        case 11:
          snprintf(c, cap, "%s", r->finished[0] ? r->finished : "-");
          break;
        default:
          r->final_step >= 0 ? snprintf(c, cap, "%lld", (long long)r->final_step)
                             : snprintf(c, cap, "-");
          break;
        }
        row[i + 1] = c;
      }
      table_add(&t, row);
    }
    /* every final metric, in order of first appearance */
    for (int i = 0; i < n_args; ++i)
      for (int m = 0; m < runs[i].n_final; ++m) {
        const char *name = runs[i].final_names[m];
        int seen = 0;
        for (int j = 0; j < i && !seen; ++j)
          for (int k = 0; k < runs[j].n_final && !seen; ++k)
            seen = !strcmp(runs[j].final_names[k], name);
        if (seen) continue;
        char label[160];
        snprintf(label, sizeof label, "final %s", name);
        row[0] = label;
        for (int j = 0; j < n_args; ++j) {
          double v = NAN;
          for (int k = 0; k < runs[j].n_final; ++k)
            if (!strcmp(runs[j].final_names[k], name)) v = runs[j].final_values[k];
          fmt_num(cells[j], sizeof cells[j], v);
          row[j + 1] = cells[j];
        }
        table_add(&t, row);
      }
    /* config keys whose values differ (or that some runs lack) */
    int n_diff = 0;
    for (int k = 0; k < keys.n; ++k) {
      char **vals = keys.values + (size_t)k * (size_t)n_args;
      int differ = 0;
      for (int i = 1; i < n_args && !differ; ++i)
        differ = (!vals[i] != !vals[0]) || (vals[i] && vals[0] && strcmp(vals[i], vals[0]));
      if (!differ) continue;
      ++n_diff;
      char label[600];
      snprintf(label, sizeof label, "config %s", keys.paths[k]);
      row[0] = label;
      for (int i = 0; i < n_args; ++i) row[i + 1] = vals[i] ? vals[i] : "-";
      table_add(&t, row);
    }
    table_print(&t);
    if (n_args > 1 && n_diff == 0) printf("(the configs do not differ)\n");
  }
  for (int k = 0; k < keys.n; ++k) {
    free(keys.paths[k]);
    for (int i = 0; i < n_args; ++i) free(keys.values[(size_t)k * (size_t)n_args + (size_t)i]);
  }
  free(keys.paths);
  free(keys.values);
  table_free(&t);
  free(cells);
  free(row);
  free(runs);
  return rc;
}

/* ---- plot ---------------------------------------------------------------------------- */

/* The SVG never replaces a file of a run it reads (metrics.csv, summary.json,
 * config.yaml, or any existing file in the run's directory: a model, a
 * checkpoint), nor another existing file without --overwrite. */
static int check_plot_out(const char *runs_dir, char **args, int n_args, const char *out,
                          int overwrite) {
  const char *slash = strrchr(out, '/');
  char out_dir[4096];
  snprintf(out_dir, sizeof out_dir, "%.*s", slash ? (int)(slash - out) : 1, slash ? out : ".");
  for (int i = 0; i < n_args; ++i) {
    char dir[4096], files[3][4200];
    if (resolve(runs_dir, args[i], dir, sizeof dir)) return 1;
    static const char *const names[] = {"metrics.csv", "summary.json", "config.yaml"};
    const char *inputs[3];
    for (int k = 0; k < 3; ++k) {
      snprintf(files[k], sizeof files[k], "%s/%s", dir, names[k]);
      inputs[k] = files[k];
    }
    if (kz_fs_check_output("--out", out, inputs, 3, 1) != KZ_OK) return kz_cli_fail("runs plot");
    if (kz_fs_exists(out) && kz_fs_same_file(out_dir, dir)) {
      kz_fail(KZ_ERR_INVALID_ARG, "--out %s is a file of the run %s; choose another file", out,
              args[i]);
      return kz_cli_fail("runs plot");
    }
  }
  if (kz_fs_check_output("--out", out, NULL, 0, overwrite) != KZ_OK)
    return kz_cli_fail("runs plot");
  return 0;
}

static int cmd_plot(const char *runs_dir, char **args, int n_args, const char *metric,
                    const char *out) {
  kz_metrics_table *tables = calloc((size_t)n_args, sizeof *tables);
  kz_plot_series *series = calloc((size_t)n_args, sizeof *series);
  double *xy = NULL;
  char(*labels)[600] = calloc((size_t)n_args, sizeof *labels);
  int rc = 0, found = 0;
  size_t total = 0;
  if (!tables || !series || !labels) {
    fprintf(stderr, "kaizen: runs plot: out of memory\n");
    rc = 1;
  }
  for (int i = 0; i < n_args && !rc; ++i) {
    char dir[4096], path[4200];
    rc = resolve(runs_dir, args[i], dir, sizeof dir);
    if (rc) break;
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    if (kz_metrics_read(path, &tables[i]) != KZ_OK) {
      rc = kz_cli_fail("runs plot");
      break;
    }
    kz_run_info info;
    if (kz_run_info_read(dir, &info) == KZ_OK)
      snprintf(labels[i], sizeof labels[i], "%s/%s", info.experiment, info.run_id);
    else
      snprintf(labels[i], sizeof labels[i], "%s", args[i]);
    total += (size_t)tables[i].n_rows;
  }
  if (!rc) {
    xy = malloc((2 * total + 1) * sizeof *xy);
    if (!xy) {
      fprintf(stderr, "kaizen: runs plot: out of memory\n");
      rc = 1;
    }
  }
  size_t used = 0;
  for (int i = 0; i < n_args && !rc; ++i) {
    const kz_metrics_table *t = &tables[i];
    series[i].label = labels[i];
    int col = kz_metrics_column(t, metric);
    if (col < 0) {
      fprintf(stderr, "kaizen: runs plot: %s has no metric '%s' (skipped)\n", args[i], metric);
      continue;
    }
    ++found;
    double *x = xy + used, *y = xy + used + (size_t)t->n_rows;
    for (int r = 0; r < t->n_rows; ++r) {
      x[r] = t->values[(size_t)r * (size_t)t->n_cols];
      y[r] = t->values[(size_t)r * (size_t)t->n_cols + (size_t)col];
    }
    series[i].n = t->n_rows;
    series[i].x = x;
    series[i].y = y;
    used += 2 * (size_t)t->n_rows;
  }
  if (!rc && !found) {
    fprintf(stderr, "kaizen: runs plot: no run has the metric '%s'\n", metric);
    rc = 1;
  }
  if (!rc && kz_svg_line_chart(out, metric, "step", metric, series, n_args) != KZ_OK)
    rc = kz_cli_fail("runs plot");
  if (!rc) printf("wrote %s (%d run%s)\n", out, found, found == 1 ? "" : "s");
  for (int i = 0; tables && i < n_args; ++i) kz_metrics_free(&tables[i]);
  free(tables);
  free(series);
  free(labels);
  free(xy);
  return rc;
}

/* ---- entry point -------------------------------------------------------------------- */

int kz_cmd_runs(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *sub = argv[1];
  if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
    usage(stdout);
    return 0;
  }
  if (strcmp(sub, "list") && strcmp(sub, "compare") && strcmp(sub, "plot")) {
    fprintf(stderr, "kaizen: runs: unknown subcommand '%s'\n\n", sub);
    usage(stderr);
    return 2;
  }
  const char *runs_dir = "runs", *experiment = NULL, *metric = NULL, *out = NULL;
  char **args = calloc((size_t)argc, sizeof *args);
  if (!args) return 1;
  int n_args = 0, rc = -1, overwrite = 0;
  for (int i = 2; i < argc && rc < 0; ++i) {
    const char *a = argv[i];
    const char **slot = !strcmp(a, "--runs-dir")     ? &runs_dir
                        : !strcmp(a, "--experiment") ? &experiment
                        : !strcmp(a, "--metric")     ? &metric
                        : !strcmp(a, "--out")        ? &out
                                                     : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      rc = 0;
    } else if (!strcmp(a, "--overwrite") && !strcmp(sub, "plot")) {
      overwrite = 1;
    } else if (slot) {
      if (i + 1 >= argc) {
        fprintf(stderr, "kaizen: runs %s: %s needs a value\n", sub, a);
        rc = 2;
      } else {
        *slot = argv[++i];
      }
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "kaizen: runs %s: unknown option '%s'\n", sub, a);
      rc = 2;
    } else {
      args[n_args++] = argv[i];
    }
  }
  if (rc < 0) {
    if (!strcmp(sub, "list")) {
      if (n_args) {
        fprintf(stderr, "kaizen: runs list: unexpected argument '%s'\n", args[0]);
        rc = 2;
      } else {
        rc = cmd_list(runs_dir, experiment);
      }
    } else if (n_args == 0) {
      fprintf(stderr, "kaizen: runs %s: name at least one RUN\n", sub);
      rc = 2;
    } else if (!strcmp(sub, "compare")) {
      rc = cmd_compare(runs_dir, args, n_args);
    } else if (!metric || !out) {
      fprintf(stderr, "kaizen: runs plot: --metric NAME and --out FILE.svg are required\n");
      rc = 2;
    } else {
      rc = check_plot_out(runs_dir, args, n_args, out, overwrite);
      if (!rc) rc = cmd_plot(runs_dir, args, n_args, metric, out);
    }
  }
  free(args);
  return rc;
}
