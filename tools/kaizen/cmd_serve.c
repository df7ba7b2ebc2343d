/* kaizen serve: the inference server (docs/SERVING.md) over HTTP until
 * SIGINT/SIGTERM, or one request body answered offline (--request). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config/cfg.h"
#include "engine/serve/infer_json.h"
#include "kernels/core/error.h"
#include "tools/kaizen/commands.h"

enum { MAX_MODELS = 64 };

static void usage(FILE *out) {
  fprintf(out,
          "usage: kaizen serve --model NAME=PATH[:VERSION] ... [--adapter MODEL:NAME=DIR ...]\n"
          "                    [--config serve.yaml]\n"
          "                    [--host 127.0.0.1] [--port 8000] [--token-file F] [options]\n\n"
          "Serves models over HTTP with the KServe v2 protocol (docs/SERVING.md): health,\n"
          "metadata, inference (JSON tensors or named raw columns), Prometheus metrics at\n"
          "/metrics. SIGINT or SIGTERM stops accepting connections, answers the requests\n"
          "already in, and exits 0. Flags override the config file.\n\n"
          "  --model NAME=PATH[:V]  a model file (model.json, .kzm) served as NAME, version V\n"
          "                         (default: the next after those loaded); repeatable\n"
          "  --adapter MODEL:NAME=DIR  a LoRA adapter (a PEFT directory, a LoRA run's adapter/)\n"
          "                         loaded onto the transformer served as MODEL under NAME; a\n"
          "                         request picks it with \"parameters\": {\"adapter\": \"NAME\"}\n"
          "                         (none: the model itself); repeatable\n"
          "  --config FILE          YAML: server, batching and models sections (docs/SERVING.md)\n"
          "  --host ADDR            address to bind (default 127.0.0.1: this host only)\n"
          "  --port N               TCP port (default 8000; 0: any free port)\n"
          "  --port-file FILE       write the bound port there once listening\n"
          "  --token-file FILE      require 'Authorization: Bearer <token>' (the file's first\n"
          "                         line); KZ_SERVE_TOKEN=... does the same. Never in --config\n"
          "  --max-batch-size N     rows per model run; a request may not exceed it (1024)\n"
          "  --max-queue-delay-us N how long a request waits for others to batch with (0)\n"
          "  --max-queue-size N     requests waiting per model; more get 503 at once (1024)\n"
          "  --no-dynamic-batching  run every request alone\n"
          "  --max-body-bytes N     larger bodies get 413 (16777216)\n"
          "  --request-timeout S    idle connections closed, queued requests failed after S (30)\n"
          "  --max-connections N    concurrent connections (1024)\n"
          "  --threads N            HTTP threads (4)\n"
          "  --log FILE             one JSON line per request (- for stderr; default none)\n"
          "  --request FILE         answer one request body (- for stdin) for the first model on\n"
          "                         stdout and exit, without listening (1 if it fails)\n"
          "%s",
          kz_cli_common_help);
}

typedef struct serve_args {
  const char *models[MAX_MODELS];
  int n_models;
  const char *adapters[MAX_MODELS];
  int n_adapters;
  const char *config, *host, *port_file, *token_file, *log, *request;
  int64_t port, max_batch, delay, queue, body, timeout, conns, threads;
  int no_dynamic;
} serve_args;

static int parse_int(const char *flag, const char *v, int64_t *out) {
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || end == v || *end || x < 0) {
    fprintf(stderr, "kaizen serve: %s: '%s' is not a non-negative integer\n", flag, v);
    return 0;
  }
  *out = x;
  return 1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, serve_args *a, kz_cli_common *common) {
  memset(a, 0, sizeof *a);
  a->port = a->max_batch = a->delay = a->queue = a->body = a->timeout = a->conns = a->threads = -1;
  for (int i = 1; i < argc; ++i) {
    int c = kz_cli_common_option(common, argc, argv, &i);
    if (c < 0) return 2;
    if (c > 0) continue;
    const char *f = argv[i];
    if (!strcmp(f, "--help") || !strcmp(f, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(f, "--no-dynamic-batching")) {
      a->no_dynamic = 1;
      continue;
    }
    const char **s = !strcmp(f, "--config")       ? &a->config
                     : !strcmp(f, "--host")       ? &a->host
                     : !strcmp(f, "--port-file")  ? &a->port_file
                     : !strcmp(f, "--token-file") ? &a->token_file
                     : !strcmp(f, "--log")        ? &a->log
                     : !strcmp(f, "--request")    ? &a->request
                                                  : NULL;
    int64_t *n = !strcmp(f, "--port")                 ? &a->port
                 : !strcmp(f, "--max-batch-size")     ? &a->max_batch
                 : !strcmp(f, "--max-queue-delay-us") ? &a->delay
                 : !strcmp(f, "--max-queue-size")     ? &a->queue
                 : !strcmp(f, "--max-body-bytes")     ? &a->body
                 : !strcmp(f, "--request-timeout")    ? &a->timeout
                 : !strcmp(f, "--max-connections")    ? &a->conns
                 : !strcmp(f, "--threads")            ? &a->threads
                                                      : NULL;
    int model = !strcmp(f, "--model"), adapter = !strcmp(f, "--adapter");
    if ((!s && !n && !model && !adapter) || i + 1 >= argc) {
      fprintf(stderr, "kaizen serve: %s '%s'\n\n",
              s || n || model || adapter ? "missing value for" : "unknown option", f);
      usage(stderr);
      return 2;
    }
    const char *v = argv[++i];
    if (s) *s = v;
    if (n && !parse_int(f, v, n)) return 2;
    if (adapter) {
      if (a->n_adapters == MAX_MODELS) {
        fprintf(stderr, "kaizen serve: at most %d --adapter\n", MAX_MODELS);
        return 2;
      }
      a->adapters[a->n_adapters++] = v;
    }
    if (model) {
      if (a->n_models == MAX_MODELS) {
        fprintf(stderr, "kaizen serve: at most %d --model\n", MAX_MODELS);
        return 2;
      }
      a->models[a->n_models++] = v;
    }
  }
  return -1;
}

/* "name=path[:version]": the version is a trailing ":<digits>". */
static kz_status load_spec(kz_server *s, const char *spec) {
  const char *eq = strchr(spec, '=');
  if (!eq || eq == spec || !eq[1])
    return kz_fail(KZ_ERR_INVALID_ARG, "--model '%s': expected NAME=PATH[:VERSION]", spec);
  char name[128], path[4096];
  snprintf(name, sizeof name, "%.*s", (int)(eq - spec < 127 ? eq - spec : 127), spec);
  snprintf(path, sizeof path, "%s", eq + 1);
  int64_t version = 0;
  char *colon = strrchr(path, ':');
  if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
    version = strtoll(colon + 1, NULL, 10);
    *colon = '\0';
    if (version < 1) return kz_fail(KZ_ERR_INVALID_ARG, "--model '%s': versions start at 1", spec);
  }
  return kz_server_load(s, name, version, path, NULL);
}

