/* Runs one op case on a backend and judges it against ref.
 *
 * Every argument lives on the device inside a larger buffer:
 *   [ 256 guard bytes | payload | 256 guard bytes ]
 * The trailing guard starts exactly at the payload's end, so a write one
 * element past the end lands in it. Outputs start as a poison bit pattern (a
 * NaN with a payload for floats, a sentinel for ints), so an element the op
 * never writes is told apart from one it computed as NaN. The whole buffer is
 * copied back after the run and checked byte by byte. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "kernels/harness/op_case.h"
#include "kernels/harness/rng.h"

#define GUARD_BYTES 256
#define GUARD_BYTE 0x5A
#define POISON_F32 0xFFC5A5A5u
#define POISON_BF16 0xFFC5u
#define POISON_I32 0xA5A5A5A5u

typedef struct arg_state {
  kz_host_arg host; /* values uploaded (inputs, inout initial values) */
  kz_host_arg ref;  /* ref's copy: expected outputs after the ref call */
  unsigned char *image, *back;
  void *dev;
  size_t payload, total;
} arg_state;

static void note(kz_case_result *r, unsigned flag, const char *fmt, ...) KZ_PRINTF(3, 4);
static void note(kz_case_result *r, unsigned flag, const char *fmt, ...) {
  r->failures |= flag;
  size_t used = strlen(r->message);
  if (used + 4 >= sizeof r->message) return;
  if (used) {
    memcpy(r->message + used, "; ", 3);
    used += 2;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->message + used, sizeof r->message - used, fmt, ap);
  va_end(ap);
}

static int64_t numel(const kz_arg_spec *a) {
  int64_t n = 1;
  for (int d = 0; d < a->ndim; ++d) n *= a->shape[d];
  return n;
}

/* "[2, 17]" for flat index i of the argument's shape. */
static void format_index(const kz_arg_spec *a, int64_t i, char *buf, size_t size) {
  int64_t coord[KZ_MAX_DIMS];
  for (int d = a->ndim - 1; d >= 0; --d) {
    coord[d] = a->shape[d] ? i % a->shape[d] : 0;
    i = a->shape[d] ? i / a->shape[d] : 0;
  }
  size_t used = 0;
  used += (size_t)snprintf(buf, size, "[");
  for (int d = 0; d < a->ndim && used < size; ++d)
    used += (size_t)snprintf(buf + used, size - used, "%s%lld", d ? ", " : "", (long long)coord[d]);
  if (used < size) snprintf(buf + used, size - used, "]");
}

/* Rounds host values to what the argument's dtype can hold, so ref and the
 * backend see identical inputs. */
static void round_to_dtype(const kz_arg_spec *a, kz_host_arg *h) {
  if (!h->f) return;
  for (int64_t i = 0; i < h->n; ++i) {
    float f = (float)h->f[i];
    h->f[i] = a->dtype == KZ_BF16 ? (double)kz_bf16_to_f32(kz_f32_to_bf16(f)) : (double)f;
  }
}

static void generate(const kz_arg_spec *a, kz_host_arg *h, kz_rng *rng) {
  for (int64_t i = 0; i < h->n; ++i) {
    if (h->i) {
      h->i[i] = (int32_t)kz_rng_int(rng, (int64_t)a->a, (int64_t)a->b);
    } else if (a->init == KZ_INIT_UNIFORM) {
      h->f[i] = a->a + (a->b - a->a) * kz_rng_uniform(rng);
    } else {
      h->f[i] = a->a + a->b * kz_rng_normal(rng);
    }
  }
}

static kz_status host_alloc(const kz_arg_spec *a, kz_host_arg *h) {
  h->n = numel(a);
  size_t count = h->n > 0 ? (size_t)h->n : 1;
  if (a->dtype == KZ_I32)
    h->i = calloc(count, sizeof *h->i);
  else
    h->f = calloc(count, sizeof *h->f);
  if (!h->i && !h->f) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "harness: host copy of %s", a->name);
  return KZ_OK;
}

static void host_free(kz_host_arg *h) {
  free(h->f);
  free(h->i);
  h->f = NULL;
  h->i = NULL;
}

/* Writes element i of the host values in the argument's device encoding. */
static void encode(const kz_arg_spec *a, const kz_host_arg *h, int64_t i, unsigned char *dst) {
  if (a->dtype == KZ_I32) {
    memcpy(dst, &h->i[i], 4);
  } else if (a->dtype == KZ_BF16) {
    uint16_t v = kz_f32_to_bf16((float)h->f[i]);
    memcpy(dst, &v, 2);
  } else {
    float v = (float)h->f[i];
    memcpy(dst, &v, 4);
  }
}

static void poison(const kz_arg_spec *a, unsigned char *dst) {
  if (a->dtype == KZ_BF16) {
    uint16_t v = POISON_BF16;
    memcpy(dst, &v, 2);
  } else {
    uint32_t v = a->dtype == KZ_I32 ? POISON_I32 : POISON_F32;
    memcpy(dst, &v, 4);
  }
}

