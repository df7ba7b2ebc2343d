/* Embedding kaizen's inference server in your own program (docs/SERVING.md,
 * "In your process"): load a model, score rows given as raw cells with one
 * synchronous call and one asynchronous call, then also serve it over HTTP
 * on a free loopback port for as long as the program runs.
 *
 * usage: embed_server MODEL_FILE COLUMN=VALUE...
 *   e.g. embed_server model.json carat=0.23 cut=Ideal color=E clarity=SI2 \
 *        depth=61.5 table=55 x=3.95 y=3.98 z=2.43
 * Values are text, read as `kaizen predict` reads a CSV cell ("" or NA:
 * missing), so one program serves any tabular model. Prints each output. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kaizen.h"

static int fail(const char *what) {
  fprintf(stderr, "embed_server: %s: %s\n", what, kz_last_error());
  return 1;
}

static void print_outputs(const char *how, const kz_infer_response *r) {
  for (int k = 0; k < kz_infer_response_output_count(r); ++k) {
    kz_infer_tensor t;
    if (kz_infer_response_output(r, k, &t) == KZ_OK)
      printf("%s %s %.9g\n", how, t.name, ((const double *)t.data)[0]);
  }
}

/* the asynchronous answer arrives on the model's worker thread */
typedef struct done {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  kz_infer_response *resp;
} done;

static void on_answer(kz_infer_response *resp, void *user) {
  done *d = user;
  pthread_mutex_lock(&d->mu);
  d->resp = resp;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: embed_server MODEL_FILE COLUMN=VALUE...\n");
    return 2;
  }
  int n = argc - 2;
  kz_infer_tensor *in = calloc((size_t)n, sizeof *in);
  char **names = calloc((size_t)n, sizeof *names);
  const char **values = calloc((size_t)n, sizeof *values);
  if (!in || !names || !values) return 1;
  for (int i = 0; i < n; ++i) {
    char *eq = strchr(argv[i + 2], '=');
    if (!eq) {
      fprintf(stderr, "embed_server: '%s': expected COLUMN=VALUE\n", argv[i + 2]);
      return 2;
    }
    names[i] = argv[i + 2];
    *eq = '\0';
    values[i] = eq + 1;
    /* one row; BYTES carries the cell's text whatever the column's type */
    in[i] = (kz_infer_tensor){names[i], KZ_TYPE_BYTES, 1, {1}, &values[i]};
  }

  kz_server_options o;
  kz_server_options_default(&o);
  o.device = "cpu";
  kz_server *s = NULL;
  if (kz_server_new(&o, &s) != KZ_OK) return fail("server");
  if (kz_server_load(s, "model", 1, argv[1], NULL) != KZ_OK) return fail("load");

  kz_infer_request r = {.model = "model", .n_inputs = n, .inputs = in};
  kz_infer_response *resp = NULL;
  if (kz_server_infer(s, &r, &resp) != KZ_OK) return fail("infer");
  print_outputs("sync", resp);
  kz_infer_response_free(resp);

  done d = {.resp = NULL};
  pthread_mutex_init(&d.mu, NULL);
  pthread_cond_init(&d.cv, NULL);
  if (kz_server_infer_async(s, &r, on_answer, &d) != KZ_OK) return fail("infer_async");
  pthread_mutex_lock(&d.mu);
  while (!d.resp) pthread_cond_wait(&d.cv, &d.mu);
  pthread_mutex_unlock(&d.mu);
  if (kz_infer_response_status(d.resp) != KZ_OK)
    fprintf(stderr, "embed_server: async: %s\n", kz_infer_response_error(d.resp));
  else
    print_outputs("async", d.resp);
  kz_infer_response_free(d.resp);

  /* the same server over HTTP, on any free port of 127.0.0.1 */
  kz_http_options ho;
  kz_http_options_default(&ho);
  ho.port = 0;
  kz_http *h = NULL;
  if (kz_http_start(s, &ho, &h) != KZ_OK) return fail("http");
  printf("http port %d\n", kz_http_port(h));
  kz_http_stop(h);

  kz_server_free(s);
  free(in), free(names), free(values);
  return 0;
}
