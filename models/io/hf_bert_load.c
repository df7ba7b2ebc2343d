/* Loading a Hugging Face BERT safetensors file into a model's named slots:
 * normalise names, match, validate everything, then copy (hf_bert.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/core/error.h"
#include "models/io/hf_bert.h"
#include "models/io/safetensors.h"
#include "models/io/safetensors_internal.h"

kz_status kz_hf_bert_normalize_name(const char *name, char *out, size_t cap) {
  if (!strncmp(name, "bert.", 5)) name += 5;
  size_t n = strlen(name);
  const char *dot = strrchr(name, '.');
  const char *last = dot ? dot + 1 : name;
  const char *repl = !strcmp(last, "gamma") ? "weight" : !strcmp(last, "beta") ? "bias" : NULL;
  size_t stem = repl ? (size_t)(last - name) : n;
  size_t total = stem + (repl ? strlen(repl) : 0);
  if (total + 1 > cap)
    return kz_fail(KZ_ERR_FORMAT, "tensor name '%.80s...' is too long (%zu bytes)", name, n);
  memcpy(out, name, stem);
  if (repl) memcpy(out + stem, repl, strlen(repl));
  out[total] = '\0';
  return KZ_OK;
}

int kz_hf_bert_is_head(const char *name) {
  return strncmp(name, "embeddings.", 11) != 0 && strncmp(name, "encoder.", 8) != 0;
}

/* Buffers HF saves beside the weights and copies of tied weights: never a
 * parameter of their own. */
