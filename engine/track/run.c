/* Run directories (docs/RUNS.md): creation, config.yaml, params.json and
 * summary.json. metrics.csv lives in run_metrics.c. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs/atomic_file.h"
#include "engine/track/run_internal.h"
#include "kernels/core/error.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

uint64_t kz_run_peak_rss(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (uint64_t)ru.ru_maxrss * 1024u; /* Linux reports KiB */
}

/* A directory name component: no separators, no "." or "..", printable. */
static kz_status check_name(const char *what, const char *s) {
  if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > 200)
    return kz_fail(KZ_ERR_INVALID_ARG, "run: bad %s '%s'", what, s);
  for (const unsigned char *c = (const unsigned char *)s; *c; ++c)
    if (*c == '/' || *c == '\\' || *c < 0x20 || *c == 0x7f)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "run: bad %s '%s': a single directory name is expected (no '/')", what, s);
  return KZ_OK;
}

static kz_status mkdir_p(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n >= sizeof buf) return kz_fail(KZ_ERR_INVALID_ARG, "run: path too long: %s", path);
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; ++i) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    char saved = buf[i];
    buf[i] = '\0';
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
      return kz_fail(KZ_ERR_IO, "run: cannot create directory %s: %s", buf, strerror(errno));
    struct stat sb;
    if (stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
      return kz_fail(KZ_ERR_IO, "run: %s exists and is not a directory", buf);
    buf[i] = saved;
  }
  return KZ_OK;
}

static void make_run_id(char *buf, size_t cap) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  unsigned r = 0;
  int fd = open("/dev/urandom", O_RDONLY);
  if (fd < 0 || read(fd, &r, sizeof r) != (ssize_t)sizeof r)
    r = (unsigned)getpid() * 2654435761u ^ (unsigned)clock();
  if (fd >= 0) close(fd);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  snprintf(buf, cap, "%s-%04x", stamp, r & 0xffffu);
}

void kz_run_iso8601(time_t t, char *buf, size_t cap) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

kz_status kz_run_write_file(const char *path, const char *text) {
  return kz_fs_write_atomic(path, text, strlen(text));
}

kz_status kz_run_read_file(const char *path, char **text, size_t *len) {
  *text = NULL;
  if (len) *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return kz_fail(KZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
  size_t cap = 1 << 16, used = 0;
  char *buf = malloc(cap);
  while (buf) {
    used += fread(buf + used, 1, cap - used - 1, f);
    if (used < cap - 1) break;
    cap *= 2;
    char *b = realloc(buf, cap);
    if (!b) free(buf);
    buf = b;
  }
  int err = ferror(f);
  fclose(f);
  if (!buf) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  if (err) {
    free(buf);
    return kz_fail(KZ_ERR_IO, "%s: read error", path);
  }
  buf[used] = '\0';
  *text = buf;
  if (len) *len = used;
  return KZ_OK;
}

/* ---- run.pid (run.h) ----------------------------------------------------------- */

static void read_line(const char *path, char *buf, size_t cap) {
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f) return;
  if (!fgets(buf, (int)cap, f)) buf[0] = '\0';
  fclose(f);
  buf[strcspn(buf, "\r\n")] = '\0';
}

/* Field 22 of /proc/PID/stat (start time in clock ticks after boot), 0 when
 * unreadable. The command name (field 2) may hold spaces and parentheses, so
 * fields are counted from its last ')'. */
static unsigned long long proc_start(long pid) {
  char path[64], line[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  read_line(path, line, sizeof line);
  const char *p = strrchr(line, ')');
  if (!p) return 0;
  unsigned long long v = 0;
  for (int field = 3; field <= 22 && *p; ++field) {
    while (*p && *p != ' ') ++p;
    while (*p == ' ') ++p;
    if (field == 22) v = strtoull(p, NULL, 10);
  }
  return v;
}

static void this_host(char *boot, size_t boot_cap, char *host, size_t host_cap) {
  read_line("/proc/sys/kernel/random/boot_id", boot, boot_cap);
  if (!boot[0]) snprintf(boot, boot_cap, "-");
  if (gethostname(host, host_cap) != 0 || !host[0]) snprintf(host, host_cap, "-");
  host[host_cap - 1] = '\0';
  for (char *c = host; *c; ++c)
    if (*c == ' ') *c = '_';
}

static kz_status write_owner(const char *dir) {
  char boot[64], host[256], text[512], path[4200];
  this_host(boot, sizeof boot, host, sizeof host);
  long pid = (long)getpid();
  snprintf(text, sizeof text, "%ld %llu %s %s\n", pid, proc_start(pid), boot, host);
  snprintf(path, sizeof path, "%s/run.pid", dir);
  return kz_run_write_file(path, text);
}

kz_run_owner kz_run_owner_state(const char *dir, long *pid_out) {
  if (pid_out) *pid_out = 0;
  char path[4200], line[512], boot[64], host[256], my_boot[64], my_host[256];
  snprintf(path, sizeof path, "%s/run.pid", dir);
  read_line(path, line, sizeof line);
  long pid = 0;
  unsigned long long start = 0;
  if (sscanf(line, "%ld %llu %63s %255s", &pid, &start, boot, host) != 4 || pid <= 0)
    return KZ_RUN_OWNER_UNKNOWN;
  if (pid_out) *pid_out = pid;
  this_host(my_boot, sizeof my_boot, my_host, sizeof my_host);
  if (strcmp(host, my_host)) return KZ_RUN_OWNER_UNKNOWN; /* its host may still run it */
  if (strcmp(boot, my_boot)) return KZ_RUN_OWNER_DEAD;    /* this host rebooted since */
  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) return KZ_RUN_OWNER_DEAD;
  unsigned long long now = proc_start(pid);
  /* another process under a recycled pid (when /proc tells) */
  if (start && now && now != start) return KZ_RUN_OWNER_DEAD;
  return KZ_RUN_OWNER_ALIVE;
}

