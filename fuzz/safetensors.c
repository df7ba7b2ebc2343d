/* libFuzzer harness: the safetensors reader (models/io/safetensors_read.c),
 * then what train.init_from does with what it read: every F32/F16/BF16
 * tensor read as f32, and kz_hf_bert_load_weights into slots named after
 * the file's normalised names (models/io/hf_bert_load.c).
 * Properties: an accepted file's tensors tile its data buffer exactly, in
 * offset order, each with numel x dtype size bytes; find() returns each
 * tensor's own index; a readable tensor written back by the writer (with the
 * metadata) reads back with the same name, shape and bit-identical values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "models/io/hf_bert.h"
#include "models/io/safetensors.h"

/* float data a tensor may hold before the harness skips reading it: the input
 * itself bounds it (F16 doubles), this only keeps runs fast */
#define MAX_READ_FLOATS (1 << 22)

typedef struct held {
  const kz_safetensors_tensor *t;
  float *v;
} held;

static void check_layout(kz_safetensors *st, const char *path) {
  struct stat sb;
  if (stat(path, &sb) != 0) kz_fuzz_fail("cannot stat %s", path);
  int64_t n = kz_safetensors_count(st);
  uint64_t at = 0;
  for (int64_t i = 0; i < n; ++i) {
    const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, i);
    if (t->begin != at || t->end < t->begin)
      kz_fuzz_fail("tensor %s: [%llu, %llu) does not follow %llu", t->name,
                   (unsigned long long)t->begin, (unsigned long long)t->end,
                   (unsigned long long)at);
    if ((uint64_t)t->numel * kz_st_dtype_size(t->dtype) != t->end - t->begin)
      kz_fuzz_fail("tensor %s: %lld elements in %llu bytes", t->name, (long long)t->numel,
                   (unsigned long long)(t->end - t->begin));
    if (kz_safetensors_find(st, t->name) != i)
      kz_fuzz_fail("find(%s) is not %lld", t->name, (long long)i);
    at = t->end;
  }
  if (at > (uint64_t)sb.st_size) kz_fuzz_fail("tensors end past the file");
}

static void round_trip(kz_safetensors *st, const held *h, int n) {
  kz_safetensors_writer *w = NULL;
  if (!kz_fuzz_ok("writer", kz_safetensors_writer_new(&w))) kz_fuzz_fail("writer_new failed");
  for (int64_t i = 0; i < kz_safetensors_metadata_count(st); ++i) {
    const char *k, *v;
    kz_safetensors_metadata_at(st, i, &k, &v);
    /* a key the reader accepted may be empty or long: the writer refuses those */
    kz_safetensors_writer_set_metadata(w, k, v);
  }
  int added = 0;
  for (int i = 0; i < n; ++i)
    if (kz_safetensors_writer_add_f32(w, h[i].t->name, h[i].t->rank, h[i].t->shape, h[i].v) ==
        KZ_OK)
      ++added;
  char path[512];
  snprintf(path, sizeof path, "%s/round-trip.safetensors", kz_fuzz_dir());
  if (!kz_fuzz_ok("write", kz_safetensors_writer_write(w, path)))
    kz_fuzz_fail("writing what was read failed");
  kz_safetensors_writer_free(w);
  kz_safetensors *back = NULL;
  if (!kz_fuzz_ok("reopen", kz_safetensors_open(path, &back)))
    kz_fuzz_fail("a written file does not read back: %s", kz_last_error());
  if (kz_safetensors_count(back) != added)
    kz_fuzz_fail("%d tensors written, read back other", added);
  for (int i = 0; i < n; ++i) {
    int64_t j = kz_safetensors_find(back, h[i].t->name);
    if (j < 0) continue; /* the writer refused it (a name over its limits) */
    const kz_safetensors_tensor *b = kz_safetensors_tensor_at(back, j);
    if (b->rank != h[i].t->rank || b->numel != h[i].t->numel || b->dtype != KZ_ST_F32 ||
        memcmp(b->shape, h[i].t->shape, (size_t)b->rank * sizeof(int64_t)))
      kz_fuzz_fail("tensor %s reads back in another shape", b->name);
    float *v = malloc((size_t)(b->numel ? b->numel : 1) * sizeof(float));
    if (!kz_fuzz_ok("read back", kz_safetensors_read_f32(back, j, v, b->numel)) ||
        (b->numel && memcmp(v, h[i].v, (size_t)b->numel * sizeof(float))))
      kz_fuzz_fail("tensor %s reads back with other values", b->name);
    free(v);
  }
  kz_safetensors_close(back);
}

/* What init_from does: slots named by the normalised names, heads optional. */
static void hf_load(kz_safetensors *st, const char *path, const held *h, int n) {
  kz_hf_slot *slots = calloc((size_t)(n ? n : 1), sizeof *slots);
  char(*names)[KZ_SAFETENSORS_MAX_NAME + 8] = calloc((size_t)(n ? n : 1), sizeof *names);
  int k = 0;
  for (int i = 0; i < n; ++i) {
    if (h[i].t->rank > KZ_HF_MAX_RANK) continue;
    if (kz_hf_bert_normalize_name(h[i].t->name, names[k], sizeof names[k]) != KZ_OK)
      kz_fuzz_fail("normalising %s failed", h[i].t->name);
    int dup = 0;
    for (int j = 0; j < k; ++j) dup |= !strcmp(names[j], names[k]);
    if (dup) continue;
    slots[k] = (kz_hf_slot){names[k],
                            calloc((size_t)(h[i].t->numel ? h[i].t->numel : 1), 4),
                            h[i].t->rank,
                            {0},
                            kz_hf_bert_is_head(names[k]),
                            i % 2 /* some slots may take the first rows of a longer tensor */};
    memcpy(slots[k].shape, h[i].t->shape, (size_t)h[i].t->rank * sizeof(int64_t));
    ++k;
  }
  kz_hf_load_report rep;
  if (kz_fuzz_ok("hf load", kz_hf_bert_load_weights(path, slots, k, &rep))) {
    char note[512];
    kz_hf_load_report_summary(&rep, note, sizeof note);
    if (strlen(note) >= sizeof note) kz_fuzz_fail("summary overran");
    kz_hf_load_report_free(&rep);
  }
  for (int i = 0; i < k; ++i) free(slots[i].data);
  free(slots);
  free(names);
  (void)st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *p = kz_fuzz_write("w.safetensors", data, size);
  char path[512];
  snprintf(path, sizeof path, "%s", p);
  kz_safetensors *st = NULL;
  if (!kz_fuzz_ok("open", kz_safetensors_open(path, &st))) return 0;
  check_layout(st, path);
  int64_t n = kz_safetensors_count(st);
  held *h = calloc((size_t)(n ? n : 1), sizeof *h);
  int m = 0;
  for (int64_t i = 0; i < n; ++i) {
    const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, i);
    if (!kz_st_dtype_reads_as_f32(t->dtype) || t->numel > MAX_READ_FLOATS) continue;
    float *v = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (!kz_fuzz_ok("read", kz_safetensors_read_f32(st, i, v, t->numel)))
      kz_fuzz_fail("tensor %s validated but does not read: %s", t->name, kz_last_error());
    h[m++] = (held){t, v};
  }
  round_trip(st, h, m);
  hf_load(st, path, h, m);
  for (int i = 0; i < m; ++i) free(h[i].v);
  free(h);
  kz_safetensors_close(st);
  return 0;
}
