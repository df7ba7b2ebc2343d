#define _POSIX_C_SOURCE 200809L
#include "data/shard/reader.h"

#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/shard/fsutil.h"
#include "data/shard/h5util.h"
#include "data/shard/hash64.h"
#include "kernels/core/error.h"

typedef struct shard_entry {
  char *path, *split;
  int64_t rows, first_row;
  uint64_t checksum;
} shard_entry;

struct kz_dataset {
  char *path;
  kz_schema schema;
  char *schema_text;
  shard_entry *shards;
  int n_shards;
  int64_t rows;
  kz_shard_cursor *cursor; /* for the random-access calls on the caller's thread */
};

struct kz_shard_cursor {
  const kz_dataset *ds;
  int shard;
  hid_t file;
  hid_t *dsets;
  hid_t dxpl;
};

/* ---- validation ------------------------------------------------------------ */

static kz_status check_dataset(hid_t file, const char *path, const kz_field *fd, int64_t *rows) {
  if (H5Lexists(file, fd->name, H5P_DEFAULT) <= 0)
    return kz_fail(KZ_ERR_FORMAT, "%s: dataset '%s' is missing", path, fd->name);
  hid_t d = H5Dopen2(file, fd->name, H5P_DEFAULT);
  if (d < 0) return kz_fail(KZ_ERR_FORMAT, "%s: dataset '%s' cannot be opened", path, fd->name);
  hid_t type = H5Dget_type(d), space = H5Dget_space(d);
  H5T_class_t cls = H5Tget_class(type);
  size_t size = H5Tget_size(type);
  int var = cls == H5T_STRING && H5Tis_variable_str(type) > 0;
  int ok_type;
  switch (fd->type) {
  case KZ_FIELD_F32:
    ok_type = cls == H5T_FLOAT && size == 4;
    break;
  case KZ_FIELD_F64:
    ok_type = cls == H5T_FLOAT && size == 8;
    break;
  case KZ_FIELD_I32:
    ok_type = cls == H5T_INTEGER && size == 4;
    break;
  default:
    ok_type = var;
    break;
  }
  hsize_t dims[2] = {0, 0};
  int rank = H5Sget_simple_extent_ndims(space);
  if (rank == 2) H5Sget_simple_extent_dims(space, dims, NULL);
  H5Sclose(space), H5Tclose(type), H5Dclose(d);
  if (!ok_type)
    return kz_fail(KZ_ERR_FORMAT, "%s: dataset '%s' is not %s (class %d, %zu bytes)", path,
                   fd->name, kz_field_type_name(fd->type), (int)cls, size);
  if (rank != 2 || dims[1] != (hsize_t)fd->width)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: dataset '%s' has shape [%llu, %llu] (rank %d), expected [rows, %lld]", path,
                   fd->name, (unsigned long long)dims[0], (unsigned long long)dims[1], rank,
                   (long long)fd->width);
  if (*rows >= 0 && (int64_t)dims[0] != *rows)
    return kz_fail(KZ_ERR_FORMAT, "%s: dataset '%s' has %llu rows, expected %lld", path, fd->name,
                   (unsigned long long)dims[0], (long long)*rows);
  *rows = (int64_t)dims[0];
  return KZ_OK;
}

/* Validates one shard file. expected: the manifest's schema text (NULL for a
 * lone file, then *schema receives the file's schema). *rows: expected rows
 * or -1; receives the rows found. */