/* "model:name=dir": the adapter goes onto the highest version of model. */
static kz_status load_adapter_spec(kz_server *s, const char *spec) {
  const char *colon = strchr(spec, ':'), *eq = strchr(spec, '=');
  if (!colon || !eq || colon == spec || eq < colon + 2 || !eq[1])
    return kz_fail(KZ_ERR_INVALID_ARG, "--adapter '%s': expected MODEL:NAME=DIR", spec);
  char model[128], name[128];
  snprintf(model, sizeof model, "%.*s", (int)(colon - spec < 127 ? colon - spec : 127), spec);
  snprintf(name, sizeof name, "%.*s", (int)(eq - colon - 1 < 127 ? eq - colon - 1 : 127),
           colon + 1);
  return kz_server_load_adapter(s, model, 0, name, eq + 1);
}

/* The token file's first line; a file others may read is named on stderr. */
static char *read_token(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "kaizen serve: --token-file %s: %s\n", path, strerror(errno));
    return NULL;
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0 && (sb.st_mode & 077))
    fprintf(stderr,
            "kaizen serve: warning: --token-file %s can be read by other users (chmod 600)\n",
            path);
  char *line = calloc(1, 4097);
  if (line && !fgets(line, 4097, f)) line[0] = '\0';
  fclose(f);
  if (!line) return NULL;
  line[strcspn(line, "\r\n")] = '\0';
  if (!line[0]) {
    fprintf(stderr, "kaizen serve: --token-file %s: the first line is empty\n", path);
    free(line);
    return NULL;
  }
  return line;
}

typedef struct settings {
  kz_server_options so;
  kz_http_options ho;
  const char *models[2 * MAX_MODELS];
  int n_models;
  const char *adapters[2 * MAX_MODELS];
  int n_adapters;
} settings;

