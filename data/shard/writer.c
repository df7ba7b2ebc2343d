#define _POSIX_C_SOURCE 200809L
#include "data/shard/writer.h"

#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/shard/fsutil.h"
#include "data/shard/h5util.h"
#include "data/shard/hash64.h"
#include "kernels/core/error.h"

typedef struct split_state {
  char *name;
  kz_shard_batch buf; /* rows waiting for a full chunk */
  hid_t file;
  hid_t *dsets;
  char *tmp_path, *final_path, *file_name;
  int64_t shard_rows_written; /* rows in the open shard */
  int64_t total_rows;
  int shard_index;
} split_state;

struct kz_shard_writer {
  char *dir;
  kz_schema schema;
  char *schema_text;
  kz_shard_writer_options opt;
  int64_t chunk_rows;
  split_state *splits;
  json_t *shards;   /* manifest entries of committed shards */
  char **committed; /* paths to remove on abort */
  int n_committed;
  int made_dir;
};

void kz_shard_writer_options_default(kz_shard_writer_options *o) {
  memset(o, 0, sizeof *o);
  o->shard_rows = 1000000;
  o->n_splits = 1;
}

static const char *default_split[] = {"train"};

kz_status kz_shard_writer_open(const char *dir, const kz_schema *schema,
                               const kz_shard_writer_options *options, kz_shard_writer **out) {
  *out = NULL;
  kz_shard_writer_options o;
  kz_shard_writer_options_default(&o);
  if (options) o = *options;
  if (!o.splits || o.n_splits < 1) o.splits = default_split, o.n_splits = 1;
  if (o.shard_rows < 1) return kz_fail(KZ_ERR_INVALID_ARG, "shard rows must be positive");
  if (o.compress < 0 || o.compress > 9)
    return kz_fail(KZ_ERR_INVALID_ARG, "deflate level %d is not in 0..9", o.compress);
  KZ_TRY(kz_schema_validate(schema, dir));
  kz_h5_quiet();

  kz_shard_writer *w = calloc(1, sizeof *w);
  if (!w) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
  w->opt = o;
  kz_status st = kz_schema_copy(schema, &w->schema);
  if (st != KZ_OK) {
    free(w);
    return st;
  }
  w->dir = strdup(dir);
  w->schema_text = kz_schema_to_string(&w->schema);
  w->shards = json_array();
  w->splits = calloc((size_t)o.n_splits, sizeof *w->splits);
  if (!w->dir || !w->schema_text || !w->shards || !w->splits) {
    kz_shard_writer_abort(w);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", dir);
  }
  size_t row_bytes = kz_schema_row_bytes(&w->schema);
  w->chunk_rows =
      o.chunk_rows > 0 ? o.chunk_rows : (int64_t)((1u << 20) / (row_bytes ? row_bytes : 1));
  if (w->chunk_rows < 16) w->chunk_rows = 16;
  if (w->chunk_rows > o.shard_rows) w->chunk_rows = o.shard_rows;
  for (int s = 0; s < o.n_splits; ++s) {
    split_state *sp = &w->splits[s];
    sp->file = -1;
    if (!(sp->name = strdup(o.splits[s]))) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    if (st == KZ_OK) st = kz_shard_batch_alloc(&w->schema, w->chunk_rows, &sp->buf);
    if (st == KZ_OK && !(sp->dsets = calloc((size_t)w->schema.n_fields, sizeof(hid_t))))
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  if (st == KZ_OK) st = kz_fs_ensure_dir(dir, &w->made_dir);
  if (st == KZ_OK) {
    char *manifest = kz_path_join(dir, "manifest.json");
    if (manifest && kz_fs_exists(manifest) && !o.overwrite)
      st =
          kz_fail(KZ_ERR_INVALID_ARG, "%s already exists (pass overwrite to replace it)", manifest);
    free(manifest);
  }
  if (st != KZ_OK) {
    kz_shard_writer_abort(w);
    return st;
  }
  *out = w;
  return KZ_OK;
}

/* errno is cleared before the HDF5 calls that write, so a value here comes
 * from the failed system call (ENOSPC for a full disk) and says why. */
static kz_status h5fail(const split_state *sp, const char *field, const char *what) {
  int e = errno;
  return kz_fail(KZ_ERR_IO, "%s: dataset '%s': %s failed%s%s", sp->tmp_path, field, what,
                 e ? ": " : "", e ? strerror(e) : "");
}

static kz_status write_dictionaries(kz_shard_writer *w, split_state *sp) {
  hid_t group = -1;
  for (int32_t f = 0; f < w->schema.n_fields; ++f) {
    const kz_field *fd = &w->schema.fields[f];
    for (int32_t c = 0; c < fd->n_columns; ++c) {
      const kz_column *col = &fd->columns[c];
      if (!col->n_categories) continue;
      if (group < 0 &&
          (group = H5Gcreate2(sp->file, "dictionaries", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)) < 0)
        return h5fail(sp, "dictionaries", "H5Gcreate");
      char name[96];
      snprintf(name, sizeof name, "%s_%d", fd->name, (int)c);
      hsize_t n = (hsize_t)col->n_categories;
      hid_t type = kz_h5_type(KZ_FIELD_STR, 1), space = H5Screate_simple(1, &n, NULL);
      hid_t d = H5Dcreate2(group, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      herr_t rc = d >= 0 ? H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, col->categories) : -1;
      if (rc >= 0) rc = kz_h5_attr_write_str(d, "column", col->name);
      if (d >= 0) H5Dclose(d);
      H5Sclose(space);
      H5Tclose(type);
      if (rc < 0) {
        H5Gclose(group);
        return h5fail(sp, name, "writing dictionary");
      }
    }
  }
  if (group >= 0) H5Gclose(group);
  return KZ_OK;
}

static kz_status open_shard(kz_shard_writer *w, split_state *sp) {
  char name[256];
  snprintf(name, sizeof name, "%s-%05d.h5", sp->name, sp->shard_index);
  free(sp->final_path), free(sp->tmp_path), free(sp->file_name);
  sp->file_name = strdup(name);
  sp->final_path = kz_path_join(w->dir, name);
  sp->tmp_path = sp->final_path ? malloc(strlen(sp->final_path) + 5) : NULL;
  if (!sp->file_name || !sp->tmp_path) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  sprintf(sp->tmp_path, "%s.tmp", sp->final_path);

  /* v1.8 object headers allow attributes over 64 KiB (large dictionaries). */
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
  errno = 0;
  sp->file = H5Fcreate(sp->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  int e = errno;
  H5Pclose(fapl);
  if (sp->file < 0)
    return kz_fail(KZ_ERR_IO, "%s: cannot create HDF5 file%s%s", sp->tmp_path, e ? ": " : "",
                   e ? strerror(e) : "");
  if (kz_h5_attr_write_str(sp->file, "kaizen_format", KZ_SHARD_FORMAT) < 0 ||
      kz_h5_attr_write_int(sp->file, "kaizen_format_version", KZ_SHARD_FORMAT_VERSION) < 0 ||
      kz_h5_attr_write_str(sp->file, "kind", w->schema.kind) < 0 ||
      kz_h5_attr_write_str(sp->file, "schema", w->schema_text) < 0 ||
      kz_h5_attr_write_str(sp->file, "split", sp->name) < 0)
    return kz_fail(KZ_ERR_IO, "%s: cannot write file attributes", sp->tmp_path);
  for (int32_t f = 0; f < w->schema.n_fields; ++f) {
    const kz_field *fd = &w->schema.fields[f];
    hsize_t dims[2] = {0, (hsize_t)fd->width}, maxd[2] = {H5S_UNLIMITED, (hsize_t)fd->width};
    hsize_t chunk[2] = {(hsize_t)w->chunk_rows, (hsize_t)fd->width};
    hid_t space = H5Screate_simple(2, dims, maxd), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, 2, chunk);
    if (w->opt.compress && fd->type != KZ_FIELD_STR) {
      H5Pset_shuffle(dcpl);
      H5Pset_deflate(dcpl, (unsigned)w->opt.compress);
    }
    /* No chunk cache: rows arrive in whole chunks, so a cache would only hold
     * dirty chunks back until H5Dclose, and libhdf5 1.10 cannot recover from
     * a close whose flush fails (on a full disk the handle stays half closed
     * and the library crashes at exit). Without it every write reaches the
     * file in H5Dwrite, which fails cleanly. */
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 0, 0, 1.0);
    hid_t type = kz_h5_type(fd->type, 1);
    sp->dsets[f] = H5Dcreate2(sp->file, fd->name, type, space, H5P_DEFAULT, dcpl, dapl);
    H5Tclose(type), H5Pclose(dcpl), H5Pclose(dapl), H5Sclose(space);
    if (sp->dsets[f] < 0) return h5fail(sp, fd->name, "H5Dcreate");
  }
  KZ_TRY(write_dictionaries(w, sp));
  sp->shard_rows_written = 0;
  return KZ_OK;
}