static kz_status validate_file(const char *path, const char *expected, kz_schema *schema,
                               int64_t *rows, char **split) {
  struct stat sb;
  if (stat(path, &sb) != 0) return kz_fail(KZ_ERR_IO, "%s: %s", path, strerror(errno));
  if (H5Fis_hdf5(path) <= 0)
    return kz_fail(KZ_ERR_FORMAT, "%s: not an HDF5 file (or its header is damaged)", path);
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, kz_h5_read_fapl());
  if (file < 0)
    return kz_fail(KZ_ERR_FORMAT, "%s: cannot open as HDF5 (truncated or damaged: %lld bytes)",
                   path, (long long)sb.st_size);
  kz_status st = KZ_OK;
  char *format = kz_h5_attr_read_str(file, "kaizen_format");
  char *kind = kz_h5_attr_read_str(file, "kind");
  char *text = kz_h5_attr_read_str(file, "schema");
  int version = -1;
  if (!format || strcmp(format, KZ_SHARD_FORMAT))
    st =
        kz_fail(KZ_ERR_FORMAT, "%s: attribute 'kaizen_format' is %s%s%s, expected '%s'", path,
                format ? "'" : "", format ? format : "missing", format ? "'" : "", KZ_SHARD_FORMAT);
  else if (kz_h5_attr_read_int(file, "kaizen_format_version", &version) < 0)
    st = kz_fail(KZ_ERR_FORMAT,
                 "%s: attribute 'kaizen_format_version' is missing or not an integer", path);
  else if (version != KZ_SHARD_FORMAT_VERSION)
    st = kz_fail(KZ_ERR_FORMAT,
                 "%s: attribute 'kaizen_format_version' is %d; this build reads version %d", path,
                 version, KZ_SHARD_FORMAT_VERSION);
  else if (!kind || !text)
    st = kz_fail(KZ_ERR_FORMAT, "%s: attribute '%s' is missing", path, kind ? "schema" : "kind");
  kz_schema local;
  int have_local = 0;
  if (st == KZ_OK) {
    st = kz_schema_from_string(text, path, &local);
    have_local = st == KZ_OK;
  }
  if (st == KZ_OK && strcmp(local.kind, kind))
    st = kz_fail(KZ_ERR_FORMAT, "%s: attribute 'kind' is '%s' but the schema says '%s'", path, kind,
                 local.kind);
  if (st == KZ_OK && expected) {
    char *canon = kz_schema_to_string(&local);
    if (!canon || strcmp(canon, expected))
      st =
          kz_fail(KZ_ERR_FORMAT, "%s: attribute 'schema' differs from the manifest's schema", path);
    free(canon);
  }
  for (int32_t f = 0; st == KZ_OK && f < local.n_fields; ++f)
    st = check_dataset(file, path, &local.fields[f], rows);
  if (st == KZ_OK && split) {
    *split = kz_h5_attr_read_str(file, "split");
    if (!*split) *split = strdup("train");
  }
  if (st == KZ_OK && schema) {
    *schema = local;
    have_local = 0;
  }
  if (have_local) kz_schema_free(&local);
  free(format), free(kind), free(text);
  if (H5Fclose(file) < 0 && st == KZ_OK)
    st = kz_fail(KZ_ERR_FORMAT, "%s: closing the HDF5 file failed", path);
  return st;
}

/* ---- manifest -------------------------------------------------------------- */

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  size_t n = (size_t)(slash - path);
  char *d = malloc(n + 2);
  if (!d) return NULL;
  if (n == 0) n = 1; /* "/manifest.json" */
  memcpy(d, path, n);
  d[n] = '\0';
  return d;
}

static kz_status add_shard(kz_dataset *ds, const char *path, const char *split, int64_t rows,
                           uint64_t checksum) {
  shard_entry *grown = realloc(ds->shards, (size_t)(ds->n_shards + 1) * sizeof *grown);
  if (!grown) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  ds->shards = grown;
  shard_entry *e = &ds->shards[ds->n_shards++];
  e->path = strdup(path);
  e->split = strdup(split);
  e->rows = rows;
  e->first_row = ds->rows;
  e->checksum = checksum;
  ds->rows += rows;
  return e->path && e->split ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
}

/* Where a shard entry's file name may point: a plain name in the manifest's
 * directory. NULL when it is fine, else why not. */
static const char *bad_file_name(const char *file) {
  if (!*file) return "is empty";
  if (file[0] == '/') return "is an absolute path; shard files are named relative to the manifest";
  if (!strcmp(file, "..") || !strncmp(file, "../", 3) || strstr(file, "/../") ||
      (strlen(file) >= 3 && !strcmp(file + strlen(file) - 3, "/..")))
    return "leaves the data set's directory ('..')";
  if (strchr(file, '/')) return "contains '/'; shard files lie in the manifest's directory";
  if (!strcmp(file, ".")) return "is not a file name";
  return NULL;
}

static const char *const manifest_keys[] = {
    "kaizen_format", "kaizen_format_version", "kind", "schema", "splits", "shards"};
