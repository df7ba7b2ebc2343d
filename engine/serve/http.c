/* The KServe v2 HTTP front end (kz_http_*, docs/SERVING.md) on libmicrohttpd.
 *
 * MHD's own threads poll the sockets (epoll where there is one). An infer
 * request is parsed on that thread, then the connection is suspended while
 * the model's worker runs it; the worker's callback stores the answer and
 * resumes the connection, and MHD calls the handler once more to send it. So
 * a slow model never holds an HTTP thread, and open connections are bounded
 * by max_connections, not by threads. Limits are checked before any work:
 * the token, then the declared body size, then the bytes that arrive. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/serve/infer_json.h"
#include "engine/serve/server_internal.h"
#include "kernels/core/error.h"

static const int code_list[] = {200, 400, 401, 404, 405, 413, 500, 503};
enum { N_CODES = (int)(sizeof code_list / sizeof code_list[0]) };

struct kz_http {
  kz_server *server;
  struct MHD_Daemon *d;
  kz_http_options o;
  char *token;
  size_t token_len;
  FILE *log;
  int own_log;
  int port;
  pthread_mutex_t mu; /* everything below, and the log */
  pthread_cond_t idle;
  int64_t open_requests;
  int draining;
  uint64_t next_id;
  uint64_t codes[N_CODES + 1]; /* the last: any other code */
};

enum { READING = 0, WAITING = 1, ANSWERED = 2 };

/* One HTTP request, from its headers to the completion callback. */
typedef struct req_ctx {
  kz_http *h;
  struct MHD_Connection *conn;
  uint64_t id;
  int64_t t0;
  char method[8];
  char path[160];
  char *body;
  size_t len, cap;
  int too_big, replied, state;
  /* the answer, set by the worker's callback before it resumes us */
  int status;
  char *answer;
  char model[KZ_SERVE_NAME_MAX + 1];
  char adapter[KZ_SERVE_NAME_MAX + 1]; /* the LoRA adapter asked for, "" none */
  int64_t version, rows, queue_us, compute_us;
  size_t bytes_out;
} req_ctx;

void kz_http_options_default(kz_http_options *o) {
  memset(o, 0, sizeof *o);
  o->host = "127.0.0.1";
  o->port = 8000;
  o->max_body_bytes = 16 << 20;
  o->request_timeout_s = 30;
  o->max_connections = 1024;
  o->threads = 4;
}

int kz_http_port(const kz_http *h) {
  return h ? h->port : 0;
}

/* ---- replies ----------------------------------------------------------------- */