/* Closes a shard that will not be committed. Its contents are thrown away,
 * so the file is emptied first: closing still flushes metadata, and after a
 * write failed for lack of space that flush would fail too and leave libhdf5
 * with a half-closed file it crashes on at exit. Emptied, the file has room. */
static void close_handles(kz_shard_writer *w, split_state *sp) {
  if (sp->file < 0) return;
  int ignored = sp->tmp_path ? truncate(sp->tmp_path, 0) : 0; /* removed later anyway */
  (void)ignored;
  for (int32_t f = 0; f < w->schema.n_fields; ++f)
    if (sp->dsets[f] > 0) H5Dclose(sp->dsets[f]), sp->dsets[f] = 0;
  H5Fclose(sp->file);
  sp->file = -1;
}

static kz_status remember(kz_shard_writer *w, const char *path) {
  char **grown = realloc(w->committed, (size_t)(w->n_committed + 1) * sizeof *grown);
  if (!grown) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  w->committed = grown;
  if (!(w->committed[w->n_committed] = strdup(path)))
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  w->n_committed++;
  return KZ_OK;
}

/* Replacing a data set renames new shards over old ones of the same name, so
 * the old manifest has to go first: a crash between the two would otherwise
 * leave a manifest that describes files it no longer matches. Done at the
 * first commit, not at open, so an import that fails on bad input before
 * writing anything leaves the old data set whole. */