/* Decodes element i; *poisoned tells whether it is still the poison pattern. */
static double decode(const kz_arg_spec *a, const unsigned char *src, bool *poisoned) {
  if (a->dtype == KZ_BF16) {
    uint16_t v;
    memcpy(&v, src, 2);
    *poisoned = v == POISON_BF16;
    return kz_bf16_to_f32(v);
  }
  uint32_t bits;
  memcpy(&bits, src, 4);
  if (a->dtype == KZ_I32) {
    int32_t v;
    memcpy(&v, src, 4);
    *poisoned = bits == POISON_I32;
    return v;
  }
  float v;
  memcpy(&v, src, 4);
  *poisoned = bits == POISON_F32;
  return v;
}

static kz_status prepare_device(const kz_op_case *c, kz_stream *s, arg_state *st) {
  for (int k = 0; k < c->nargs; ++k) {
    const kz_arg_spec *a = &c->args[k];
    arg_state *x = &st[k];
    size_t es = kz_dtype_size(a->dtype);
    x->payload = (size_t)x->host.n * es;
    x->total = x->payload + 2 * GUARD_BYTES;
    x->image = malloc(x->total);
    x->back = malloc(x->total);
    if (!x->image || !x->back)
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "harness: host image of %s", a->name);
    memset(x->image, GUARD_BYTE, x->total);
    for (int64_t i = 0; i < x->host.n; ++i) {
      unsigned char *dst = x->image + GUARD_BYTES + (size_t)i * es;
      if (a->role == KZ_ARG_OUT)
        poison(a, dst);
      else
        encode(a, &x->host, i, dst);
    }
    KZ_TRY(kz_device_alloc(s->device, x->total, &x->dev));
    KZ_TRY(kz_copy_to_device(s, x->dev, x->image, x->total));
  }
  return kz_stream_sync(s);
}

static void check_guards(const kz_arg_spec *a, const arg_state *x, kz_case_result *r) {
  const unsigned char *after = x->back + GUARD_BYTES + x->payload;
  for (size_t i = 0; i < GUARD_BYTES; ++i) {
    if (x->back[GUARD_BYTES - 1 - i] != GUARD_BYTE) {
      note(r, KZ_CASE_FAIL_GUARD,
           "%s: guard before the buffer overwritten (nearest changed byte %zu before the start)",
           a->name, i + 1);
      break;
    }
  }
  for (size_t i = 0; i < GUARD_BYTES; ++i) {
    if (after[i] != GUARD_BYTE) {
      note(r, KZ_CASE_FAIL_GUARD,
           "%s: guard after the buffer overwritten (first changed byte %zu past the end)", a->name,
           i);
      break;
    }
  }
}

static void check_output(const kz_arg_spec *a, const arg_state *x, kz_case_result *r) {
  size_t es = kz_dtype_size(a->dtype);
  int64_t unwritten = 0, nonfinite = 0, first_unwritten = -1, first_nonfinite = -1, worst = -1;
  double err = 0, norm = 0, worst_err = -1, worst_got = 0;
  for (int64_t i = 0; i < x->host.n; ++i) {
    bool poisoned = false;
    double got = decode(a, x->back + GUARD_BYTES + (size_t)i * es, &poisoned);
    double want = x->ref.f ? x->ref.f[i] : (double)x->ref.i[i];
    if (poisoned && a->role == KZ_ARG_OUT) {
      if (!unwritten++) first_unwritten = i;
      continue;
    }
    if (!isfinite(got)) {
      if (!nonfinite++) first_nonfinite = i;
      continue;
    }
    double d = got - want;
    err += d * d;
    norm += want * want;
    if (fabs(d) > worst_err) {
      worst_err = fabs(d);
      worst = i;
      worst_got = got;
    }
  }
  char where[64];
  if (unwritten) {
    format_index(a, first_unwritten, where, sizeof where);
    note(r, KZ_CASE_FAIL_UNWRITTEN, "%s: %lld element(s) never written (first at %s)", a->name,
         (long long)unwritten, where);
  }
  if (nonfinite) {
    format_index(a, first_nonfinite, where, sizeof where);
    note(r, KZ_CASE_FAIL_NONFINITE, "%s: %lld NaN/Inf element(s) (first at %s)", a->name,
         (long long)nonfinite, where);
  }
  /* Relative when the expected values are not all zero, absolute otherwise. */
  double nmse = norm > 0 ? err / norm : err;
  double ratio = a->tol > 0 ? nmse / a->tol : (nmse > 0 ? INFINITY : 0);
  if (ratio > r->worst_ratio) r->worst_ratio = ratio;
  if (nmse > a->tol) {
    format_index(a, worst, where, sizeof where);
    double want = x->ref.f ? x->ref.f[worst] : (double)x->ref.i[worst];
    note(r, KZ_CASE_FAIL_NMSE, "%s: nmse %.3g > %.3g (worst at %s: got %.9g, want %.9g)", a->name,
         nmse, a->tol, where, worst_got, want);
  }
}

