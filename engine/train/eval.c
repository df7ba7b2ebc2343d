/* Whole-data-set evaluation (eval.h). */
#include "engine/train/eval.h"

#include <string.h>

#include "kernels/core/error.h"

kz_status kz_nn_evaluate(kz_nn_model *m, kz_dataset *ds, int64_t batch_rows, kz_nn_metrics *out) {
  const kz_nn_model_base *mb = kz_nn_base(m);
  /* a model whose examples span rows (the TFT's windows) takes the data set */
  if (mb->ops->eval_dataset) {
    kz_status st = mb->ops->eval_dataset(m, kz_dataset_path(ds), out);
    return st == KZ_OK ? KZ_OK : kz_fail_context(st, "evaluating on %s", kz_dataset_path(ds));
  }
  const int64_t rows = kz_dataset_rows(ds);
  if (batch_rows < 1024) batch_rows = 1024;
  kz_shard_batch b;
  memset(&b, 0, sizeof b);
  KZ_TRY(kz_shard_batch_alloc(kz_dataset_schema(ds), batch_rows, &b));
  kz_nn_eval acc;
  memset(&acc, 0, sizeof acc);
  kz_status st = KZ_OK;
  for (int64_t r0 = 0; st == KZ_OK && r0 < rows; r0 += batch_rows) {
    int64_t n = rows - r0 < batch_rows ? rows - r0 : batch_rows;
    kz_shard_batch_clear(&b);
    st = kz_dataset_read_range(ds, r0, n, &b, 0);
    b.rows = n;
    if (st == KZ_OK) st = mb->ops->eval_batch(m, &b, &acc);
  }
  kz_shard_batch_free(&b);
  if (st != KZ_OK) return kz_fail_context(st, "evaluating on %s", kz_dataset_path(ds));
  mb->ops->eval_finish(m, &acc, out);
  return KZ_OK;
}