static const char *const shard_keys[] = {"file", "split", "rows", "bytes", "checksum"};

/* The first key of o not in keys[0..n), or NULL. */
static const char *unknown_key(json_t *o, const char *const *keys, size_t n) {
  const char *key;
  json_t *val;
  json_object_foreach(o, key, val) {
    size_t k = 0;
    while (k < n && strcmp(key, keys[k])) ++k;
    if (k == n) return key;
  }
  return NULL;
}

/* Largest row count a shard entry, and a data set, may claim: far beyond any
 * HDF5 file, and small enough that sums of many cannot overflow. */
#define KZ_MANIFEST_MAX_ROWS ((int64_t)1 << 53)

/* One shard entry's fields, checked as written; names the key at fault. */
static kz_status read_entry(const char *mpath, size_t i, json_t *e, json_t *splits,
                            const char **file, const char **split, int64_t *rows, int64_t *bytes,
                            uint64_t *checksum) {
  if (!json_is_object(e))
    return kz_fail(KZ_ERR_FORMAT, "%s: shards[%zu]: expected an object", mpath, i);
  const char *unk = unknown_key(e, shard_keys, sizeof shard_keys / sizeof shard_keys[0]);
  if (unk) return kz_fail(KZ_ERR_FORMAT, "%s: shards[%zu].%s: unknown key", mpath, i, unk);
  static const char *const need[] = {"file", "split", "checksum"};
  for (int k = 0; k < 3; ++k)
    if (!json_is_string(json_object_get(e, need[k])))
      return kz_fail(KZ_ERR_FORMAT, "%s: shards[%zu].%s: %s", mpath, i, need[k],
                     json_object_get(e, need[k]) ? "expected a string" : "missing");
  *file = json_string_value(json_object_get(e, "file"));
  *split = json_string_value(json_object_get(e, "split"));
  const char *why = bad_file_name(*file);
  if (why) return kz_fail(KZ_ERR_FORMAT, "%s: shards[%zu].file: '%s' %s", mpath, i, *file, why);
  if (!json_object_get(splits, *split))
    return kz_fail(KZ_ERR_FORMAT, "%s: shards[%zu].split: '%s' is not one of 'splits'", mpath, i,
                   *split);
  static const char *const ints[] = {"rows", "bytes"};
  int64_t *dst[] = {rows, bytes};
  for (int k = 0; k < 2; ++k) {
    json_t *j = json_object_get(e, ints[k]);
    if (!json_is_integer(j) || json_integer_value(j) < 0 ||
        json_integer_value(j) > KZ_MANIFEST_MAX_ROWS)
      return kz_fail(KZ_ERR_FORMAT, "%s: shards[%zu].%s: %s", mpath, i, ints[k],
                     j ? "expected an integer in [0, 2^53]" : "missing");
    *dst[k] = (int64_t)json_integer_value(j);
  }
  const char *sum = json_string_value(json_object_get(e, "checksum"));
  size_t n = strlen(sum);
  int hex = n == 21 && !strncmp(sum, "kz64:", 5);
  for (size_t k = 5; hex && k < n; ++k)
    hex = (sum[k] >= '0' && sum[k] <= '9') || (sum[k] >= 'a' && sum[k] <= 'f');
  if (!hex || sscanf(sum + 5, "%16" SCNx64, checksum) != 1)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: shards[%zu].checksum: '%.40s' is not kz64: and 16 lower-case hex digits",
                   mpath, i, sum);
  return KZ_OK;
}