static int is_ignorable(const char *name) {
  static const char *const names[] = {"embeddings.position_ids", "embeddings.token_type_ids",
                                      "cls.predictions.decoder.weight",
                                      "cls.predictions.decoder.bias"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
    if (!strcmp(name, names[i])) return 1;
  return 0;
}

void kz_hf_load_report_free(kz_hf_load_report *r) {
  if (!r) return;
  for (int64_t i = 0; i < r->n_fresh; ++i) free(r->fresh[i]), free(r->why[i]);
  for (int64_t i = 0; i < r->n_dropped; ++i) free(r->dropped[i]);
  for (int64_t i = 0; i < r->n_ignored; ++i) free(r->ignored[i]);
  for (int64_t i = 0; i < r->n_cut; ++i) free(r->cut[i]);
  free(r->fresh), free(r->why), free(r->dropped), free(r->ignored), free(r->cut);
  memset(r, 0, sizeof *r);
}

static int push(char ***list, int64_t *n, const char *s) {
  char **grown = realloc(*list, (size_t)(*n + 1) * sizeof **list);
  if (!grown) return 0;
  *list = grown;
  if (!(grown[*n] = strdup(s))) return 0;
  ++*n;
  return 1;
}

static int push_fresh(kz_hf_load_report *r, const char *name, const char *why) {
  char **f = realloc(r->fresh, (size_t)(r->n_fresh + 1) * sizeof *f);
  if (f) r->fresh = f;
  char **w = realloc(r->why, (size_t)(r->n_fresh + 1) * sizeof *w);
  if (w) r->why = w;
  if (!f || !w) return 0;
  f[r->n_fresh] = strdup(name);
  w[r->n_fresh] = strdup(why);
  ++r->n_fresh; /* counted even when a copy failed: free() takes NULL */
  return f[r->n_fresh - 1] && w[r->n_fresh - 1];
}

static void append(char *buf, size_t cap, size_t *at, const char *s) {
  if (*at + 1 >= cap) return;
  int w = snprintf(buf + *at, cap - *at, "%s", s);
  *at = w < 0 ? *at : (*at + (size_t)w < cap ? *at + (size_t)w : cap - 1);
}

static void append_list(char *buf, size_t cap, size_t *at, const char *title, char **items,
                        char **why, int64_t n) {
  if (n == 0) return;
  append(buf, cap, at, title);
  for (int64_t i = 0; i < n; ++i) {
    if (*at + 64 >= cap) {
      append(buf, cap, at, ", ...");
      return;
    }
    append(buf, cap, at, i ? ", " : " ");
    append(buf, cap, at, items[i]);
    if (why) {
      append(buf, cap, at, " (");
      append(buf, cap, at, why[i]);
      append(buf, cap, at, ")");
    }
  }
}

void kz_hf_load_report_summary(const kz_hf_load_report *r, char *buf, size_t cap) {
  if (!cap) return;
  buf[0] = '\0';
  size_t at = 0;
  char head[64];
  snprintf(head, sizeof head, "loaded %lld tensors", (long long)r->loaded);
  append(buf, cap, &at, head);
  append_list(buf, cap, &at, "; in part:", r->cut, NULL, r->n_cut);
  append_list(buf, cap, &at, "; left as initialised:", r->fresh, r->why, r->n_fresh);
  append_list(buf, cap, &at, "; dropped (no such parameter in the model):", r->dropped, NULL,
              r->n_dropped);
  append_list(buf, cap, &at, "; ignored (buffers, tied copies):", r->ignored, NULL, r->n_ignored);
}

/* ---- matching -------------------------------------------------------------------- */

typedef struct plan {
  int64_t *slot_of; /* per file tensor: its slot, -1 none */
  int64_t *file_of; /* per slot: the file tensor, -1 none */
  char **norm;      /* per file tensor: normalised name */
} plan;

static void plan_free(plan *p, int64_t n_file) {
  if (p->norm)
    for (int64_t i = 0; i < n_file; ++i) free(p->norm[i]);
  free(p->norm), free(p->slot_of), free(p->file_of);
}

static int64_t slot_numel(const kz_hf_slot *s) {
  int64_t n = 1;
  for (int k = 0; k < s->rank; ++k) n *= s->shape[k];
  return n;
}

/* 1: equal shapes; 2: a first_rows slot taking the first rows of a longer tensor */
static int fits(const kz_hf_slot *s, const kz_safetensors_tensor *t) {
  if (s->rank != t->rank) return 0;
  for (int k = 1; k < s->rank; ++k)
    if (s->shape[k] != t->shape[k]) return 0;
  if (s->rank == 0 || s->shape[0] == t->shape[0]) return 1;
  return s->first_rows && s->shape[0] < t->shape[0] ? 2 : 0;
}

static int slot_by_name(const void *a, const void *b) {
  const kz_hf_slot *const *x = a, *const *y = b;
  return strcmp((*x)->name, (*y)->name);
}

/* Validates the slots and sorts pointers to them by name (*sorted, for
 * find_slot): checkpoints and models hold hundreds of tensors, a crafted
 * header hundreds of thousands, so matching must not be quadratic. */
static kz_status check_slots(const char *path, const kz_hf_slot *slots, int64_t n,
                             const kz_hf_slot ***sorted) {
  for (int64_t i = 0; i < n; ++i) {
    const kz_hf_slot *s = &slots[i];
    if (!s->name || s->rank < 0 || s->rank > KZ_HF_MAX_RANK)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: model slot %lld: no name or a bad rank", path,
                     (long long)i);
    for (int k = 0; k < s->rank; ++k)
      if (s->shape[k] < 0)
        return kz_fail(KZ_ERR_INVALID_ARG, "%s: model slot %s: negative dimension", path, s->name);
    if (!s->data && slot_numel(s) > 0)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: model slot %s: no memory", path, s->name);
  }
  *sorted = malloc((size_t)(n ? n : 1) * sizeof **sorted);
  if (!*sorted) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
  for (int64_t i = 0; i < n; ++i) (*sorted)[i] = &slots[i];
  qsort(*sorted, (size_t)n, sizeof **sorted, slot_by_name);
  for (int64_t i = 1; i < n; ++i)
    if (!strcmp((*sorted)[i - 1]->name, (*sorted)[i]->name))
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: the model names two parameters %s", path,
                     (*sorted)[i]->name);
  return KZ_OK;
}

static int64_t find_slot(const kz_hf_slot *slots, const kz_hf_slot *const *sorted, int64_t n,
                         const char *name) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    int c = strcmp(sorted[mid]->name, name);
    if (c == 0) return sorted[mid] - slots;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

