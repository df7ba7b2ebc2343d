/* Load generator for the inference server (bench/serve_bench.sh,
 * docs/SERVING.md "Performance").
 *
 *   serve_load http PORT MODEL BODY_FILE CONNECTIONS SECONDS [SERVER_PID]
 *     CONNECTIONS keep-alive connections to 127.0.0.1:PORT, each with one
 *     POST /v2/models/MODEL/infer in flight at a time, for SECONDS; with
 *     SERVER_PID, its resident memory at 10 s and at the end.
 *   serve_load inproc MODEL_FILE NAME BODY_FILE THREADS SECONDS DYNAMIC
 *     the same request through kz_server_infer in this process (the model
 *     loaded as NAME).
 * Prints one line: requests, errors, requests/s, p50 and p99 latency (us),
 * and the memory columns (kB; 0 when not measured). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/serve/infer_json.h"

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct worker {
  pthread_t th;
  int64_t until;
  int64_t *lat;
  size_t n, cap;
  int64_t errors;
  /* http */
  int port;
  const char *request; /* the whole HTTP request */
  size_t request_len;
  /* inproc */
  kz_server *server;
  const kz_infer_request *req;
} worker;

static void record(worker *w, int64_t us) {
  if (w->n == w->cap) {
    w->cap = w->cap ? 2 * w->cap : 1 << 16;
    int64_t *g = realloc(w->lat, w->cap * sizeof *g);
    if (!g) abort();
    w->lat = g;
  }
  w->lat[w->n++] = us;
}

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Reads one response; returns its status or -1. */
static int read_response(int fd, char *buf, size_t cap) {
  size_t have = 0;
  char *end = NULL;
  while (!end) {
    ssize_t k = read(fd, buf + have, cap - have - 1);
    if (k <= 0) return -1;
    have += (size_t)k;
    buf[have] = '\0';
    end = strstr(buf, "\r\n\r\n");
    if (!end && have + 1 >= cap) return -1;
  }
  int status = atoi(buf + 9);
  const char *cl = strcasestr(buf, "\r\nContent-Length:");
  size_t body = cl ? (size_t)atol(cl + 17) : 0;
  size_t got = have - (size_t)(end + 4 - buf);
  while (got < body) {
    ssize_t k = read(fd, buf, cap - 1 < body - got ? cap - 1 : body - got);
    if (k <= 0) return -1;
    got += (size_t)k;
  }
  return status;
}

static void *run_http(void *arg) {
  worker *w = arg;
  char buf[1 << 16];
  int fd = connect_to(w->port);
  while (now_us() < w->until) {
    if (fd < 0 && (fd = connect_to(w->port)) < 0) {
      w->errors++;
      continue;
    }
    int64_t t0 = now_us();
    if (write(fd, w->request, w->request_len) != (ssize_t)w->request_len ||
        read_response(fd, buf, sizeof buf) != 200) {
      w->errors++;
      close(fd);
      fd = -1;
      continue;
    }
    record(w, now_us() - t0);
  }
  if (fd >= 0) close(fd);
  return NULL;
}

static void *run_inproc(void *arg) {
  worker *w = arg;
  while (now_us() < w->until) {
    int64_t t0 = now_us();
    kz_infer_response *r = NULL;
    if (kz_server_infer(w->server, w->req, &r) != KZ_OK) {
      w->errors++;
      continue;
    }
    record(w, now_us() - t0);
    kz_infer_response_free(r);
  }
  return NULL;
}

static long rss_kb(long pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  long kb = 0;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
  if (f) fclose(f);
  return kb;
}

static int cmp(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)len + 1);
  if (s && fread(s, 1, (size_t)len, f) != (size_t)len) len = 0;
  if (s) s[len] = '\0';
  fclose(f);
  *n = (size_t)len;
  return s;
}

int main(int argc, char **argv) {
  int http = argc >= 7 && !strcmp(argv[1], "http");
  int inproc = argc >= 7 && !strcmp(argv[1], "inproc");
  if (!http && !inproc) {
    fprintf(stderr, "usage: serve_load http PORT MODEL BODY CONNECTIONS SECONDS [PID]\n"
                    "       serve_load inproc MODEL_FILE NAME BODY THREADS SECONDS DYNAMIC\n");
    return 2;
  }
  size_t body_len;
  char *body = slurp(argv[4], &body_len);
  if (!body) {
    fprintf(stderr, "serve_load: cannot read %s\n", argv[4]);
    return 1;
  }
  int n = atoi(argv[5]);
  int seconds = atoi(argv[6]);
  long pid = http && argc > 7 ? atol(argv[7]) : 0;
  worker *w = calloc((size_t)n, sizeof *w);
  char *request = NULL;
  kz_server *s = NULL;
  kz_json_request jr;
  if (http) {
    size_t cap = body_len + 512;
    request = malloc(cap);
    int h = snprintf(request, cap,
                     "POST /v2/models/%s/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                     argv[3], body_len);
    memcpy(request + h, body, body_len);
    for (int i = 0; i < n; ++i) {
      w[i].port = atoi(argv[2]);
      w[i].request = request;
      w[i].request_len = (size_t)h + body_len;
    }
  } else {
    kz_server_options o;
    kz_server_options_default(&o);
    o.device = "cpu";
    o.batching.dynamic = argc > 7 ? atoi(argv[7]) : 1;
    if (kz_server_new(&o, &s) != KZ_OK || kz_server_load(s, argv[3], 1, argv[2], NULL) != KZ_OK ||
        kz_json_request_parse(body, body_len, argv[3], 0, &jr) != KZ_OK) {
      fprintf(stderr, "serve_load: %s\n", kz_last_error());
      return 1;
    }
    for (int i = 0; i < n; ++i) w[i].server = s, w[i].req = &jr.req;
  }
  int64_t t0 = now_us(), until = t0 + (int64_t)seconds * 1000000;
  for (int i = 0; i < n; ++i) {
    w[i].until = until;
    pthread_create(&w[i].th, NULL, http ? run_http : run_inproc, &w[i]);
  }
  long rss10 = 0;
  if (pid) {
    while (now_us() < t0 + 10 * 1000000 && now_us() < until) usleep(100000);
    rss10 = rss_kb(pid);
  }
  long rss_end = 0;
  if (pid) {
    while (now_us() < until - 200000) usleep(100000);
    rss_end = rss_kb(pid);
  }
  size_t total = 0;
  int64_t errors = 0;
  for (int i = 0; i < n; ++i) {
    pthread_join(w[i].th, NULL);
    total += w[i].n;
    errors += w[i].errors;
  }
  double secs = (double)(now_us() - t0) / 1e6;
  int64_t *all = malloc((total ? total : 1) * sizeof *all);
  size_t at = 0;
  for (int i = 0; i < n; ++i) {
    memcpy(all + at, w[i].lat, w[i].n * sizeof *all);
    at += w[i].n;
    free(w[i].lat);
  }
  qsort(all, total, sizeof *all, cmp);
  printf("requests %zu errors %lld rps %.0f p50_us %lld p99_us %lld rss10_kb %ld rss_end_kb %ld\n",
         total, (long long)errors, (double)total / secs, (long long)(total ? all[total / 2] : 0),
         (long long)(total ? all[total * 99 / 100] : 0), rss10, rss_end);
  free(all), free(w), free(request), free(body);
  if (s) {
    kz_json_request_free(&jr);
    kz_server_free(s);
  }
  return errors ? 1 : 0;
}
