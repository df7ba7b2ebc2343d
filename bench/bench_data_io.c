/* Data-layer benchmark helper (driven by bench/data_io.sh).
 *   bench_data_io gen FILE ROWS     writes a CSV: 26 numeric features, one
 *                                   categorical column, a numeric label (28)
 *   bench_data_io read DIR [BATCH]  reads every row through the prefetching
 *                                   iterator, in order and shuffled; prints
 *                                   GB/s (decoded bytes) and rows/s */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/shard/iter.h"
#include "data/shard/reader.h"
#include "data/shard/rng.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int gen(const char *path, long rows) {
  FILE *f = fopen(path, "wb");
  if (!f) return 1;
  static const char *colours[] = {"red", "green", "blue", "cyan", "magenta", "yellow"};
  for (int c = 0; c < 26; ++c) fprintf(f, "f%02d,", c);
  fprintf(f, "colour,target\n");
  uint64_t s = 12345;
  for (long r = 0; r < rows; ++r) {
    for (int c = 0; c < 26; ++c) {
      uint64_t x = kz_splitmix64(&s);
      if ((x & 1023) == 0)
        fputs("NA,", f);
      else
        fprintf(f, "%.4f,", (double)(x >> 11) * (1.0 / 9007199254740992.0) * 200.0 - 100.0);
    }
    uint64_t x = kz_splitmix64(&s);
    fprintf(f, "%s,%.3f\n", colours[x % 6], (double)(x >> 40) / 1000.0);
  }
  return fclose(f) != 0;
}

static int read_all(kz_dataset *ds, int shuffle, int64_t batch, double *sec, int64_t *rows) {
  kz_shard_iter_options o;
  kz_shard_iter_options_default(&o);
  o.batch_size = batch, o.shuffle = shuffle, o.seed = 1;
  kz_shard_iter *it;
  double t0 = now();
  if (kz_shard_iter_open(ds, &o, &it) != KZ_OK) return 1;
  const kz_shard_batch *b;
  kz_status st;
  double sink = 0;
  *rows = 0;
  while ((st = kz_shard_iter_next(it, &b)) == KZ_OK && b) {
    *rows += b->rows;
    sink += *kz_batch_f32(b, 0, 0);
  }
  kz_shard_iter_close(it);
  *sec = now() - t0;
  if (sink == 12345.678) puts("");
  return st != KZ_OK;
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "gen")) return gen(argv[2], atol(argv[3]));
  if (argc < 3 || strcmp(argv[1], "read")) {
    fprintf(stderr, "usage: bench_data_io gen FILE ROWS | read DIR [BATCH]\n");
    return 2;
  }
  int64_t batch = argc > 3 ? atol(argv[3]) : 8192;
  kz_dataset *ds;
  if (kz_dataset_open(argv[2], NULL, &ds) != KZ_OK) {
    fprintf(stderr, "%s\n", kz_last_error());
    return 1;
  }
  double row_bytes = (double)kz_schema_row_bytes(kz_dataset_schema(ds));
  printf("%-22s %10s %12s %10s\n", "read", "seconds", "rows/s", "GB/s");
  for (int shuffle = 0; shuffle < 2; ++shuffle)
    for (int rep = 0; rep < 3; ++rep) {
      double sec;
      int64_t rows;
      if (read_all(ds, shuffle, batch, &sec, &rows)) {
        fprintf(stderr, "%s\n", kz_last_error());
        return 1;
      }
      char name[64];
      snprintf(name, sizeof name, "%s (run %d)", shuffle ? "shuffled" : "in order", rep + 1);
      printf("%-22s %10.3f %12.3g %10.2f\n", name, sec, (double)rows / sec,
             (double)rows * row_bytes / sec / 1e9);
    }
  kz_dataset_close(ds);
  return 0;
}
