/* kz_server: the list of loaded models and the request entry points
 * (include/kaizen.h, "serving"). A caller looks its model up and takes a
 * reference under the server's mutex, converts and queues its request without
 * it, then drops the reference; unload waits for references to drop before it
 * stops the model's worker, so no caller ever holds a freed model. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/serve/server_internal.h"
#include "kernels/core/error.h"

void kz_server_options_default(kz_server_options *o) {
  memset(o, 0, sizeof *o);
  o->batching.dynamic = 1;
  o->batching.max_batch_size = 1024;
  o->batching.max_queue_delay_us = 0;
  o->batching.max_queue_size = 1024;
}

static kz_status check_batching(const kz_batching *b) {
  if (b->max_batch_size < 1 || b->max_batch_size > (1 << 20))
    return kz_fail(KZ_ERR_INVALID_ARG, "max_batch_size %lld: must be in [1, 1048576]",
                   (long long)b->max_batch_size);
  if (b->max_queue_delay_us < 0 || b->max_queue_delay_us > 10000000)
    return kz_fail(KZ_ERR_INVALID_ARG, "max_queue_delay_us %lld: must be in [0, 10000000]",
                   (long long)b->max_queue_delay_us);
  if (b->max_queue_size < 1 || b->max_queue_size > (1 << 20))
    return kz_fail(KZ_ERR_INVALID_ARG, "max_queue_size %lld: must be in [1, 1048576]",
                   (long long)b->max_queue_size);
  return KZ_OK;
}

kz_status kz_server_new(const kz_server_options *options, kz_server **out) {
  if (!out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_server_new: NULL argument");
  *out = NULL;
  kz_server_options o;
  if (options)
    o = *options;
  else
    kz_server_options_default(&o);
  KZ_TRY(check_batching(&o.batching));
  if (o.device) {
    kz_device d;
    KZ_TRY(kz_device_parse(o.device, &d));
  }
  kz_server *s = calloc(1, sizeof *s);
  if (!s) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  s->options = o;
  if (o.device) {
    size_t n = strlen(o.device) + 1;
    if (!(s->device = malloc(n))) {
      free(s);
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    }
    memcpy(s->device, o.device, n);
  }
  s->options.device = s->device;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->released, NULL);
  *out = s;
  return KZ_OK;
}

void kz_server_free(kz_server *s) {
  if (!s) return;
  for (int i = 0; i < s->n_models; ++i) kz_serve_model_close(s->models[i]);
  free(s->models);
  pthread_cond_destroy(&s->released);
  pthread_mutex_destroy(&s->mu);
  free(s->device);
  free(s);
}

static kz_status check_name(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n < 1 || n > KZ_SERVE_NAME_MAX)
    return kz_fail(KZ_ERR_INVALID_ARG, "model name '%s': 1 to %d characters",
                   name ? name : "(null)", KZ_SERVE_NAME_MAX);
  for (size_t i = 0; i < n; ++i) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "model name '%s': only letters, digits, '_', '-' and '.' are allowed", name);
  }
  return KZ_OK;
}

/* s->mu held. version 0: the highest loaded. */
static kz_serve_model *find(kz_server *s, const char *name, int64_t version) {
  kz_serve_model *best = NULL;
  for (int i = 0; i < s->n_models; ++i) {
    kz_serve_model *m = s->models[i];
    if (strcmp(m->name, name)) continue;
    if (version > 0 ? m->version == version : (!best || m->version > best->version)) best = m;
  }
  return best;
}

static kz_status not_found(const char *name, int64_t version) {
  if (version > 0)
    return kz_fail(KZ_ERR_NOT_FOUND, "model '%s' version %lld is not loaded", name,
                   (long long)version);
  return kz_fail(KZ_ERR_NOT_FOUND, "model '%s' is not loaded", name);
}

kz_status kz_server_load(kz_server *s, const char *name, int64_t version, const char *path,
                         const kz_batching *batching) {
  if (!s || !path) return kz_fail(KZ_ERR_INVALID_ARG, "kz_server_load: NULL argument");
  KZ_TRY(check_name(name));
  const kz_batching *b = batching ? batching : &s->options.batching;
  KZ_TRY(check_batching(b));
  pthread_mutex_lock(&s->mu);
  if (version <= 0) {
    kz_serve_model *top = find(s, name, 0);
    version = top ? top->version + 1 : 1;
  }
  int taken = find(s, name, version) != NULL;
  pthread_mutex_unlock(&s->mu);
  if (taken)
    return kz_fail(KZ_ERR_INVALID_ARG, "model '%s' version %lld is already loaded", name,
                   (long long)version);
  /* Reading a model file can take a while: requests for the models already
   * loaded go on meanwhile. A load of the same name and version that won
   * the race is found when the list is locked again. */
  kz_serve_model *m = NULL;
  kz_status st = kz_serve_model_open(name, version, path, s->device, b, &m);
  if (st != KZ_OK) return kz_fail_context(st, "loading model '%s' from %s", name, path);
  pthread_mutex_lock(&s->mu);
  if (find(s, name, version))
    st = kz_fail(KZ_ERR_INVALID_ARG, "model '%s' version %lld is already loaded", name,
                 (long long)version);
  if (st == KZ_OK && s->n_models == s->cap_models) {
    int cap = s->cap_models ? 2 * s->cap_models : 8;
    kz_serve_model **grown = realloc(s->models, (size_t)cap * sizeof *grown);
    if (!grown)
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    else
      s->models = grown, s->cap_models = cap;
  }
  if (st == KZ_OK) s->models[s->n_models++] = m;
  pthread_mutex_unlock(&s->mu);
  if (st != KZ_OK) {
    kz_serve_model_close(m);
    return st;
  }
  return KZ_OK;
}