/* Config values first, then the flags over them. */
static kz_status read_config(kz_cfg *cfg, settings *st) {
  const kz_cfg_node *server = kz_cfg_section(cfg, "server"), *b = kz_cfg_section(cfg, "batching");
  if (kz_cfg_has(server, "token") || kz_cfg_has(server, "token_file") ||
      kz_cfg_has(kz_cfg_root(cfg), "token"))
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the bearer token is never read from the config (configs get copied and "
                   "committed): use --token-file FILE or KZ_SERVE_TOKEN",
                   kz_cfg_name(cfg));
  int64_t v;
  KZ_TRY(kz_cfg_get_string(server, "host", st->ho.host, &st->ho.host));
  KZ_TRY(kz_cfg_get_int(server, "port", st->ho.port, 0, 65535, &v));
  st->ho.port = (int)v;
  KZ_TRY(kz_cfg_get_int(server, "max_body_bytes", st->ho.max_body_bytes, 1, (int64_t)1 << 40,
                        &st->ho.max_body_bytes));
  KZ_TRY(kz_cfg_get_int(server, "request_timeout_s", st->ho.request_timeout_s, 1, 86400, &v));
  st->ho.request_timeout_s = (int)v;
  KZ_TRY(kz_cfg_get_int(server, "max_connections", st->ho.max_connections, 1, 1000000, &v));
  st->ho.max_connections = (int)v;
  KZ_TRY(kz_cfg_get_int(server, "threads", st->ho.threads, 1, 256, &v));
  st->ho.threads = (int)v;
  KZ_TRY(kz_cfg_get_string(server, "log", "", &st->ho.log_path));
  if (!st->ho.log_path[0]) st->ho.log_path = NULL;
  KZ_TRY(kz_cfg_get_string(server, "device", "auto", &st->so.device));
  kz_batching *bt = &st->so.batching;
  KZ_TRY(kz_cfg_get_bool(b, "dynamic", bt->dynamic, &bt->dynamic));
  KZ_TRY(kz_cfg_get_int(b, "max_batch_size", bt->max_batch_size, 1, 1 << 20, &bt->max_batch_size));
  KZ_TRY(kz_cfg_get_int(b, "max_queue_delay_us", bt->max_queue_delay_us, 0, 10000000,
                        &bt->max_queue_delay_us));
  KZ_TRY(kz_cfg_get_int(b, "max_queue_size", bt->max_queue_size, 1, 1 << 20, &bt->max_queue_size));
  int n = 0;
  KZ_TRY(kz_cfg_get_string_list(kz_cfg_root(cfg), "models", NULL, 0, MAX_MODELS, st->models, &n));
  st->n_models = n;
  KZ_TRY(
      kz_cfg_get_string_list(kz_cfg_root(cfg), "adapters", NULL, 0, MAX_MODELS, st->adapters, &n));
  st->n_adapters = n;
  return kz_cfg_check_unused(cfg);
}

static void apply_flags(const serve_args *a, const kz_cli_common *common, settings *st) {
  kz_batching *bt = &st->so.batching;
  if (a->host) st->ho.host = a->host;
  if (a->port >= 0) st->ho.port = (int)a->port;
  if (a->max_batch >= 0) bt->max_batch_size = a->max_batch;
  if (a->delay >= 0) bt->max_queue_delay_us = a->delay;
  if (a->queue >= 0) bt->max_queue_size = a->queue;
  if (a->no_dynamic) bt->dynamic = 0;
  if (a->body >= 0) st->ho.max_body_bytes = a->body;
  if (a->timeout >= 0) st->ho.request_timeout_s = (int)a->timeout;
  if (a->conns >= 0) st->ho.max_connections = (int)a->conns;
  if (a->threads >= 0) st->ho.threads = (int)a->threads;
  if (a->log) st->ho.log_path = a->log;
  if (common->device) st->so.device = common->device;
  for (int i = 0; i < a->n_models; ++i) st->models[st->n_models++] = a->models[i];
  for (int i = 0; i < a->n_adapters; ++i) st->adapters[st->n_adapters++] = a->adapters[i];
}