static enum MHD_Result send_body(req_ctx *x, int status, char *body, const char *type) {
  if (!body) {
    status = 500;
    body = malloc(32);
    if (body) snprintf(body, 32, "{\"error\":\"out of memory\"}");
  }
  size_t n = body ? strlen(body) : 0;
  struct MHD_Response *r = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (status == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
  if (status == 405)
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, strstr(x->path, "/infer") ? "POST" : "GET");
  if (status == 413 || __atomic_load_n(&x->h->draining, __ATOMIC_RELAXED))
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  x->status = status;
  x->bytes_out = n;
  x->replied = 1;
  enum MHD_Result ret = MHD_queue_response(x->conn, (unsigned)status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_json(req_ctx *x, int status, char *json) {
  return send_body(x, status, json, "application/json");
}

static enum MHD_Result send_error(req_ctx *x, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(req_ctx *x, int status, const char *fmt, ...) {
  char msg[1200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return send_json(x, status, kz_json_error_body(msg));
}

static enum MHD_Result send_status(req_ctx *x, kz_status st) {
  return send_error(x, kz_http_status_of(st), "%s", kz_last_error());
}

/* ---- the log and the counters ---------------------------------------------------- */

static void log_request(kz_http *h, const req_ctx *x) {
  int64_t dur = kz_serve_now_us() - x->t0;
  int k = 0;
  while (k < N_CODES && code_list[k] != x->status) ++k;
  pthread_mutex_lock(&h->mu);
  h->codes[k]++;
  pthread_mutex_unlock(&h->mu);
  if (!h->log) return;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[96];
  snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  /* sizes and timings only, never the payload; the path goes through jansson
   * so whatever bytes a client put there cannot break the line */
  json_t *j = json_pack("{s:s, s:I, s:s, s:s?, s:i, s:I, s:I, s:I}", "ts", when, "id",
                        (json_int_t)x->id, "method", x->method, "path", x->path, "status",
                        x->status ? x->status : 499, "bytes_in", (json_int_t)x->len, "bytes_out",
                        (json_int_t)x->bytes_out, "duration_us", (json_int_t)dur);
  if (!j) j = json_pack("{s:s, s:I, s:s}", "ts", when, "id", (json_int_t)x->id, "path", "?");
  if (j && x->model[0]) {
    json_object_set_new(j, "model", json_string(x->model));
    json_object_set_new(j, "version", json_integer(x->version));
    json_object_set_new(j, "rows", json_integer(x->rows));
    json_object_set_new(j, "queue_us", json_integer(x->queue_us));
    json_object_set_new(j, "compute_us", json_integer(x->compute_us));
    if (x->adapter[0]) json_object_set_new(j, "adapter", json_string(x->adapter));
  }
  char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(j);
  if (!line) return;
  pthread_mutex_lock(&h->mu);
  fprintf(h->log, "%s\n", line);
  fflush(h->log);
  pthread_mutex_unlock(&h->mu);
  free(line);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode why) {
  kz_http *h = cls;
  req_ctx *x = *con_cls;
  if (!x) return;
  if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK && x->status == 0) x->status = 499;
  log_request(h, x);
  free(x->body), free(x->answer);
  free(x);
  *con_cls = NULL;
  pthread_mutex_lock(&h->mu);
  if (--h->open_requests == 0) pthread_cond_broadcast(&h->idle);
  pthread_mutex_unlock(&h->mu);
}

static char *metrics_text(kz_http *h) {
  char *core = NULL;
  if (kz_server_metrics(h->server, &core) != KZ_OK) return NULL;
  size_t n = strlen(core), cap = n + 256 + 80 * (N_CODES + 1);
  char *s = malloc(cap);
  if (!s) {
    kz_string_free(core);
    return NULL;
  }
  memcpy(s, core, n);
  kz_string_free(core);
  n += (size_t)snprintf(s + n, cap - n,
                        "# HELP kaizen_http_responses HTTP responses sent, by status code\n"
                        "# TYPE kaizen_http_responses counter\n");
  pthread_mutex_lock(&h->mu);
  for (int k = 0; k <= N_CODES; ++k) {
    char code[8];
    snprintf(code, sizeof code, "%s", k < N_CODES ? "" : "other");
    if (k < N_CODES) snprintf(code, sizeof code, "%d", code_list[k]);
    n += (size_t)snprintf(s + n, cap - n, "kaizen_http_responses{code=\"%s\"} %llu\n", code,
                          (unsigned long long)h->codes[k]);
  }
  pthread_mutex_unlock(&h->mu);
  return s;
}

/* ---- inference ---------------------------------------------------------------- */

static void infer_done(kz_infer_response *resp, void *user) {
  req_ctx *x = user;
  kz_status st = kz_infer_response_status(resp);
  kz_infer_response_timings(resp, &x->queue_us, &x->compute_us, NULL);
  x->version = kz_infer_response_version(resp);
  if (st == KZ_OK) {
    kz_infer_tensor t;
    x->rows = kz_infer_response_output(resp, 0, &t) == KZ_OK ? t.shape[0] : 0;
    x->answer = kz_json_response_body(resp);
  } else {
    x->answer = kz_json_error_body(kz_infer_response_error(resp));
  }
  x->status = kz_http_status_of(st);
  kz_infer_response_free(resp);
  pthread_mutex_lock(&x->h->mu);
  x->state = ANSWERED;
  pthread_mutex_unlock(&x->h->mu);
  /* x may be freed as soon as the connection runs again: touch nothing after */
  MHD_resume_connection(x->conn);
}

static enum MHD_Result infer(req_ctx *x, const char *model, int64_t version) {
  kz_json_request jr;
  if (kz_json_request_parse(x->body, x->len, model, version, &jr) != KZ_OK)
    return send_status(x, KZ_ERR_INVALID_ARG);
  jr.req.timeout_us = (int64_t)x->h->o.request_timeout_s * 1000000;
  if (jr.req.adapter) snprintf(x->adapter, sizeof x->adapter, "%s", jr.req.adapter);
  /* suspended before it is queued: the answer may come before submit returns */
  MHD_suspend_connection(x->conn);
  x->state = WAITING;
  kz_status st = kz_server_infer_async(x->h->server, &jr.req, infer_done, x);
  kz_json_request_free(&jr);
  if (st != KZ_OK) {
    x->status = kz_http_status_of(st);
    x->answer = kz_json_error_body(kz_last_error());
    x->state = ANSWERED;
    MHD_resume_connection(x->conn);
  }
  return MHD_YES;
}

/* ---- routes ------------------------------------------------------------------- */

/* Splits "/v2/models/m/versions/3/infer" into at most 8 segments in buf. */
static int split_path(const char *url, char *buf, size_t cap, char **seg) {
  snprintf(buf, cap, "%s", url);
  int n = 0;
  for (char *p = buf; *p && n < 8;) {
    while (*p == '/') *p++ = '\0';
    if (!*p) break;
    seg[n++] = p;
    while (*p && *p != '/') ++p;
  }
  return n;
}

static int parse_version(const char *s, int64_t *v) {
  char *end;
  long long x = strtoll(s, &end, 10);
  if (*end || x < 1 || end == s) return 0;
  *v = x;
  return 1;
}

static enum MHD_Result route(req_ctx *x, const char *url, int get, int post) {
  kz_http *h = x->h;
  char buf[512], *seg[8] = {0};
  if (strlen(url) >= sizeof buf) return send_error(x, 404, "no such route");
  int n = split_path(url, buf, sizeof buf, seg);
  if (n == 1 && !strcmp(seg[0], "metrics")) {
    if (!get) return send_error(x, 405, "use GET");
    char *text = metrics_text(h);
    if (!text) return send_status(x, KZ_ERR_OUT_OF_MEMORY);
    return send_body(x, 200, text, "text/plain; version=0.0.4");
  }
  if (n < 1 || strcmp(seg[0], "v2")) return send_error(x, 404, "no such route: %.100s", url);
  if (n == 1) {
    if (!get) return send_error(x, 405, "use GET");
    char *json = NULL;
    if (kz_server_metadata(h->server, &json) != KZ_OK) return send_status(x, KZ_ERR_INTERNAL);
    return send_json(x, 200, json);
  }
  if (n == 3 && !strcmp(seg[1], "health") &&
      (!strcmp(seg[2], "live") || !strcmp(seg[2], "ready"))) {
    if (!get) return send_error(x, 405, "use GET");
    int live = seg[2][0] == 'l';
    if (!live && __atomic_load_n(&h->draining, __ATOMIC_RELAXED))
      return send_error(x, 503, "shutting down");
    char *json = malloc(32);
    if (json) snprintf(json, 32, "{\"%s\":true}", live ? "live" : "ready");
    return send_json(x, 200, json);
  }
  if (n < 3 || strcmp(seg[1], "models")) return send_error(x, 404, "no such route: %.100s", url);
  const char *model = seg[2];
  int64_t version = 0;
  int at = 3;
  if (n >= 5 && !strcmp(seg[3], "versions")) {
    if (!parse_version(seg[4], &version))
      return send_error(x, 400, "version '%.40s': expected a positive integer", seg[4]);
    at = 5;
  }
  snprintf(x->model, sizeof x->model, "%s", model);
  x->version = version;
  const char *what = at < n ? seg[at] : NULL;
  if (at + 1 < n || (what && strcmp(what, "ready") && strcmp(what, "infer")))
    return send_error(x, 404, "no such route: %.100s", url);
  if (!what) { /* metadata */
    if (!get) return send_error(x, 405, "use GET");
    char *json = NULL;
    kz_status st = kz_server_model_metadata(h->server, model, version, &json);
    return st == KZ_OK ? send_json(x, 200, json) : send_status(x, st);
  }
  if (!strcmp(what, "ready")) {
    if (!get) return send_error(x, 405, "use GET");
    if (!kz_server_model_ready(h->server, model, version))
      return send_error(x, 404, "model '%.64s'%s is not ready", model, version ? " (version)" : "");
    json_t *j = json_pack("{s:s, s:b}", "name", model, "ready", 1);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return send_json(x, 200, s);
  }
  if (!post) return send_error(x, 405, "use POST");
  return infer(x, model, version);
}

/* Constant-time comparison: the time taken tells nothing about the token. */
static int token_ok(const kz_http *h, struct MHD_Connection *c) {
  const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!a || strncmp(a, "Bearer ", 7)) return 0;
  a += 7;
  size_t n = strlen(a);
  unsigned diff = n != h->token_len;
  for (size_t i = 0; i < h->token_len; ++i)
    diff |= (unsigned char)h->token[i] ^ (unsigned char)(i < n ? a[i] : 0);
  return diff == 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
  kz_http *h = cls;
  req_ctx *x = *con_cls;
  if (!x) {
    if (!(x = calloc(1, sizeof *x))) return MHD_NO;
    x->h = h, x->conn = c, x->t0 = kz_serve_now_us();
    snprintf(x->method, sizeof x->method, "%s", method);
    snprintf(x->path, sizeof x->path, "%s", url);
    pthread_mutex_lock(&h->mu);
    x->id = ++h->next_id;
    h->open_requests++;
    pthread_mutex_unlock(&h->mu);
    *con_cls = x;
    if (__atomic_load_n(&h->draining, __ATOMIC_RELAXED)) return send_error(x, 503, "shutting down");
    int health = !strncmp(url, "/v2/health/", 11);
    if (h->token && !health && !token_ok(h, c))
      return send_error(x, 401, "missing or wrong bearer token (Authorization: Bearer ...)");
    const char *cl =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoll(cl, NULL, 10) > h->o.max_body_bytes)
      return send_error(x, 413, "the body is larger than the limit of %lld bytes",
                        (long long)h->o.max_body_bytes);
    return MHD_YES;
  }
  if (*upload_size) {
    if (!x->replied && !x->too_big) {
      if (x->len + *upload_size > (size_t)h->o.max_body_bytes) {
        x->too_big = 1;
      } else {
        if (x->len + *upload_size + 1 > x->cap) {
          size_t cap = x->cap ? x->cap : 4096;
          while (cap < x->len + *upload_size + 1) cap *= 2;
          char *b = realloc(x->body, cap);
          if (!b) return MHD_NO;
          x->body = b, x->cap = cap;
        }
        memcpy(x->body + x->len, upload, *upload_size);
        x->len += *upload_size;
      }
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (x->replied) return MHD_YES;
  pthread_mutex_lock(&h->mu);
  int state = x->state;
  pthread_mutex_unlock(&h->mu);
  if (state == ANSWERED) {
    char *a = x->answer;
    x->answer = NULL;
    return send_json(x, x->status, a);
  }
  if (state == WAITING) return MHD_YES; /* not ours to answer yet */
  if (x->too_big)
    return send_error(x, 413, "the body is larger than the limit of %lld bytes",
                      (long long)h->o.max_body_bytes);
  int get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
  return route(x, url, get, post);
}

/* ---- life cycle ------------------------------------------------------------------ */

static kz_status read_options(const kz_http_options *o) {
  if (o->port < 0 || o->port > 65535)
    return kz_fail(KZ_ERR_INVALID_ARG, "port %d: must be 0..65535", o->port);
  if (o->max_body_bytes < 1) return kz_fail(KZ_ERR_INVALID_ARG, "max_body_bytes must be positive");
  if (o->request_timeout_s < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "request_timeout_s must be positive");
  if (o->max_connections < 1)
    return kz_fail(KZ_ERR_INVALID_ARG, "max_connections must be positive");
  if (o->threads < 1 || o->threads > 256) return kz_fail(KZ_ERR_INVALID_ARG, "threads: 1..256");
  if (o->token && !o->token[0]) return kz_fail(KZ_ERR_INVALID_ARG, "the bearer token is empty");
  return KZ_OK;
}

static void free_http(kz_http *h) {
  if (h->own_log && h->log) fclose(h->log);
  if (h->token) {
    memset(h->token, 0, h->token_len);
    free(h->token);
  }
  pthread_cond_destroy(&h->idle);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

kz_status kz_http_start(kz_server *s, const kz_http_options *options, kz_http **out) {
  if (!s || !out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_http_start: NULL argument");
  *out = NULL;
  kz_http_options o;
  if (options)
    o = *options;
  else
    kz_http_options_default(&o);
  if (!o.host) o.host = "127.0.0.1";
  KZ_TRY(read_options(&o));
  struct addrinfo hints = {
      .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *ai = NULL;
  char port[16];
  snprintf(port, sizeof port, "%d", o.port);
  int e = getaddrinfo(o.host, port, &hints, &ai);
  if (e) return kz_fail(KZ_ERR_INVALID_ARG, "host '%s': %s", o.host, gai_strerror(e));
  kz_http *h = calloc(1, sizeof *h);
  if (!h) {
    freeaddrinfo(ai);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->idle, NULL);
  h->server = s;
  h->o = o;
  h->o.token = NULL, h->o.log_path = NULL, h->o.host = NULL; /* not kept: may be freed */
  if (o.token) {
    h->token_len = strlen(o.token);
    if (!(h->token = malloc(h->token_len + 1))) {
      freeaddrinfo(ai);
      free_http(h);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(h->token, o.token, h->token_len + 1);
  }
  if (o.log_path && !strcmp(o.log_path, "-")) {
    h->log = stderr;
  } else if (o.log_path) {
    if (!(h->log = fopen(o.log_path, "a"))) {
      freeaddrinfo(ai);
      free_http(h);
      return kz_fail(KZ_ERR_IO, "request log %s: cannot open for appending", o.log_path);
    }
    h->own_log = 1;
  }
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
  if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
  h->d = MHD_start_daemon(flags, (uint16_t)o.port, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
                          ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, (unsigned)o.max_connections,
                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o.request_timeout_s,
                          MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o.threads,
                          MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_END);
  freeaddrinfo(ai);
  if (!h->d) {
    free_http(h);
    return kz_fail(KZ_ERR_IO,
                   "cannot listen on %s port %d (in use, or not an address of this host)", o.host,
                   o.port);
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  h->port = info ? info->port : o.port;
  *out = h;
  return KZ_OK;
}

void kz_http_stop(kz_http *h) {
  if (!h) return;
  /* no new connections; requests already in (suspended ones included) run to
   * their answers, which MHD must still be running to send */
  /* the listener becomes ours, but MHD's threads may still poll it until
   * MHD_stop_daemon: closed only after that */
  MHD_socket listener = MHD_quiesce_daemon(h->d);
  pthread_mutex_lock(&h->mu);
  __atomic_store_n(&h->draining, 1, __ATOMIC_RELAXED);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += h->o.request_timeout_s;
  while (h->open_requests > 0)
    if (pthread_cond_timedwait(&h->idle, &h->mu, &until)) break;
  pthread_mutex_unlock(&h->mu);
  MHD_stop_daemon(h->d);
  if (listener != MHD_INVALID_SOCKET) close(listener);
  free_http(h);
}