kz_serve_model *kz_server_acquire(kz_server *s, const char *name, int64_t version) {
  pthread_mutex_lock(&s->mu);
  kz_serve_model *m = find(s, name, version);
  if (m) m->refs++;
  pthread_mutex_unlock(&s->mu);
  return m;
}

void kz_server_release(kz_server *s, kz_serve_model *m) {
  pthread_mutex_lock(&s->mu);
  if (--m->refs == 0) pthread_cond_broadcast(&s->released);
  pthread_mutex_unlock(&s->mu);
}

kz_status kz_server_unload(kz_server *s, const char *name, int64_t version) {
  if (!s || !name) return kz_fail(KZ_ERR_INVALID_ARG, "kz_server_unload: NULL argument");
  int found = 0;
  for (;;) {
    pthread_mutex_lock(&s->mu);
    int at = -1;
    for (int i = 0; i < s->n_models && at < 0; ++i)
      if (!strcmp(s->models[i]->name, name) && (version <= 0 || s->models[i]->version == version))
        at = i;
    if (at < 0) {
      pthread_mutex_unlock(&s->mu);
      break;
    }
    kz_serve_model *m = s->models[at];
    s->models[at] = s->models[--s->n_models];
    while (m->refs > 0) pthread_cond_wait(&s->released, &s->mu);
    pthread_mutex_unlock(&s->mu);
    kz_serve_model_close(m); /* runs what is queued first */
    found = 1;
  }
  return found ? KZ_OK : not_found(name, version);
}

int kz_server_model_ready(kz_server *s, const char *name, int64_t version) {
  if (!s || !name) return 0;
  pthread_mutex_lock(&s->mu);
  int ready = find(s, name, version) != NULL;
  pthread_mutex_unlock(&s->mu);
  return ready;
}

void kz_string_free(char *s) {
  free(s);
}

/* ---- requests ------------------------------------------------------------------ */

static kz_status submit(kz_server *s, const kz_infer_request *r, kz_infer_callback cb, void *user) {
  int64_t t0 = kz_serve_now_us();
  if (!s || !r || !r->model) return kz_fail(KZ_ERR_INVALID_ARG, "infer: NULL argument");
  pthread_mutex_lock(&s->mu);
  kz_serve_model *m = find(s, r->model, r->version);
  if (m) m->refs++;
  pthread_mutex_unlock(&s->mu);
  if (!m) return not_found(r->model, r->version);
  kz_serve_job *job = NULL;
  kz_status st = kz_serve_job_new(m, r, t0, &job);
  if (st != KZ_OK) {
    kz_serve_model_count_failure(m, KZ_FAIL_OTHER);
  } else {
    job->callback = cb, job->user = user;
    st = kz_serve_model_enqueue(m, job);
    if (st != KZ_OK) kz_serve_job_free(job);
  }
  pthread_mutex_lock(&s->mu);
  if (--m->refs == 0) pthread_cond_broadcast(&s->released);
  pthread_mutex_unlock(&s->mu);
  return st;
}

kz_status kz_server_infer_async(kz_server *s, const kz_infer_request *r, kz_infer_callback callback,
                                void *user) {
  if (!callback) return kz_fail(KZ_ERR_INVALID_ARG, "kz_server_infer_async: NULL callback");
  return submit(s, r, callback, user);
}

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  kz_infer_response *resp;
} waiter;

static void wake(kz_infer_response *resp, void *user) {
  waiter *w = user;
  pthread_mutex_lock(&w->mu);
  w->resp = resp;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

kz_status kz_server_infer(kz_server *s, const kz_infer_request *r, kz_infer_response **out) {
  if (!out) return kz_fail(KZ_ERR_INVALID_ARG, "kz_server_infer: NULL argument");
  *out = NULL;
  waiter w = {.resp = NULL};
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  kz_status st = submit(s, r, wake, &w);
  if (st == KZ_OK) {
    pthread_mutex_lock(&w.mu);
    while (!w.resp) pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    st = w.resp->status;
    if (st == KZ_OK)
      *out = w.resp;
    else {
      kz_fail(st, "%s", w.resp->error ? w.resp->error : "failed");
      kz_infer_response_free(w.resp);
    }
  }
  pthread_cond_destroy(&w.cv);
  pthread_mutex_destroy(&w.mu);
  return st;
}