static kz_status load_manifest(kz_dataset *ds, const char *mpath, const kz_dataset_options *o) {
  json_error_t err;
  json_t *m = json_load_file(mpath, JSON_REJECT_DUPLICATES, &err);
  if (!m) {
    if (!kz_fs_exists(mpath)) return kz_fail(KZ_ERR_NOT_FOUND, "%s: no such file", mpath);
    return kz_fail(KZ_ERR_FORMAT, "%s:%d:%d: not valid JSON (at byte %d): %s", mpath, err.line,
                   err.column, err.position, err.text);
  }
  kz_status st = KZ_OK;
  const char *format = json_string_value(json_object_get(m, "kaizen_format"));
  json_t *jv = json_object_get(m, "kaizen_format_version"), *shards = json_object_get(m, "shards");
  json_t *splits = json_object_get(m, "splits"), *jkind = json_object_get(m, "kind");
  const char *unk = json_is_object(m) ? unknown_key(m, manifest_keys, 6) : NULL;
  if (!json_is_object(m))
    st = kz_fail(KZ_ERR_FORMAT, "%s: not a JSON object", mpath);
  else if (!format || strcmp(format, KZ_MANIFEST_FORMAT))
    st = kz_fail(KZ_ERR_FORMAT, "%s: 'kaizen_format' is not '%s'", mpath, KZ_MANIFEST_FORMAT);
  else if (!json_is_integer(jv) || json_integer_value(jv) != KZ_SHARD_FORMAT_VERSION)
    st = kz_fail(KZ_ERR_FORMAT,
                 "%s: 'kaizen_format_version' is %s%lld; this build reads version %d", mpath,
                 json_is_integer(jv) ? "" : "not an integer: ", (long long)json_integer_value(jv),
                 KZ_SHARD_FORMAT_VERSION);
  else if (unk)
    st = kz_fail(KZ_ERR_FORMAT, "%s: '%s': unknown key", mpath, unk);
  else if (!json_is_array(shards))
    st = kz_fail(KZ_ERR_FORMAT, "%s: 'shards' is %s", mpath, shards ? "not an array" : "missing");
  else if (!json_is_object(splits))
    st = kz_fail(KZ_ERR_FORMAT, "%s: 'splits' is %s, expected an object of row counts", mpath,
                 splits ? "not an object" : "missing");
  else if (!json_is_string(jkind))
    st = kz_fail(KZ_ERR_FORMAT, "%s: 'kind' is %s", mpath, jkind ? "not a string" : "missing");
  const char *skey;
  json_t *sval;
  if (st == KZ_OK) json_object_foreach(splits, skey, sval) {
      if (st == KZ_OK && (!json_is_integer(sval) || json_integer_value(sval) < 0))
        st = kz_fail(KZ_ERR_FORMAT, "%s: splits.%s: expected a row count (an integer >= 0)", mpath,
                     skey);
    }
  if (st == KZ_OK) st = kz_schema_from_json(json_object_get(m, "schema"), mpath, &ds->schema);
  if (st == KZ_OK && strcmp(json_string_value(jkind), ds->schema.kind))
    st = kz_fail(KZ_ERR_FORMAT, "%s: 'kind' is '%s' but the schema's kind is '%s'", mpath,
                 json_string_value(jkind), ds->schema.kind);
  if (st == KZ_OK && !(ds->schema_text = kz_schema_to_string(&ds->schema)))
    st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  char *dir = st == KZ_OK ? dir_of(mpath) : NULL;
  size_t n_entries = json_is_array(shards) ? json_array_size(shards) : 0;
  /* rows the entries of each split claim, in the order of `splits` */
  json_t *claimed = json_object();
  if (!claimed && st == KZ_OK) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  for (size_t i = 0; st == KZ_OK && i < n_entries; ++i) {
    const char *file = NULL, *split = NULL;
    int64_t rows = 0, bytes = 0;
    uint64_t checksum = 0;
    st = read_entry(mpath, i, json_array_get(shards, i), splits, &file, &split, &rows, &bytes,
                    &checksum);
    /* the same file twice would be read twice: every row counted double */
    for (size_t k = 0; st == KZ_OK && k < i; ++k)
      if (!strcmp(file, json_string_value(json_object_get(json_array_get(shards, k), "file"))))
        st = kz_fail(KZ_ERR_FORMAT, "%s: shards[%zu].file: '%s' is listed twice (also shards[%zu])",
                     mpath, i, file, k);
    if (st != KZ_OK) break;
    json_int_t before = json_integer_value(json_object_get(claimed, split));
    if (before > KZ_MANIFEST_MAX_ROWS - rows) {
      st = kz_fail(KZ_ERR_FORMAT, "%s: shards[%zu].rows: the split's rows pass 2^53", mpath, i);
      break;
    }
    json_object_set_new(claimed, split, json_integer(before + rows));
    if (o->split && strcmp(o->split, split)) continue;
    char *path = kz_path_join(dir, file);
    if (!path) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    struct stat sb;
    if (st == KZ_OK && stat(path, &sb) != 0)
      st = kz_fail(KZ_ERR_IO, "%s: %s (shards[%zu] of %s)", path, strerror(errno), i, mpath);
    if (st == KZ_OK && !S_ISREG(sb.st_mode))
      st = kz_fail(KZ_ERR_FORMAT, "%s: not a regular file (shards[%zu] of %s)", path, i, mpath);
    /* cheap on every open, and the first sign of a truncated or replaced file */
    if (st == KZ_OK && (int64_t)sb.st_size != bytes)
      st = kz_fail(KZ_ERR_FORMAT, "%s: %lld bytes, but shards[%zu].bytes in %s says %lld", path,
                   (long long)sb.st_size, i, mpath, (long long)bytes);
    if (st == KZ_OK && o->verify_checksums) {
      uint64_t got;
      st = kz_hash64_file(path, &got, NULL);
      if (st == KZ_OK && got != checksum)
        st = kz_fail(KZ_ERR_FORMAT,
                     "%s: checksum kz64:%016" PRIx64 " does not match the manifest's "
                     "kz64:%016" PRIx64 " (%s, shards[%zu].checksum)",
                     path, got, checksum, mpath, i);
    }
    int64_t found = -1;
    if (st == KZ_OK) st = validate_file(path, ds->schema_text, NULL, &found, NULL);
    if (st == KZ_OK && found != rows)
      st = kz_fail(KZ_ERR_FORMAT, "%s: %lld rows, but shards[%zu].rows in %s says %lld", path,
                   (long long)found, i, mpath, (long long)rows);
    if (st == KZ_OK) st = add_shard(ds, path, split, rows, checksum);
    free(path);
  }
  if (st == KZ_OK) json_object_foreach(splits, skey, sval) {
      json_int_t want = json_integer_value(sval);
      json_int_t have = json_integer_value(json_object_get(claimed, skey));
      if (st == KZ_OK && want != have)
        st = kz_fail(KZ_ERR_FORMAT, "%s: splits.%s is %lld but its shards hold %lld rows", mpath,
                     skey, (long long)want, (long long)have);
    }
  json_decref(claimed);
  free(dir);
  json_decref(m);
  return st;
}

