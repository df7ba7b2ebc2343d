#include "predict_walk.h"

#include <stdlib.h>

#include "engine/predict/predictor.h"
#include "fuzz_util.h"

enum { ROWS = 4, MAX_COLUMNS = 256 };

void kz_fuzz_predict_walk(const char *path) {
  kz_predictor *p = NULL;
  if (!kz_fuzz_ok("predictor_open", kz_predictor_open(path, "cpu", &p))) return;
  const kz_schema *s = kz_predictor_schema(p);
  const char *names[MAX_COLUMNS + 1];
  const char *first_category[MAX_COLUMNS + 1];
  int n = 0;
  for (int f = 0; s && f < s->n_fields; ++f)
    for (int c = 0; c < s->fields[f].n_columns && n < MAX_COLUMNS; ++c) {
      const kz_column *col = &s->fields[f].columns[c];
      first_category[n] = col->n_categories > 0 ? col->categories[0] : "0";
      names[n++] = col->name;
    }
  names[n] = "not-a-model-column";
  first_category[n++] = "x";
  int outs = kz_predictor_output_count(p);
  for (int k = 0; k < outs; ++k) (void)kz_predictor_output_name(p, k);
  if (kz_fuzz_ok("set_columns", kz_predictor_set_columns(p, n, names)) && outs > 0) {
    static const char *const cells[] = {"0.5", "", "-3e38", "nan", "1e999", "-0", "NA"};
    const char **grid = malloc((size_t)ROWS * (size_t)n * sizeof *grid);
    double *out = malloc((size_t)ROWS * (size_t)outs * sizeof *out);
    if (!grid || !out) abort();
    for (int r = 0; r < ROWS; ++r)
      for (int i = 0; i < n; ++i)
        grid[r * n + i] = (r + i) % 3 == 0 ? first_category[i] : cells[(r * 5 + i) % 7];
    (void)kz_fuzz_ok("predict", kz_predictor_predict(p, ROWS, grid, out));
    (void)kz_predictor_unseen(p);
    free(grid);
    free(out);
  }
  kz_predictor_close(p);
}
