/* The attention dropout mask (core/attn_dropout.h): the kept fraction is
 * 1 - p, rows and heads and keys draw independent bits, and the threshold
 * ends are exact (p = 0 keeps everything). */
#include <math.h>
#include <stdio.h>

#include "kernels/core/attn_dropout.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
      ++failures;                                                                                  \
    }                                                                                              \
  } while (0)

/* Fraction kept over B x H x T x T elements. */
static double kept(uint64_t key, double p, int B, int H, int T) {
  const uint32_t thr = kz_attn_dropout_threshold(p);
  long n = 0, k = 0;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < T; ++i) {
        const uint64_t row = kz_attn_dropout_row(key, b, h, i);
        for (int j = 0; j < T; ++j, ++n) k += kz_attn_dropout_bits(row, (uint32_t)j) >= thr;
      }
  return (double)k / (double)n;
}

int main(void) {
  static const double ps[] = {0.1, 0.25, 0.5, 0.9};
  for (int i = 0; i < 4; ++i) {
    const double f = kept(0x1234abcdULL + (uint64_t)i, ps[i], 4, 4, 256); /* 1M elements */
    /* Binomial standard deviation is below 5e-4 here: 0.003 is 6 sigma. */
    CHECK(fabs(f - (1.0 - ps[i])) < 0.003, "p %g: kept %.5f, expected %.5f", ps[i], f, 1.0 - ps[i]);
  }
  CHECK(kept(7, 0.0, 2, 2, 64) == 1.0, "p = 0 must keep every element");
  CHECK(kz_attn_dropout_threshold(0.5) == 0x80000000u, "threshold of 0.5");
  CHECK(fabsf(kz_attn_dropout_scale(0.2) - 1.25f) == 0.0f, "scale of p = 0.2");
  /* Neighbouring rows, heads, batch rows and keys agree about half the time
   * (independent bits), never always. */
  const uint32_t thr = kz_attn_dropout_threshold(0.5);
  const int T = 4096;
  for (int which = 0; which < 4; ++which) {
    int same = 0;
    for (int j = 0; j < T; ++j) {
      const uint64_t r0 = kz_attn_dropout_row(99, 1, 2, 3);
      const uint64_t r1 =
          kz_attn_dropout_row(99, 1 + (which == 0), 2 + (which == 1), 3 + (which == 2));
      const int a = kz_attn_dropout_bits(r0, (uint32_t)j) >= thr;
      const int b = kz_attn_dropout_bits(which == 3 ? r0 : r1, (uint32_t)(j + (which == 3))) >= thr;
      same += a == b;
    }
    CHECK(fabs((double)same / T - 0.5) < 0.05, "neighbour %d agrees %d of %d times", which, same,
          T);
  }
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures != 0;
}