/* ---- open / close ---------------------------------------------------------- */

kz_status kz_dataset_open(const char *path, const kz_dataset_options *options, kz_dataset **out) {
  *out = NULL;
  kz_dataset_options o = {0};
  if (options) o = *options;
  kz_h5_quiet();
  kz_dataset *ds = calloc(1, sizeof *ds);
  if (!ds) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  struct stat sb;
  kz_status st = KZ_OK;
  if (stat(path, &sb) != 0) {
    st = kz_fail(KZ_ERR_NOT_FOUND, "%s: %s", path, strerror(errno));
  } else if (S_ISDIR(sb.st_mode)) {
    ds->path = kz_path_join(path, "manifest.json");
    st =
        ds->path ? load_manifest(ds, ds->path, &o) : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  } else {
    size_t n = strlen(path);
    ds->path = strdup(path);
    if (!ds->path)
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    else if (n >= 5 && !strcmp(path + n - 5, ".json"))
      st = load_manifest(ds, path, &o);
    else {
      int64_t rows = -1;
      char *split = NULL;
      st = validate_file(path, NULL, &ds->schema, &rows, &split);
      if (st == KZ_OK && !(ds->schema_text = kz_schema_to_string(&ds->schema)))
        st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
      if (st == KZ_OK && (!o.split || !strcmp(o.split, split)))
        st = add_shard(ds, path, split, rows, 0);
      free(split);
    }
  }
  if (st == KZ_OK) st = kz_shard_cursor_create(ds, &ds->cursor);
  if (st != KZ_OK) {
    kz_dataset_close(ds);
    return st;
  }
  *out = ds;
  return KZ_OK;
}

void kz_dataset_close(kz_dataset *ds) {
  if (!ds) return;
  kz_shard_cursor_free(ds->cursor);
  for (int i = 0; i < ds->n_shards; ++i) free(ds->shards[i].path), free(ds->shards[i].split);
  free(ds->shards);
  kz_schema_free(&ds->schema);
  free(ds->schema_text);
  free(ds->path);
  free(ds);
}

