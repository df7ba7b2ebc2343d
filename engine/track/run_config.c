/* Effective-config comparison for resume (run_config.h). */
#define _POSIX_C_SOURCE 200809L
#include "engine/track/run_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/fsutil.h"
#include "engine/track/run_internal.h"
#include "kernels/core/error.h"

const char *const kz_run_config_free_keys[] = {"train.device", "train.threads", "output.runs_dir",
                                               NULL};

typedef struct leaf {
  char *path, *value;
} leaf;

typedef struct leaves {
  leaf *v;
  int n, cap, oom;
} leaves;

static void collect(const char *path, const char *value, void *ctx) {
  leaves *l = ctx;
  if (l->oom) return;
  if (l->n == l->cap) {
    int c = l->cap ? 2 * l->cap : 64;
    leaf *nv = realloc(l->v, sizeof *nv * (size_t)c);
    if (!nv) {
      l->oom = 1;
      return;
    }
    l->v = nv;
    l->cap = c;
  }
  leaf *e = &l->v[l->n];
  e->path = strdup(path);
  e->value = strdup(value);
  if (!e->path || !e->value) {
    free(e->path), free(e->value);
    l->oom = 1;
    return;
  }
  l->n++;
}

static void leaves_free(leaves *l) {
  for (int i = 0; i < l->n; ++i) free(l->v[i].path), free(l->v[i].value);
  free(l->v);
}

static const char *find(const leaves *l, const char *path) {
  for (int i = 0; i < l->n; ++i)
    if (!strcmp(l->v[i].path, path)) return l->v[i].value;
  return NULL;
}

static int ignored(const char *const *ignore, const char *path) {
  for (int i = 0; ignore && ignore[i]; ++i)
    if (!strcmp(ignore[i], path)) return 1;
  return 0;
}

static void add_diff(char *diff, size_t cap, int *n, const char *path, const char *was,
                     const char *now) {
  char item[512];
  snprintf(item, sizeof item, "%s%s (%s -> %s)", *n ? ", " : "", path, was ? was : "absent",
           now ? now : "absent");
  (*n)++;
  size_t used = strlen(diff), len = strlen(item);
  if (used >= 5 && !strcmp(diff + used - 5, ", ...")) return; /* already cut short */
  if (used + len < cap)
    memcpy(diff + used, item, len + 1);
  else if (used + 6 <= cap)
    memcpy(diff + used, ", ...", 6);
}

kz_status kz_run_config_diff(const char *run_dir, const kz_cfg *cfg, const char *const *ignore,
                             char *diff, size_t cap, int *n_diff) {
  *n_diff = 0;
  if (cap) diff[0] = '\0';
  char path[4200];
  if (snprintf(path, sizeof path, "%s/config.yaml", run_dir) >= (int)sizeof path)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: path too long", run_dir);
  kz_cfg *was = NULL, *now = NULL;
  char *yaml = NULL;
  kz_status st = kz_cfg_load_file(path, &was);
  if (st != KZ_OK) return kz_fail_context(st, "--resume: the run's config");
  /* The job's effective config, defaults included, read back as the run's
   * was written, so both sides spell every value the same way. */
  st = kz_cfg_effective_yaml(cfg, &yaml);
  if (st == KZ_OK) st = kz_cfg_load_string(yaml, "the job's effective config", &now);
  leaves a = {0}, b = {0};
  if (st == KZ_OK) {
    kz_cfg_walk(was, collect, &a);
    kz_cfg_walk(now, collect, &b);
    if (a.oom || b.oom) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "--resume: out of memory");
  }
  for (int i = 0; st == KZ_OK && i < a.n; ++i) {
    if (ignored(ignore, a.v[i].path)) continue;
    const char *v = find(&b, a.v[i].path);
    if (!v || strcmp(v, a.v[i].value)) add_diff(diff, cap, n_diff, a.v[i].path, a.v[i].value, v);
  }
  for (int i = 0; st == KZ_OK && i < b.n; ++i)
    if (!ignored(ignore, b.v[i].path) && !find(&a, b.v[i].path))
      add_diff(diff, cap, n_diff, b.v[i].path, NULL, b.v[i].value);
  leaves_free(&a);
  leaves_free(&b);
  free(yaml);
  kz_cfg_free(was);
  kz_cfg_free(now);
  return st;
}

kz_status kz_run_config_keep_old(const char *run_dir, int64_t step) {
  char from[4200], to[4300];
  snprintf(from, sizeof from, "%s/config.yaml", run_dir);
  snprintf(to, sizeof to, "%s/config.before-step-%lld.yaml", run_dir, (long long)step);
  if (kz_fs_exists(to)) return KZ_OK;
  char *text = NULL;
  size_t len = 0;
  KZ_TRY(kz_run_read_file(from, &text, &len));
  kz_status st = kz_fs_write_atomic(to, text, len);
  free(text);
  return st;
}