static kz_status retire_old_manifest(kz_shard_writer *w) {
  char *manifest = kz_path_join(w->dir, "manifest.json");
  if (!manifest) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", w->dir);
  kz_status st = KZ_OK;
  if (kz_fs_exists(manifest)) {
    if (unlink(manifest) != 0)
      st = kz_fail(KZ_ERR_IO, "%s: cannot remove the old manifest: %s", manifest, strerror(errno));
    else
      st = kz_fs_sync_dir(w->dir);
  }
  free(manifest);
  return st;
}

static kz_status close_shard(kz_shard_writer *w, split_state *sp) {
  /* Write everything out while the handles are still open: a failure here
   * leaves them intact, to be closed by close_handles once the file is
   * emptied, whereas a failed H5Dclose or H5Fclose cannot be undone. */
  errno = 0;
  if (H5Fflush(sp->file, H5F_SCOPE_LOCAL) < 0) {
    int e = errno;
    return kz_fail(KZ_ERR_IO, "%s: writing the HDF5 file failed%s%s", sp->tmp_path, e ? ": " : "",
                   e ? strerror(e) : "");
  }
  for (int32_t f = 0; f < w->schema.n_fields; ++f)
    if (H5Dclose(sp->dsets[f]) < 0) {
      sp->dsets[f] = 0;
      return h5fail(sp, w->schema.fields[f].name, "H5Dclose");
    } else
      sp->dsets[f] = 0;
  herr_t rc = H5Fclose(sp->file);
  sp->file = -1;
  if (rc < 0) return kz_fail(KZ_ERR_IO, "%s: closing the HDF5 file failed", sp->tmp_path);
  uint64_t sum, bytes;
  KZ_TRY(kz_hash64_file(sp->tmp_path, &sum, &bytes));
  if (w->n_committed == 0) KZ_TRY(retire_old_manifest(w));
  KZ_TRY(remember(w, sp->final_path));
  KZ_TRY(kz_fs_commit(sp->tmp_path, sp->final_path));
  char hex[32];
  snprintf(hex, sizeof hex, "kz64:%016" PRIx64, sum);
  json_t *e = json_object();
  json_object_set_new(e, "file", json_string(sp->file_name));
  json_object_set_new(e, "split", json_string(sp->name));
  json_object_set_new(e, "rows", json_integer(sp->shard_rows_written));
  json_object_set_new(e, "bytes", json_integer((json_int_t)bytes));
  json_object_set_new(e, "checksum", json_string(hex));
  json_array_append_new(w->shards, e);
  sp->shard_index++;
  sp->shard_rows_written = 0;
  return KZ_OK;
}

