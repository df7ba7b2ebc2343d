/* libFuzzer harness: a data set's manifest.json and the schema inside it
 * (data/shard/reader.c load_manifest, schema.c kz_schema_from_json).
 *
 * The input becomes manifest.json in a directory that holds a small real
 * tabular data set (written once, at start-up, by the shard writer: two
 * splits over three shard files), so a manifest that parses goes on to
 * validate each shard it names against the file, and rows are read through
 * it. Any "schema" member of the input is also parsed on its own, which
 * reaches the text and timeseries rules the on-disk set cannot. Properties:
 * a schema that parses prints, parses back and prints to the same text. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard/batch.h"
#include "data/shard/reader.h"
#include "data/shard/schema.h"
#include "data/shard/writer.h"
#include "fuzz_util.h"

static char set_dir[512];

static void make_set(void) {
  const char *nums[2] = {"a", "b"}, *cats[1] = {"colour"}, *lab[1] = {"y"};
  const char *dict[3] = {"red", "green", "blue"};
  kz_schema s;
  kz_shard_writer_options o;
  kz_shard_writer_options_default(&o);
  o.shard_rows = 4;
  o.n_splits = 2;
  const char *splits[2] = {"train", "valid"};
  o.splits = splits;
  snprintf(set_dir, sizeof set_dir, "%s/set", kz_fuzz_dir());
  kz_shard_writer *w = NULL;
  kz_shard_batch b;
  memset(&b, 0, sizeof b);
  kz_status st = kz_schema_init(&s, "tabular");
  if (st == KZ_OK) st = kz_schema_add_field(&s, "numeric", KZ_FIELD_F32, 2, 2, nums, NULL);
  if (st == KZ_OK) st = kz_schema_add_field(&s, "categorical", KZ_FIELD_I32, 1, 1, cats, NULL);
  if (st == KZ_OK) st = kz_schema_set_categories(&s, 1, 0, 3, dict);
  if (st == KZ_OK) st = kz_schema_add_field(&s, "label", KZ_FIELD_F32, 1, 1, lab, NULL);
  if (st == KZ_OK) st = kz_schema_set_label(&s, "y");
  if (st == KZ_OK) st = kz_shard_writer_open(set_dir, &s, &o, &w);
  if (st == KZ_OK) st = kz_shard_batch_alloc(&s, 8, &b);
  for (int split = 0; st == KZ_OK && split < 2; ++split) {
    b.rows = split == 0 ? 6 : 3;
    for (int64_t r = 0; r < b.rows; ++r) {
      kz_batch_f32(&b, 0, r)[0] = (float)r;
      kz_batch_f32(&b, 0, r)[1] = r == 2 ? __builtin_nanf("") : -0.5f * (float)r;
      *kz_batch_i32(&b, 1, r) = (int32_t)(r % 4) - 1;
      *kz_batch_f32(&b, 2, r) = (float)(r * r);
    }
    st = kz_shard_writer_append(w, split, &b);
  }
  if (st == KZ_OK)
    st = kz_shard_writer_finish(w);
  else
    kz_shard_writer_abort(w);
  kz_shard_batch_free(&b);
  kz_schema_free(&s);
  if (st != KZ_OK) kz_fuzz_fail("cannot write the data set: %s", kz_last_error());
}

/* KZ_FUZZ_SEED_OUT=FILE: copy the manifest the writer made, the seed for
 * fuzz/corpus/manifest (it names the shard files this harness writes). */
static void dump_seed(void) {
  const char *out = getenv("KZ_FUZZ_SEED_OUT");
  if (!out) return;
  char path[600];
  snprintf(path, sizeof path, "%s/manifest.json", set_dir);
  json_t *m = json_load_file(path, 0, NULL);
  if (!m || json_dump_file(m, out, JSON_INDENT(1) | JSON_SORT_KEYS) != 0)
    kz_fuzz_fail("cannot copy %s to %s", path, out);
  json_decref(m);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  make_set();
  dump_seed();
  return 0;
}

static void check_round_trip(const kz_schema *s) {
  char *text = kz_schema_to_string(s);
  if (!text) return; /* out of memory */
  kz_schema back;
  if (kz_schema_from_string(text, "round-trip", &back) != KZ_OK)
    kz_fuzz_fail("a schema that parsed does not parse back: %s\n  %s", kz_last_error(), text);
  char *again = kz_schema_to_string(&back);
  if (again && strcmp(text, again) != 0)
    kz_fuzz_fail("a schema prints differently after a round trip:\n  %s\n  %s", text, again);
  free(again);
  kz_schema_free(&back);
  free(text);
}

static void read_rows(kz_dataset *ds) {
  int64_t n = kz_dataset_rows(ds);
  if (n <= 0) return;
  if (n > 16) n = 16; /* the set on disk has 9 rows; more is an error to report */
  kz_shard_batch b;
  if (kz_shard_batch_alloc(kz_dataset_schema(ds), n, &b) != KZ_OK) return;
  (void)kz_fuzz_ok("read_range", kz_dataset_read_range(ds, 0, n, &b, 0));
  int64_t rows[3] = {n - 1, 0, n / 2};
  kz_shard_batch_clear(&b);
  (void)kz_dataset_read_rows(ds, rows, 3, &b, 0);
  kz_shard_batch_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[600];
  snprintf(path, sizeof path, "%s/manifest.json", set_dir);
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
    kz_fuzz_fail("cannot write %s", path);

  kz_dataset *ds = NULL;
  if (kz_fuzz_ok("open", kz_dataset_open(set_dir, NULL, &ds))) {
    check_round_trip(kz_dataset_schema(ds));
    for (int i = 0; i < kz_dataset_shard_count(ds); ++i) {
      kz_shard_info info;
      kz_dataset_shard_info(ds, i, &info);
      (void)kz_dataset_shard_of_row(ds, info.first_row);
    }
    read_rows(ds);
    kz_dataset_close(ds);
  }
  kz_dataset_options o = {.split = "valid", .verify_checksums = 0};
  if (kz_dataset_open(set_dir, &o, &ds) == KZ_OK) kz_dataset_close(ds);

  json_t *doc = json_loadb((const char *)data, size, 0, NULL);
  json_t *js = json_object_get(doc, "schema");
  kz_schema s;
  if (js && kz_schema_from_json(js, "manifest.json", &s) == KZ_OK) {
    check_round_trip(&s);
    (void)kz_schema_row_bytes(&s);
    kz_schema_free(&s);
  }
  json_decref(doc);
  return 0;
}