kz_status kz_run_open(const kz_run_options *o, const kz_cfg *cfg, kz_run **out) {
  if (!out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_run_open: NULL output");
  *out = NULL;
  kz_run_options d = {0};
  if (o) d = *o;
  const char *runs_dir = d.runs_dir && *d.runs_dir ? d.runs_dir : "runs";
  const char *experiment = d.experiment && *d.experiment ? d.experiment : "default";
  char id[64];
  if (d.run_id && *d.run_id) {
    KZ_TRY(check_name("run id", d.run_id));
    snprintf(id, sizeof id, "%s", d.run_id);
    if (strlen(d.run_id) >= sizeof id)
      return kz_fail(KZ_ERR_INVALID_ARG, "run: run id '%s' is over %zu characters", d.run_id,
                     sizeof id - 1);
  } else {
    if (d.resume) return kz_fail(KZ_ERR_INVALID_ARG, "run: resuming needs the run id");
    make_run_id(id, sizeof id);
  }
  KZ_TRY(check_name("experiment", experiment));

  kz_run *r = calloc(1, sizeof *r);
  if (!r) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "run: out of memory");
  r->started = time(NULL);
  r->resumed = d.resume != 0;
  snprintf(r->id, sizeof r->id, "%s", id);
  snprintf(r->experiment, sizeof r->experiment, "%s", experiment);
  int n = snprintf(r->dir, sizeof r->dir, "%s/%s/%s", runs_dir, experiment, id);
  if (n < 0 || (size_t)n >= sizeof r->dir) {
    free(r);
    return kz_fail(KZ_ERR_INVALID_ARG, "run: directory path too long under %s", runs_dir);
  }

  char parent[sizeof r->dir];
  snprintf(parent, sizeof parent, "%s/%s", runs_dir, experiment);
  kz_status st = mkdir_p(parent);
  int created = 0;
  if (st == KZ_OK) {
    if (d.resume) {
      struct stat sb;
      if (stat(r->dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        st = kz_fail(KZ_ERR_NOT_FOUND, "run: cannot resume: %s is not a run directory", r->dir);
    } else if (mkdir(r->dir, 0777) != 0) {
      st =
          errno == EEXIST
              ? kz_fail(KZ_ERR_INVALID_ARG,
                        "run: %s already exists (pick another output.run_id, or resume it)", r->dir)
              : kz_fail(KZ_ERR_IO, "run: cannot create %s: %s", r->dir, strerror(errno));
    } else {
      created = 1;
    }
  }
  char path[sizeof r->dir + 64];
  if (st == KZ_OK) {
    snprintf(path, sizeof path, "%s/checkpoints", r->dir);
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
      st = kz_fail(KZ_ERR_IO, "run: cannot create %s: %s", path, strerror(errno));
  }
  if (st == KZ_OK && cfg) {
    snprintf(path, sizeof path, "%s/config.yaml", r->dir);
    st = kz_cfg_write_effective(cfg, path);
  }
  if (st == KZ_OK) st = write_owner(r->dir);
  if (st != KZ_OK) {
    if (created) {
      /* Leave nothing behind for a run that never started. */
      snprintf(path, sizeof path, "%s/checkpoints", r->dir);
      rmdir(path);
      rmdir(r->dir);
    }
    free(r);
    return st;
  }
  *out = r;
  return KZ_OK;
}

const char *kz_run_dir(const kz_run *r) {
  return r ? r->dir : "";
}

const char *kz_run_id(const kz_run *r) {
  return r ? r->id : "";
}

const char *kz_run_path(const kz_run *r, const char *name, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/%s", r ? r->dir : ".", name);
  return buf;
}

kz_status kz_run_write_params(kz_run *r, const char *json_object) {
  if (!r || !json_object) return kz_fail(KZ_ERR_INVALID_ARG, "kz_run_write_params: NULL argument");
  json_error_t jerr;
  json_t *j = json_loads(json_object, 0, &jerr);
  if (!j) return kz_fail(KZ_ERR_INVALID_ARG, "params.json: invalid JSON: %s", jerr.text);
  if (!json_is_object(j)) {
    json_decref(j);
    return kz_fail(KZ_ERR_INVALID_ARG, "params.json: expected a JSON object");
  }
  char path[sizeof r->dir + 32];
  kz_run_path(r, "params.json", path, sizeof path);
  kz_status st = kz_run_write_json(j, path);
  json_decref(j);
  return st;
}

kz_status kz_run_write_json(json_t *j, const char *path) {
  kz_atomic_file out;
  KZ_TRY(kz_atomic_file_open(&out, path));
  kz_status st = KZ_OK;
  if (json_dumpf(j, out.f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
    st = kz_fail(KZ_ERR_IO, "%s: cannot write", out.tmp);
  return kz_atomic_file_finish(&out, st);
}

/* JSON has no NaN or infinity: those become null. */
static json_t *number(double v) {
  return isfinite(v) ? json_real(v) : json_null();
}

static json_t *string_or_null(const char *s) {
  return s ? json_string(s) : json_null();
}

kz_status kz_run_finish(kz_run *r, const kz_run_summary *s) {
  if (!r || !s) return kz_fail(KZ_ERR_INVALID_ARG, "kz_run_finish: NULL argument");
  if (s->n_final < 0 || s->n_final > 16)
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_run_finish: n_final %d not in [0, 16]", s->n_final);
  kz_build_info b;
  kz_build_info_get(&b);
  char started[32], finished[32];
  kz_run_iso8601(r->started, started, sizeof started);
  kz_run_iso8601(time(NULL), finished, sizeof finished);

  json_t *j = json_object();
  json_t *final = json_object();
  if (!j || !final) {
    json_decref(j);
    json_decref(final);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "summary.json: out of memory");
  }
  int bad = 0;
  bad |= json_object_set_new(j, "run_id", json_string(r->id));
  bad |= json_object_set_new(j, "experiment", json_string(r->experiment));
  bad |= json_object_set_new(j, "status", string_or_null(s->status ? s->status : "finished"));
  bad |= json_object_set_new(j, "model_type", string_or_null(s->model_type));
  bad |= json_object_set_new(j, "steps", json_integer(s->steps));
  bad |= json_object_set_new(j, "wall_s", number(s->wall_s));
  for (int i = 0; i < s->n_final; ++i)
    if (s->final_names[i])
      bad |= json_object_set_new(final, s->final_names[i], number(s->final_values[i]));
  bad |= json_object_set_new(j, "final", final);
  bad |= json_object_set_new(j, "final_step",
                             s->final_step > 0 ? json_integer(s->final_step) : json_null());
  bad |= json_object_set_new(j, "best_metric", string_or_null(s->best_metric));
  bad |= json_object_set_new(j, "best_value", s->best_metric ? number(s->best_value) : json_null());
  bad |= json_object_set_new(j, "best_step",
                             s->best_metric ? json_integer(s->best_step) : json_null());
  uint64_t peak = s->peak_memory_bytes ? s->peak_memory_bytes : kz_run_peak_rss();
  bad |= json_object_set_new(j, "peak_memory_bytes", json_integer((json_int_t)peak));
  bad |= json_object_set_new(j, "device", string_or_null(s->device));
  bad |= json_object_set_new(j, "resumed", json_boolean(r->resumed));
  bad |= json_object_set_new(j, "kaizen_version", json_string(b.version));
  bad |= json_object_set_new(j, "git_hash", json_string(b.git_hash));
  bad |= json_object_set_new(j, "started", json_string(started));
  bad |= json_object_set_new(j, "finished", json_string(finished));
  kz_status st = KZ_OK;
  if (bad)
    st = kz_fail(KZ_ERR_INVALID_ARG, "summary.json: a field could not be stored (invalid UTF-8?)");
  if (st == KZ_OK) {
    char path[sizeof r->dir + 32];
    kz_run_path(r, "summary.json", path, sizeof path);
    st = kz_run_write_json(j, path);
  }
  json_decref(j);
  if (st == KZ_OK && r->metrics) fflush(r->metrics);
  if (st == KZ_OK) { /* summary.json now tells the run's state */
    char pid_path[sizeof r->dir + 32];
    kz_run_path(r, "run.pid", pid_path, sizeof pid_path);
    remove(pid_path);
  }
  return st;
}

void kz_run_close(kz_run *r) {
  if (!r) return;
  if (r->metrics) fclose(r->metrics);
  for (int i = 0; i < r->n_metrics; ++i) free(r->metric_names[i]);
  free(r->metric_names);
  free(r);
}

char *kz_run_strdup(const char *s) {
  return dup_str(s);
}