/* Writes buffered rows [0, n) as the next rows of the open shard. */
static kz_status write_rows(kz_shard_writer *w, split_state *sp, int64_t from, int64_t n) {
  if (sp->file < 0) KZ_TRY(open_shard(w, sp));
  errno = 0;
  for (int32_t f = 0; f < w->schema.n_fields; ++f) {
    const kz_field *fd = &w->schema.fields[f];
    hsize_t start[2] = {(hsize_t)sp->shard_rows_written, 0};
    hsize_t count[2] = {(hsize_t)n, (hsize_t)fd->width};
    hsize_t dims[2] = {start[0] + count[0], (hsize_t)fd->width};
    if (H5Dset_extent(sp->dsets[f], dims) < 0) return h5fail(sp, fd->name, "H5Dset_extent");
    hid_t fspace = H5Dget_space(sp->dsets[f]);
    H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    hid_t mspace = H5Screate_simple(2, count, NULL), type = kz_h5_type(fd->type, 0);
    size_t off = (size_t)from * (size_t)fd->width * kz_field_type_size(fd->type);
    herr_t rc = H5Dwrite(sp->dsets[f], type, mspace, fspace, H5P_DEFAULT,
                         (const char *)sp->buf.data[f] + off);
    H5Tclose(type), H5Sclose(mspace), H5Sclose(fspace);
    if (rc < 0) return h5fail(sp, fd->name, "H5Dwrite");
  }
  sp->shard_rows_written += n;
  if (sp->shard_rows_written == w->opt.shard_rows) KZ_TRY(close_shard(w, sp));
  return KZ_OK;
}

static kz_status flush(kz_shard_writer *w, split_state *sp) {
  int64_t done = 0;
  while (done < sp->buf.rows) {
    int64_t room = w->opt.shard_rows - sp->shard_rows_written;
    int64_t n = sp->buf.rows - done < room ? sp->buf.rows - done : room;
    KZ_TRY(write_rows(w, sp, done, n));
    done += n;
  }
  kz_shard_batch_clear(&sp->buf);
  return KZ_OK;
}

kz_status kz_shard_writer_append(kz_shard_writer *w, int split, const kz_shard_batch *batch) {
  if (split < 0 || split >= w->opt.n_splits)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: split %d does not exist", w->dir, split);
  if (batch->n_fields != w->schema.n_fields)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: batch has %d fields, schema %d", w->dir,
                   batch->n_fields, w->schema.n_fields);
  split_state *sp = &w->splits[split];
  int64_t done = 0;
  while (done < batch->rows) {
    int64_t room = sp->buf.capacity - sp->buf.rows;
    int64_t n = batch->rows - done < room ? batch->rows - done : room;
    KZ_TRY(kz_shard_batch_copy_rows(&sp->buf, sp->buf.rows, batch, done, n));
    sp->buf.rows += n;
    done += n;
    sp->total_rows += n;
    if (sp->buf.rows == sp->buf.capacity) KZ_TRY(flush(w, sp));
  }
  return KZ_OK;
}

