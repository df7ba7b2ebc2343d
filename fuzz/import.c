/* libFuzzer harness: CSV import end to end (data/import/import*.c): the
 * first pass that infers column types, missing values and dictionaries,
 * the label and the split, and the second that converts rows into shards.
 * The label is the header's last column; the input is imported as a
 * tabular set with a validation split, then as a timeseries (the first
 * column as series id, the second as time, the last as target).
 * Properties: a failed import leaves nothing in its output directory; a
 * successful one opens and reads back with as many rows as it reported. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/import.h"
#include "data/import/rows.h"
#include "data/shard/batch.h"
#include "data/shard/reader.h"
#include "fuzz_util.h"

/* The header's columns, or 0 when there is no header. names[] point into a
 * malloc'ed block the caller frees. */
static int header(const char *path, char **names, int cap, char **block) {
  *block = NULL;
  kz_rows *r = NULL;
  int eof = 1, n = 0;
  if (kz_rows_open(path, &r) != KZ_OK) return 0;
  if (kz_rows_next(r, &eof) == KZ_OK && !eof) {
    n = kz_rows_fields(r) < cap ? kz_rows_fields(r) : cap;
    size_t total = 0;
    for (int i = 0; i < n; ++i) total += kz_rows_field_len(r, i) + 1;
    *block = malloc(total ? total : 1);
    if (!*block) abort();
    char *p = *block;
    for (int i = 0; i < n; ++i) {
      memcpy(p, kz_rows_field(r, i), kz_rows_field_len(r, i) + 1);
      names[i] = p;
      p += kz_rows_field_len(r, i) + 1;
    }
  }
  kz_rows_close(r);
  return n;
}

static void check_empty(const char *dir, const char *why) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      kz_fuzz_fail("a failed import (%s) left %s/%s behind", why, dir, e->d_name);
  closedir(d);
}

static void read_back(const char *dir, const kz_import_report *rep) {
  kz_dataset *ds = NULL;
  if (kz_dataset_open(dir, NULL, &ds) != KZ_OK)
    kz_fuzz_fail("an import that succeeded does not open: %s", kz_last_error());
  if (kz_dataset_rows(ds) != rep->rows_train + rep->rows_valid)
    kz_fuzz_fail("the import reported %lld + %lld rows, the data set has %lld",
                 (long long)rep->rows_train, (long long)rep->rows_valid,
                 (long long)kz_dataset_rows(ds));
  int64_t n = kz_dataset_rows(ds) < 64 ? kz_dataset_rows(ds) : 64;
  kz_shard_batch b;
  if (n > 0 && kz_shard_batch_alloc(kz_dataset_schema(ds), n, &b) == KZ_OK) {
    if (kz_dataset_read_range(ds, 0, n, &b, 0) != KZ_OK)
      kz_fuzz_fail("an imported data set does not read: %s", kz_last_error());
    kz_shard_batch_free(&b);
  }
  kz_dataset_close(ds);
}

static void import(kz_import_options *o, const char *name) {
  char out[512];
  snprintf(out, sizeof out, "%s/%s", kz_fuzz_dir(), name);
  kz_import_report rep;
  memset(&rep, 0, sizeof rep);
  o->out = out;
  o->overwrite = 1;
  if (kz_fuzz_ok("import", kz_import_file(o, &rep)))
    read_back(out, &rep);
  else
    check_empty(out, kz_last_error());
  kz_fuzz_remove(out); /* the next input starts from nothing */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = kz_fuzz_write("input.csv", data, size);
  char *names[64], *block;
  int n = header(path, names, 64, &block);
  kz_import_options o;
  kz_import_options_default(&o);
  o.input = path;
  o.label = n > 0 ? names[n - 1] : "y";
  o.valid_fraction = 0.25;
  o.seed = 1;
  o.max_categories = 16;
  import(&o, "tabular");

  if (n >= 3) {
    kz_import_options_default(&o);
    o.input = path;
    o.kind = "timeseries";
    o.series_id = names[0];
    o.time = names[1];
    o.label = names[n - 1];
    import(&o, "timeseries");
  }
  free(block);
  return 0;
}
