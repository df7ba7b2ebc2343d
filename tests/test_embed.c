/* kaizen embed on the real all-MiniLM-L6-v2 checkpoint (issue 16): the
 * binary, in its own process, embeds tests/fixtures/minilm/sentences.txt and
 * every row must have cosine >= 0.9999 with sentence-transformers' reference
 * (embeddings.safetensors, from tools/make_minilm_fixture.py). Also: the
 * JSON lines output holds the same rows, and --no-normalize gives the same
 * directions without unit norms.
 *
 *   test_embed KAIZEN FIXTURES TMPDIR
 *
 * Exits 77 (skipped, with a message) without the checkpoint: $KZ_MINILM_DIR,
 * else the directory tests/io.cmake found at configure time. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/io/hf_bert.h"
#include "models/io/safetensors.h"
#include "tests/test_util.h"

enum { ROWS = 100, DIM = 384 };

/* Reads ROWS rows of DIM numbers: CSV with a header line, or JSON lines
 * ({"line": i, "embedding": [...]}). 0 on success. */
static int read_rows(const char *path, int jsonl, float *out) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  char *line = NULL;
  size_t cap = 0;
  int r = jsonl ? 0 : -1, bad = 0;
  while (getline(&line, &cap, f) >= 0) {
    if (r < 0) {
      r = 0; /* the header */
      continue;
    }
    if (r >= ROWS) {
      bad = 1;
      break;
    }
    char *p = jsonl ? strchr(line, '[') : line;
    if (!p) {
      bad = 1;
      break;
    }
    if (jsonl) p++;
    for (int c = 0; c < DIM; c++) {
      char *end = NULL;
      out[r * DIM + c] = strtof(p, &end);
      if (end == p) bad = 1;
      p = end;
      while (*p == ',' || *p == ' ') p++;
    }
    r++;
  }
  free(line);
  fclose(f);
  return bad || r != ROWS ? -1 : 0;
}

static double cosine(const float *a, const float *b, double *na) {
  double ab = 0, aa = 0, bb = 0;
  for (int c = 0; c < DIM; c++)
    ab += (double)a[c] * b[c], aa += (double)a[c] * a[c], bb += (double)b[c] * b[c];
  *na = sqrt(aa);
  return ab / (sqrt(aa) * sqrt(bb));
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: test_embed KAIZEN FIXTURES TMPDIR\n");
    return 2;
  }
  const char *kaizen = argv[1], *fx = argv[2], *tmp = argv[3];
  const char *dir = getenv("KZ_MINILM_DIR");
  if (!dir || !*dir) dir = KZ_MINILM_DEFAULT_DIR;
  if (!dir[0] || !kz_hf_bert_is_dir(dir)) {
    printf("skipped: no all-MiniLM-L6-v2 checkpoint (set KZ_MINILM_DIR, or run "
           "tools/install-deps.sh --with-test, which unpacks it into .deps/minilm)%s%s\n",
           dir[0] ? "; not a checkpoint: " : "", dir);
    return 77;
  }
  mkdir(tmp, 0755);
  float *ref = malloc(sizeof(float) * ROWS * DIM), *got = malloc(sizeof(float) * ROWS * DIM);
  KZ_CHECK(ref && got);
  char p[4096], cmd[16384];
  snprintf(p, sizeof p, "%s/embeddings.safetensors", fx);
  kz_safetensors *st = NULL;
  KZ_CHECK_OK(kz_safetensors_open(p, &st));
  if (!st || !ref || !got) return KZ_TEST_RESULT();
  KZ_CHECK_OK(kz_safetensors_read_f32(st, kz_safetensors_find(st, "embeddings"), ref, ROWS * DIM));
  kz_safetensors_close(st);

  const char *outs[3] = {"e.csv", "e.jsonl", "raw.csv"};
  for (int k = 0; k < 3; k++) {
    snprintf(cmd, sizeof cmd,
             "'%s' embed --model '%s' --input '%s/sentences.txt' --out '%s/%s' --max-len 256%s",
             kaizen, dir, fx, tmp, outs[k], k == 2 ? " --no-normalize" : "");
    KZ_CHECK(system(cmd) == 0);
    snprintf(p, sizeof p, "%s/%s", tmp, outs[k]);
    KZ_CHECK(read_rows(p, k == 1, got) == 0);
    double worst = 1.0, mean = 0, norm_lo = 1e9, norm_hi = 0;
    for (int r = 0; r < ROWS; r++) {
      double n = 0, c = cosine(got + r * DIM, ref + r * DIM, &n);
      if (!(c >= worst)) worst = c;
      mean += c / ROWS;
      norm_lo = n < norm_lo ? n : norm_lo;
      norm_hi = n > norm_hi ? n : norm_hi;
    }
    printf("%s: cosine with sentence-transformers: min %.8f, mean %.8f; norms [%.6f, %.6f]\n",
           outs[k], worst, mean, norm_lo, norm_hi);
    KZ_CHECK(worst >= 0.9999);
    if (k < 2)
      KZ_CHECK(fabs(norm_lo - 1) < 1e-5 && fabs(norm_hi - 1) < 1e-5);
    else
      KZ_CHECK(norm_hi - norm_lo > 1e-3 || fabs(norm_lo - 1) > 1e-3);
  }
  free(ref);
  free(got);
  return KZ_TEST_RESULT();
}
