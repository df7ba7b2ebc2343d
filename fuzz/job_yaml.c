/* libFuzzer harness: job configs (common/config/cfg.c, the YAML tree and
 * its typed getters) read the way `kaizen train` reads them: the neural
 * trainer's sections (engine/train/trainer_config.c) from one parse, the
 * GBDT booster's keys (models/gbdt/gbdt_params.c) from another, each
 * followed by the unknown-key check and the effective config a run stores.
 * Property: the effective config of a job that read cleanly parses back (a
 * run directory's config.yaml must be loadable as a job). */
#include <stdlib.h>

#include "common/config/cfg.h"
#include "engine/train/trainer.h"
#include "fuzz_util.h"
#include "models/gbdt/booster.h"

static void leaf(const char *path, const char *value, void *ctx) {
  ++*(size_t *)ctx;
}

static void check_effective(const kz_cfg *cfg) {
  char *yaml = NULL;
  if (kz_cfg_effective_yaml(cfg, &yaml) != KZ_OK) return;
  kz_cfg *back = NULL;
  if (kz_cfg_load_string(yaml, "effective.yaml", &back) != KZ_OK)
    kz_fuzz_fail("the effective config does not parse back: %s\n%s", kz_last_error(), yaml);
  size_t n = 0;
  kz_cfg_walk(back, leaf, &n);
  kz_cfg_free(back);
  free(yaml);
}

static void neural(const char *text) {
  kz_cfg *cfg = NULL;
  if (kz_cfg_load_string(text, "job.yaml", &cfg) != KZ_OK) return;
  size_t n = 0;
  kz_cfg_walk(cfg, leaf, &n);
  /* The CLI's --set path: an override into a map that may be a scalar or a
   * list in the document. */
  (void)kz_cfg_set(cfg, "train.early_stopping.patience=3");
  kz_train_config c;
  /* The model section's keys belong to the model's own reader (not called
   * here: it needs a data set), so unknown keys are checked but the
   * effective config is written whatever that check says. */
  if (kz_fuzz_ok("train config", kz_train_config_read(cfg, &c))) {
    (void)kz_fuzz_ok("unused", kz_cfg_check_unused(cfg));
    check_effective(cfg);
  }
  kz_cfg_free(cfg);
}

static void gbdt(const char *text) {
  kz_cfg *cfg = NULL;
  if (kz_cfg_load_string(text, "job.yaml", &cfg) != KZ_OK) return;
  const kz_cfg_node *model = kz_cfg_section(cfg, "model");
  const char *type = NULL;
  kz_gbdt_params p;
  kz_gbdt_params_default(&p);
  if (kz_cfg_get_string(model, "type", "gbdt", &type) == KZ_OK &&
      kz_gbdt_params_from_cfg(model, &p) == KZ_OK && kz_gbdt_params_check(&p) == KZ_OK) {
    const kz_cfg_node *data = kz_cfg_section(cfg, "data");
    const char *s;
    int64_t v;
    if (kz_cfg_get_string(data, "train", "", &s) == KZ_OK &&
        kz_cfg_get_string(data, "valid", "", &s) == KZ_OK &&
        kz_cfg_get_int(kz_cfg_section(cfg, "train"), "seed", 0, 0, INT64_MAX, &v) == KZ_OK)
      check_effective(cfg);
    (void)kz_cfg_check_unused(cfg);
  }
  kz_cfg_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = kz_fuzz_strndup(data, size);
  neural(text);
  gbdt(text);
  free(text);
  return 0;
}