const kz_schema *kz_dataset_schema(const kz_dataset *ds) {
  return &ds->schema;
}
int64_t kz_dataset_rows(const kz_dataset *ds) {
  return ds->rows;
}
int kz_dataset_shard_count(const kz_dataset *ds) {
  return ds->n_shards;
}
const char *kz_dataset_path(const kz_dataset *ds) {
  return ds->path;
}

void kz_dataset_shard_info(const kz_dataset *ds, int shard, kz_shard_info *info) {
  const shard_entry *e = &ds->shards[shard];
  info->path = e->path, info->split = e->split;
  info->rows = e->rows, info->first_row = e->first_row, info->checksum = e->checksum;
}

int kz_dataset_shard_of_row(const kz_dataset *ds, int64_t row) {
  int lo = 0, hi = ds->n_shards - 1;
  while (lo < hi) {
    int mid = (lo + hi + 1) / 2;
    if (ds->shards[mid].first_row <= row)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* ---- cursor ---------------------------------------------------------------- */

static void *vlen_alloc(size_t n, void *info) {
  return malloc(n);
}
static void vlen_free(void *p, void *info) {
  free(p);
}

kz_status kz_shard_cursor_create(const kz_dataset *ds, kz_shard_cursor **out) {
  kz_shard_cursor *c = calloc(1, sizeof *c);
  if (c) c->dsets = calloc((size_t)ds->schema.n_fields + 1, sizeof(hid_t));
  if (!c || !c->dsets) {
    free(c);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  c->ds = ds;
  c->shard = -1;
  c->file = -1;
  /* strings read from HDF5 are released with free() by the batch */
  c->dxpl = H5Pcreate(H5P_DATASET_XFER);
  H5Pset_vlen_mem_manager(c->dxpl, vlen_alloc, NULL, vlen_free, NULL);
  *out = c;
  return KZ_OK;
}

static void cursor_close_file(kz_shard_cursor *c) {
  if (c->file < 0) return;
  for (int32_t f = 0; f < c->ds->schema.n_fields; ++f)
    if (c->dsets[f] > 0) H5Dclose(c->dsets[f]), c->dsets[f] = 0;
  H5Fclose(c->file);
  c->file = -1;
  c->shard = -1;
}

void kz_shard_cursor_free(kz_shard_cursor *c) {
  if (!c) return;
  cursor_close_file(c);
  if (c->dxpl > 0) H5Pclose(c->dxpl);
  free(c->dsets);
  free(c);
}

static kz_status cursor_open(kz_shard_cursor *c, int shard) {
  if (c->shard == shard) return KZ_OK;
  cursor_close_file(c);
  kz_h5_quiet();
  const char *path = c->ds->shards[shard].path;
  c->file = H5Fopen(path, H5F_ACC_RDONLY, kz_h5_read_fapl());
  if (c->file < 0) return kz_fail(KZ_ERR_IO, "%s: cannot open (changed since validation?)", path);
  for (int32_t f = 0; f < c->ds->schema.n_fields; ++f) {
    c->dsets[f] = H5Dopen2(c->file, c->ds->schema.fields[f].name, H5P_DEFAULT);
    if (c->dsets[f] < 0) {
      c->dsets[f] = 0;
      cursor_close_file(c);
      return kz_fail(KZ_ERR_IO, "%s: dataset '%s' cannot be opened", path,
                     c->ds->schema.fields[f].name);
    }
  }
  c->shard = shard;
  return KZ_OK;
}

/* Codes into a dictionary (categorical features, class labels, series ids)
 * are checked on every read, not only by --verify: a flipped bit there does
 * not look like corruption downstream (a model reads an unknown code as
 * missing and trains on, exit 0), and the check is one compare per value
 * already in cache. -1 is the missing code. */
static kz_status check_codes(const char *path, const kz_field *fd, const int32_t *v, int64_t row0,
                             int64_t n) {
  int64_t w = fd->width;
  for (int64_t c = 0; c < w && c < fd->n_columns; ++c) {
    int32_t k = fd->columns[c].n_categories;
    if (k <= 0) continue;
    for (int64_t r = 0; r < n; ++r) {
      int32_t x = v[r * w + c];
      if (x < -1 || x >= k)
        return kz_fail(KZ_ERR_FORMAT,
                       "%s: dataset '%s', column '%s', row %lld: code %d is outside [-1, %d) "
                       "(the shard is corrupt: `kaizen data inspect --verify` checks its checksum)",
                       path, fd->name, fd->columns[c].name, (long long)(row0 + r), x, k);
    }
  }
  return KZ_OK;
}

kz_status kz_shard_cursor_read(kz_shard_cursor *c, int shard, int64_t row0, int64_t n,
                               kz_shard_batch *dst, int64_t dst_row) {
  const kz_dataset *ds = c->ds;
  if (shard < 0 || shard >= ds->n_shards || row0 < 0 || n < 0 ||
      row0 + n > ds->shards[shard].rows || dst_row + n > dst->capacity)
    return kz_fail(KZ_ERR_INVALID_ARG, "read of rows [%lld, +%lld) of shard %d is out of range",
                   (long long)row0, (long long)n, shard);
  if (n == 0) return KZ_OK;
  KZ_TRY(cursor_open(c, shard));
  for (int32_t f = 0; f < ds->schema.n_fields; ++f) {
    const kz_field *fd = &ds->schema.fields[f];
    hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)n, (hsize_t)fd->width};
    hid_t fspace = H5Dget_space(c->dsets[f]);
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t mspace = H5Screate_simple(2, count, NULL), type = kz_h5_type(fd->type, 0);
    size_t es = kz_field_type_size(fd->type);
    char *dest = (char *)dst->data[f] + (size_t)dst_row * (size_t)fd->width * es;
    if (fd->type == KZ_FIELD_STR) {
      char **slots = (char **)dest;
      for (size_t i = 0; i < (size_t)n * (size_t)fd->width; ++i) free(slots[i]), slots[i] = NULL;
    }
    herr_t rc = H5Dread(c->dsets[f], type, mspace, fspace, c->dxpl, dest);
    H5Tclose(type), H5Sclose(mspace), H5Sclose(fspace);
    if (rc < 0)
      return kz_fail(KZ_ERR_IO, "%s: dataset '%s': reading rows [%lld, %lld) failed",
                     ds->shards[shard].path, fd->name, (long long)row0, (long long)(row0 + n));
    if (fd->type == KZ_FIELD_I32)
      KZ_TRY(check_codes(ds->shards[shard].path, fd, (const int32_t *)dest, row0, n));
  }
  for (int64_t i = 0; i < n; ++i)
    dst->row_ids[dst_row + i] = ds->shards[shard].first_row + row0 + i;
  return KZ_OK;
}

kz_status kz_dataset_read_range(kz_dataset *ds, int64_t first, int64_t n, kz_shard_batch *dst,
                                int64_t dst_row) {
  if (first < 0 || n < 0 || first + n > ds->rows)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: rows [%lld, %lld) are outside [0, %lld)", ds->path,
                   (long long)first, (long long)(first + n), (long long)ds->rows);
  while (n > 0) {
    int s = kz_dataset_shard_of_row(ds, first);
    int64_t local = first - ds->shards[s].first_row;
    int64_t take = ds->shards[s].rows - local < n ? ds->shards[s].rows - local : n;
    KZ_TRY(kz_shard_cursor_read(ds->cursor, s, local, take, dst, dst_row));
    first += take, n -= take, dst_row += take;
  }
  return KZ_OK;
}

kz_status kz_dataset_read_rows(kz_dataset *ds, const int64_t *rows, int64_t n, kz_shard_batch *dst,
                               int64_t dst_row) {
  int64_t i = 0;
  while (i < n) {
    if (rows[i] < 0 || rows[i] >= ds->rows)
      return kz_fail(KZ_ERR_INVALID_ARG, "%s: row %lld is outside [0, %lld)", ds->path,
                     (long long)rows[i], (long long)ds->rows);
    int64_t run = 1; /* consecutive rows become one contiguous read */
    while (i + run < n && rows[i + run] == rows[i] + run) ++run;
    KZ_TRY(kz_dataset_read_range(ds, rows[i], run, dst, dst_row + i));
    i += run;
  }
  return KZ_OK;
}

void kz_shard_thread_end(void) {
  H5Eclear2(H5E_DEFAULT);
}