/* --request: one body answered as the HTTP route would, printed on stdout. */
static int answer_one(kz_server *s, const char *first_spec, const char *path, int64_t limit) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) {
    fprintf(stderr, "kaizen: serve: --request %s: %s\n", path, strerror(errno));
    return 1;
  }
  char *body = malloc((size_t)limit + 1);
  size_t n = body ? fread(body, 1, (size_t)limit + 1, f) : 0;
  if (f != stdin) fclose(f);
  if (!body) return kz_cli_fail("serve");
  int code = 0;
  char *out = NULL;
  char name[128];
  snprintf(name, sizeof name, "%.*s", (int)strcspn(first_spec, "="), first_spec);
  if (n > (size_t)limit) {
    code = 413;
    fprintf(
        stderr,
        "kaizen: serve: --request %s: HTTP 413: the body is larger than the limit of %lld bytes\n",
        path, (long long)limit);
  } else {
    kz_json_request jr;
    kz_infer_response *resp = NULL;
    kz_status st = kz_json_request_parse(body, n, name, 0, &jr);
    if (st == KZ_OK) {
      st = kz_server_infer(s, &jr.req, &resp);
      kz_json_request_free(&jr);
    }
    code = kz_http_status_of(st);
    if (st == KZ_OK) {
      out = kz_json_response_body(resp);
      kz_infer_response_free(resp);
    } else {
      fprintf(stderr, "kaizen: serve: --request %s: HTTP %d: %s\n", path, code, kz_last_error());
    }
  }
  free(body);
  if (out) printf("%s\n", out);
  free(out);
  return code == 200 ? 0 : 1;
}

static int write_port_file(const char *path, int port) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "kaizen serve: --port-file %s: %s\n", path, strerror(errno));
    return 1;
  }
  return 0;
}

static int run(const serve_args *a, settings *st) {
  /* every thread started from here on inherits the mask: the signals reach
   * only sigwait below, never a worker in the middle of a batch */
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, NULL);
  /* the token first: a wrong path fails before minutes of model loading */
  char *token = NULL;
  const char *env = getenv("KZ_SERVE_TOKEN");
  if (!a->request && a->token_file && !(token = read_token(a->token_file))) return 1;
  kz_server *s = NULL;
  int bad = kz_server_new(&st->so, &s) != KZ_OK;
  for (int i = 0; !bad && i < st->n_models; ++i) bad = load_spec(s, st->models[i]) != KZ_OK;
  for (int i = 0; !bad && i < st->n_adapters; ++i)
    bad = load_adapter_spec(s, st->adapters[i]) != KZ_OK;
  if (bad) {
    if (token) memset(token, 0, strlen(token)), free(token);
    kz_server_free(s);
    return kz_cli_fail("serve");
  }
  if (a->request) {
    int rc = answer_one(s, st->models[0], a->request, st->ho.max_body_bytes);
    kz_server_free(s);
    return rc;
  }
  st->ho.token = token ? token : (env && env[0] ? env : NULL);
  kz_http *h = NULL;
  kz_status rc = kz_http_start(s, &st->ho, &h);
  if (token) memset(token, 0, strlen(token)), free(token);
  if (rc != KZ_OK) {
    kz_server_free(s);
    return kz_cli_fail("serve");
  }
  fprintf(stderr, "kaizen serve: listening on http://%s:%d (%d model%s, token %s)\n", st->ho.host,
          kz_http_port(h), st->n_models, st->n_models == 1 ? "" : "s",
          st->ho.token ? "required" : "off");
  int fail = a->port_file ? write_port_file(a->port_file, kz_http_port(h)) : 0;
  int sig = 0;
  if (!fail) sigwait(&sigs, &sig);
  if (sig)
    fprintf(stderr, "kaizen serve: %s: draining requests, then exiting\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
  kz_http_stop(h);
  kz_server_free(s);
  return fail;
}

int kz_cmd_serve(int argc, char **argv) {
  serve_args a;
  kz_cli_common common = {0};
  int rc = parse_args(argc, argv, &a, &common);
  if (rc >= 0) return rc;
  if (kz_cli_common_apply(&common, NULL) != 0) return 1;
  settings st;
  memset(&st, 0, sizeof st);
  kz_server_options_default(&st.so);
  kz_http_options_default(&st.ho);
  kz_cfg *cfg = NULL;
  if (a.config) {
    if (kz_cfg_load_file(a.config, &cfg) != KZ_OK || read_config(cfg, &st) != KZ_OK) {
      kz_cfg_free(cfg);
      return kz_cli_fail("serve --config");
    }
  }
  apply_flags(&a, &common, &st);
  if (st.n_models == 0) {
    kz_cfg_free(cfg);
    fprintf(stderr, "kaizen serve: no model: give --model NAME=PATH (or models: in --config)\n\n");
    usage(stderr);
    return 2;
  }
  rc = run(&a, &st);
  kz_cfg_free(cfg); /* the settings' strings live in it */
  return rc;
}