int64_t kz_shard_writer_rows(const kz_shard_writer *w, int split) {
  return split >= 0 && split < w->opt.n_splits ? w->splits[split].total_rows : 0;
}

static kz_status write_manifest(kz_shard_writer *w) {
  json_t *m = json_object();
  json_object_set_new(m, "kaizen_format", json_string(KZ_MANIFEST_FORMAT));
  json_object_set_new(m, "kaizen_format_version", json_integer(KZ_SHARD_FORMAT_VERSION));
  json_object_set_new(m, "kind", json_string(w->schema.kind));
  json_object_set_new(m, "schema", kz_schema_to_json(&w->schema));
  json_t *splits = json_object();
  for (int s = 0; s < w->opt.n_splits; ++s)
    json_object_set_new(splits, w->splits[s].name, json_integer(w->splits[s].total_rows));
  json_object_set_new(m, "splits", splits);
  json_object_set_new(m, "shards", json_incref(w->shards));
  char *text = json_dumps(m, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(m);
  char *path = kz_path_join(w->dir, "manifest.json");
  kz_status st = (text && path) ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  if (st == KZ_OK) st = remember(w, path);
  if (st == KZ_OK) {
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (line) {
      text = line;
      text[n] = '\n', text[n + 1] = '\0';
      st = kz_fs_write_atomic(path, text, n + 1);
    } else
      st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
  }
  free(text);
  free(path);
  return st;
}

static void free_writer(kz_shard_writer *w) {
  for (int s = 0; w->splits && s < w->opt.n_splits; ++s) {
    close_handles(w, &w->splits[s]);
    if (w->splits[s].tmp_path) remove(w->splits[s].tmp_path);
    kz_shard_batch_free(&w->splits[s].buf);
    free(w->splits[s].dsets), free(w->splits[s].name), free(w->splits[s].tmp_path);
    free(w->splits[s].final_path), free(w->splits[s].file_name);
  }
  for (int i = 0; i < w->n_committed; ++i) free(w->committed[i]);
  free(w->committed);
  free(w->splits);
  if (w->shards) json_decref(w->shards);
  free(w->schema_text);
  kz_schema_free(&w->schema);
  free(w->dir);
  free(w);
}

kz_status kz_shard_writer_finish(kz_shard_writer *w) {
  kz_status st = KZ_OK;
  int64_t total = 0;
  for (int s = 0; st == KZ_OK && s < w->opt.n_splits; ++s) {
    split_state *sp = &w->splits[s];
    total += sp->total_rows;
    st = flush(w, sp);
    if (st == KZ_OK && sp->file >= 0) st = close_shard(w, sp);
  }
  if (st == KZ_OK && total == 0) st = kz_fail(KZ_ERR_INVALID_ARG, "%s: no rows to write", w->dir);
  if (st == KZ_OK) st = write_manifest(w);
  if (st != KZ_OK) {
    kz_shard_writer_abort(w);
    return st;
  }
  free_writer(w);
  return KZ_OK;
}

void kz_shard_writer_abort(kz_shard_writer *w) {
  if (!w) return;
  /* committed shards go first: the space they free lets the open ones close */
  for (int i = 0; i < w->n_committed; ++i) remove(w->committed[i]);
  for (int s = 0; w->splits && s < w->opt.n_splits; ++s) close_handles(w, &w->splits[s]);
  for (int s = 0; w->splits && s < w->opt.n_splits; ++s)
    if (w->splits[s].tmp_path) remove(w->splits[s].tmp_path);
  if (w->made_dir && w->dir) rmdir(w->dir); /* only succeeds when we left it empty */
  free_writer(w);
}