static void judge(const kz_op_case *c, const arg_state *st, kz_case_result *r) {
  for (int k = 0; k < c->nargs; ++k) {
    const kz_arg_spec *a = &c->args[k];
    const arg_state *x = &st[k];
    check_guards(a, x, r);
    if (a->role == KZ_ARG_IN) {
      if (memcmp(x->back + GUARD_BYTES, x->image + GUARD_BYTES, x->payload))
        note(r, KZ_CASE_FAIL_INPUT, "%s: input modified by the op", a->name);
    } else {
      check_output(a, x, r);
    }
  }
}

/* The oracle must produce finite values everywhere, or the comparison means
 * nothing (and the case or ref has a bug). */
static void check_ref(const kz_op_case *c, const arg_state *st, kz_case_result *r) {
  for (int k = 0; k < c->nargs; ++k) {
    if (c->args[k].role == KZ_ARG_IN || !st[k].ref.f) continue;
    for (int64_t i = 0; i < st[k].ref.n; ++i) {
      if (!isfinite(st[k].ref.f[i])) {
        char where[64];
        format_index(&c->args[k], i, where, sizeof where);
        note(r, KZ_CASE_FAIL_HARNESS, "ref: %s has a non-finite value at %s", c->args[k].name,
             where);
        break;
      }
    }
  }
}

static kz_status run_prepared(const kz_op_case *c, kz_stream *s, uint64_t seed, arg_state *st,
                              kz_case_result *r) {
  kz_rng rng = {seed};
  for (int k = 0; k < c->nargs; ++k) {
    KZ_TRY(host_alloc(&c->args[k], &st[k].host));
    KZ_TRY(host_alloc(&c->args[k], &st[k].ref));
    if (c->args[k].role != KZ_ARG_OUT) generate(&c->args[k], &st[k].host, &rng);
    round_to_dtype(&c->args[k], &st[k].host);
  }
  if (c->fixup) {
    kz_host_arg hosts[KZ_CASE_MAX_ARGS];
    for (int k = 0; k < c->nargs; ++k) hosts[k] = st[k].host;
    c->fixup(c, hosts);
    for (int k = 0; k < c->nargs; ++k) round_to_dtype(&c->args[k], &st[k].host);
  }
  kz_host_arg refs[KZ_CASE_MAX_ARGS];
  for (int k = 0; k < c->nargs; ++k) {
    kz_host_arg *h = &st[k].host, *e = &st[k].ref;
    bool out = c->args[k].role == KZ_ARG_OUT;
    for (int64_t i = 0; i < h->n; ++i) {
      /* ref must write every OUT element too: NaN makes an omission visible. */
      if (e->f)
        e->f[i] = out ? NAN : h->f[i];
      else
        e->i[i] = out ? (int32_t)POISON_I32 : h->i[i];
    }
    refs[k] = *e;
  }
  c->ref(c, refs);
  check_ref(c, st, r);
  if (r->failures) return KZ_OK;

  KZ_TRY(prepare_device(c, s, st));
  kz_tensor t[KZ_CASE_MAX_ARGS];
  for (int k = 0; k < c->nargs; ++k) {
    const kz_arg_spec *a = &c->args[k];
    memset(&t[k], 0, sizeof t[k]);
    t[k].data = (unsigned char *)st[k].dev + GUARD_BYTES;
    t[k].dtype = a->dtype;
    t[k].ndim = a->ndim;
    memcpy(t[k].shape, a->shape, sizeof a->shape);
    t[k].device = s->device;
  }
  kz_clear_error();
  kz_status status = c->invoke(c, s, t);
  if (status == KZ_ERR_UNSUPPORTED) {
    r->skipped = true;
    snprintf(r->message, sizeof r->message, "skipped: %s", kz_last_error());
    return KZ_OK;
  }
  if (status != KZ_OK) {
    note(r, KZ_CASE_FAIL_STATUS, "op returned %s: %s", kz_status_name(status), kz_last_error());
    return KZ_OK;
  }
  KZ_TRY(kz_stream_sync(s));
  for (int k = 0; k < c->nargs; ++k) KZ_TRY(kz_copy_to_host(s, st[k].back, st[k].dev, st[k].total));
  KZ_TRY(kz_stream_sync(s));
  judge(c, st, r);
  return KZ_OK;
}

void kz_op_case_run(const kz_op_case *c, kz_stream *s, uint64_t seed, kz_case_result *r) {
  memset(r, 0, sizeof *r);
  r->seed = seed;
  arg_state st[KZ_CASE_MAX_ARGS];
  memset(st, 0, sizeof st);
  if (run_prepared(c, s, seed, st, r) != KZ_OK)
    note(r, KZ_CASE_FAIL_HARNESS, "harness: %s", kz_last_error());
  for (int k = 0; k < c->nargs; ++k) {
    host_free(&st[k].host);
    host_free(&st[k].ref);
    free(st[k].image);
    free(st[k].back);
    if (st[k].dev) kz_device_free(s->device, st[k].dev);
  }
}

uint64_t kz_case_seed(uint64_t base, const char *case_name) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)case_name; *p; ++p)
    h = (h ^ *p) * 1099511628211ull;
  kz_rng r = {base ^ h};
  return kz_rng_next(&r);
}