static kz_status match(kz_safetensors *st, const kz_hf_slot *slots, const kz_hf_slot *const *sorted,
                       int64_t n_slots, plan *p, kz_hf_load_report *r) {
  const char *path = kz_safetensors_path(st);
  int64_t n_file = kz_safetensors_count(st);
  for (int64_t j = 0; j < n_slots; ++j) p->file_of[j] = -1;
  for (int64_t i = 0; i < n_file; ++i) {
    const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, i);
    char name[KZ_SAFETENSORS_MAX_NAME + 8];
    KZ_TRY(kz_hf_bert_normalize_name(t->name, name, sizeof name));
    if (!(p->norm[i] = strdup(name)))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    p->slot_of[i] = find_slot(slots, sorted, n_slots, name);
    int64_t j = p->slot_of[i];
    if (j < 0) {
      int ok = is_ignorable(name) ? push(&r->ignored, &r->n_ignored, name)
                                  : push(&r->dropped, &r->n_dropped, name);
      if (!ok) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
      continue;
    }
    if (p->file_of[j] >= 0)
      return kz_fail(KZ_ERR_FORMAT, "%s: tensors '%.200s' and '%.200s' both name %s", path,
                     kz_safetensors_tensor_at(st, p->file_of[j])->name, t->name, name);
    const kz_hf_slot *s = &slots[j];
    int fit = fits(s, t);
    if (fit == 2) {
      char cut[KZ_SAFETENSORS_MAX_NAME + 96];
      snprintf(cut, sizeof cut, "%s (first %lld of %lld rows)", name, (long long)s->shape[0],
               (long long)t->shape[0]);
      if (!push(&r->cut, &r->n_cut, cut))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    if (!fit) {
      char why[160];
      snprintf(why, sizeof why, "shape %s in the file", kz_st_shape_text(t->rank, t->shape).s);
      if (!s->optional)
        return kz_fail(KZ_ERR_FORMAT,
                       "%s: tensor '%.200s': shape %s in the file, the model's %s is %s", path,
                       t->name, kz_st_shape_text(t->rank, t->shape).s, name,
                       kz_st_shape_text(s->rank, s->shape).s);
      if (!push_fresh(r, name, why))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
      p->slot_of[i] = -1;
      p->file_of[j] = -2; /* seen, not loaded */
      continue;
    }
    if (!kz_st_dtype_reads_as_f32(t->dtype))
      return kz_fail(KZ_ERR_UNSUPPORTED,
                     "%s: tensor '%.200s' is %s; parameters must be F32, F16 or BF16", path,
                     t->name, kz_st_dtype_name(t->dtype));
    p->file_of[j] = i;
  }
  /* slots the file does not fill */
  int64_t missing = 0, first = -1;
  for (int64_t j = 0; j < n_slots; ++j) {
    if (p->file_of[j] != -1) continue;
    if (slots[j].optional) {
      if (!push_fresh(r, slots[j].name, "absent"))
        return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    } else if (missing++ == 0) {
      first = j;
    }
  }
  if (missing == 1)
    return kz_fail(KZ_ERR_FORMAT, "%s: the checkpoint lacks %s, which the model needs", path,
                   slots[first].name);
  if (missing > 1)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: the checkpoint lacks %s and %lld more tensors the model needs (is it a "
                   "BERT checkpoint of this size?)",
                   path, slots[first].name, (long long)(missing - 1));
  return KZ_OK;
}

kz_status kz_hf_bert_load_weights(const char *safetensors_path, const kz_hf_slot *slots,
                                  int64_t n_slots, kz_hf_load_report *report) {
  kz_hf_load_report local;
  kz_hf_load_report *r = report ? report : &local;
  memset(r, 0, sizeof *r);
  if (n_slots < 0 || (n_slots > 0 && !slots))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: no model slots", safetensors_path);
  const kz_hf_slot **sorted = NULL;
  kz_status s = check_slots(safetensors_path, slots, n_slots, &sorted);
  kz_safetensors *st = NULL;
  if (s == KZ_OK) s = kz_safetensors_open(safetensors_path, &st);
  if (s != KZ_OK) {
    free(sorted);
    return s;
  }
  int64_t n_file = kz_safetensors_count(st);
  plan p = {calloc((size_t)(n_file ? n_file : 1), sizeof(int64_t)),
            calloc((size_t)(n_slots ? n_slots : 1), sizeof(int64_t)),
            calloc((size_t)(n_file ? n_file : 1), sizeof(char *))};
  s = p.slot_of && p.file_of && p.norm
          ? match(st, slots, sorted, n_slots, &p, r)
          : kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", safetensors_path);
  for (int64_t i = 0; s == KZ_OK && i < n_file; ++i) {
    if (p.slot_of[i] < 0) continue;
    const kz_hf_slot *sl = &slots[p.slot_of[i]];
    s = kz_safetensors_read_f32_range(st, i, 0, slot_numel(sl), sl->data);
    if (s == KZ_OK) ++r->loaded;
  }
  plan_free(&p, n_file);
  free(sorted);
  kz_safetensors_close(st);
  if (s != KZ_OK || !report) kz_hf_load_report_free(r);
  return s;
}
