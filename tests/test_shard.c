/* Shard writer and reader: exact round trip (NaN, strings, several shards),
 * ranks and shuffling, prefetch under a small memory bound, random access,
 * and the bad files a reader must refuse (truncated, another format version,
 * a checksum mismatch), with no partial output after a failed write.
 * usage: test_shard TMPDIR */
#define _POSIX_C_SOURCE 200809L
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/shard/iter.h"
#include "data/shard/reader.h"
#include "data/shard/writer.h"
#include "tests/test_util.h"

enum { ROWS = 10007, NUM = 3 };

static float num_value(int64_t r, int c) {
  if ((r * 7 + c) % 13 == 0) return NAN;
  return (float)(r * 0.5 + c * 1000.25);
}
static int32_t cat_value(int64_t r) {
  return (r % 11) == 0 ? -1 : (int32_t)(r % 4);
}

static void make_schema(kz_schema *s) {
  const char *nums[NUM] = {"a", "b", "c"}, *cats[1] = {"colour"}, *lab[1] = {"y"};
  const char *dict[4] = {"red", "green", "blue", "ünïcode"};
  KZ_CHECK_OK(kz_schema_init(s, "tabular"));
  KZ_CHECK_OK(kz_schema_add_field(s, "numeric", KZ_FIELD_F32, NUM, NUM, nums, NULL));
  KZ_CHECK_OK(kz_schema_add_field(s, "categorical", KZ_FIELD_I32, 1, 1, cats, NULL));
  KZ_CHECK_OK(kz_schema_set_categories(s, 1, 0, 4, dict));
  KZ_CHECK_OK(kz_schema_add_field(s, "label", KZ_FIELD_F32, 1, 1, lab, NULL));
  KZ_CHECK_OK(kz_schema_set_label(s, "y"));
}

static kz_status write_set(const char *dir, int64_t shard_rows, int compress) {
  kz_schema s;
  make_schema(&s);
  kz_shard_writer_options o;
  kz_shard_writer_options_default(&o);
  o.shard_rows = shard_rows;
  o.compress = compress;
  o.chunk_rows = 300;
  o.overwrite = 1;
  kz_shard_writer *w;
  kz_status st = kz_shard_writer_open(dir, &s, &o, &w);
  kz_shard_batch b;
  if (st == KZ_OK) st = kz_shard_batch_alloc(&s, 777, &b);
  for (int64_t r0 = 0; st == KZ_OK && r0 < ROWS; r0 += 777) {
    b.rows = r0 + 777 <= ROWS ? 777 : ROWS - r0;
    for (int64_t i = 0; i < b.rows; ++i) {
      for (int c = 0; c < NUM; ++c) kz_batch_f32(&b, 0, i)[c] = num_value(r0 + i, c);
      *kz_batch_i32(&b, 1, i) = cat_value(r0 + i);
      *kz_batch_f32(&b, 2, i) = (float)(r0 + i);
    }
    st = kz_shard_writer_append(w, 0, &b);
  }
  if (st == KZ_OK)
    st = kz_shard_writer_finish(w);
  else
    kz_shard_writer_abort(w);
  kz_shard_batch_free(&b);
  kz_schema_free(&s);
  return st;
}

static int row_ok(const kz_shard_batch *b, int64_t i) {
  int64_t r = b->row_ids[i];
  for (int c = 0; c < NUM; ++c) {
    float want = num_value(r, c), got = kz_batch_f32(b, 0, i)[c];
    if (isnan(want) ? !isnan(got) : memcmp(&want, &got, 4) != 0) return 0;
  }
  return *kz_batch_i32(b, 1, i) == cat_value(r) && *kz_batch_f32(b, 2, i) == (float)r;
}

static void test_round_trip(const char *dir, int compress) {
  KZ_CHECK_OK(write_set(dir, 4000, compress));
  kz_dataset *ds;
  kz_dataset_options o = {NULL, 1};
  KZ_CHECK_OK(kz_dataset_open(dir, &o, &ds));
  if (!ds) return;
  KZ_CHECK(kz_dataset_rows(ds) == ROWS);
  KZ_CHECK(kz_dataset_shard_count(ds) == 3);
  const kz_schema *s = kz_dataset_schema(ds);
  KZ_CHECK(!strcmp(s->fields[1].columns[0].categories[3], "ünïcode"));
  kz_shard_batch b;
  KZ_CHECK_OK(kz_shard_batch_alloc(s, ROWS, &b));
  KZ_CHECK_OK(kz_dataset_read_range(ds, 0, ROWS, &b, 0));
  b.rows = ROWS;
  int bad = 0;
  for (int64_t i = 0; i < ROWS; ++i) bad += !row_ok(&b, i) || b.row_ids[i] != i;
  KZ_CHECK(bad == 0);
  /* random access across shard boundaries, repeats and reverse order */
  int64_t want[] = {10006, 3999, 4000, 4001, 0, 0, 8000, 7999};
  KZ_CHECK_OK(kz_dataset_read_rows(ds, want, 8, &b, 0));
  for (int i = 0; i < 8; ++i) KZ_CHECK(b.row_ids[i] == want[i] && row_ok(&b, i));
  KZ_CHECK_FAILS(kz_dataset_read_rows(ds, (int64_t[]){ROWS}, 1, &b, 0), KZ_ERR_INVALID_ARG,
                 "row 10007");
  kz_shard_batch_free(&b);
  kz_dataset_close(ds);
}

/* Every row id of one epoch for one rank, in iteration order. */
static int64_t collect(kz_dataset *ds, int rank, int world, int shuffle, uint64_t seed,
                       int64_t epoch, int64_t *out, int *values_ok) {
  kz_shard_iter_options o;
  kz_shard_iter_options_default(&o);
  o.rank = rank, o.world = world, o.shuffle = shuffle, o.seed = seed, o.epoch = epoch;
  o.batch_size = 100, o.window_rows = 1500, o.prefetch_bytes = 1; /* two batches in flight */
  kz_shard_iter *it;
  int64_t n = 0;
  KZ_CHECK_OK(kz_shard_iter_open(ds, &o, &it));
  if (!it) return 0;
  const kz_shard_batch *b;
  while (kz_shard_iter_next(it, &b) == KZ_OK && b) {
    for (int64_t i = 0; i < b->rows; ++i) {
      *values_ok &= row_ok(b, i);
      out[n++] = b->row_ids[i];
    }
  }
  KZ_CHECK(n == kz_shard_iter_rows(it));
  kz_shard_iter_close(it);
  return n;
}

static void test_ranks_and_shuffle(const char *dir) {
  kz_dataset *ds;
  KZ_CHECK_OK(kz_dataset_open(dir, NULL, &ds));
  if (!ds) return;
  int64_t *a = malloc(ROWS * sizeof *a), *b = malloc(ROWS * sizeof *b);
  int64_t *c = malloc(ROWS * sizeof *c), *d = malloc(ROWS * sizeof *d);
  char *seen = calloc(ROWS, 1);
  int ok = 1;
  for (int shuffle = 0; shuffle < 2; ++shuffle) {
    memset(seen, 0, ROWS);
    int64_t n0 = collect(ds, 0, 2, shuffle, 42, 0, a, &ok);
    int64_t n1 = collect(ds, 1, 2, shuffle, 42, 0, b, &ok);
    KZ_CHECK(n0 + n1 == ROWS && (n0 - n1 == 0 || n0 - n1 == 1 || n1 - n0 == 1));
    int dup = 0;
    for (int64_t i = 0; i < n0; ++i) dup += seen[a[i]]++;
    for (int64_t i = 0; i < n1; ++i) dup += seen[b[i]]++;
    KZ_CHECK(dup == 0); /* disjoint, and with the count: the union is everything */
    if (!shuffle) {
      int in_order = 1;
      for (int64_t i = 0; i < n0; ++i) in_order &= a[i] == i;
      KZ_CHECK(in_order);
    }
  }
  int64_t n = collect(ds, 0, 1, 1, 7, 3, a, &ok);
  KZ_CHECK(collect(ds, 0, 1, 1, 7, 3, b, &ok) == n && !memcmp(a, b, (size_t)n * sizeof *a));
  KZ_CHECK(collect(ds, 0, 1, 1, 7, 4, c, &ok) == n && memcmp(a, c, (size_t)n * sizeof *a) != 0);
  KZ_CHECK(collect(ds, 0, 1, 1, 8, 3, d, &ok) == n && memcmp(a, d, (size_t)n * sizeof *a) != 0);
  int64_t moved = 0;
  for (int64_t i = 0; i < n; ++i) moved += a[i] != i;
  KZ_CHECK(moved > ROWS / 2);
  KZ_CHECK(ok);
  free(a), free(b), free(c), free(d), free(seen);
  kz_dataset_close(ds);
}

/* Stripes (iter.h): batch k of ranks 0, 1, 2 with stripe_rows = batch are,
 * one after the other, batch k of one process reading batches 3x as large;
 * the ranks' rows are disjoint and each counts its own (kz_shard_iter_rows). */
static void test_stripes(const char *dir) {
  kz_dataset *ds;
  KZ_CHECK_OK(kz_dataset_open(dir, NULL, &ds));
  if (!ds) return;
  enum { S = 37, W = 3 };
  for (int shuffle = 0; shuffle < 2; ++shuffle) {
    int64_t *one = malloc(ROWS * sizeof *one), *mine[W], got[W] = {0}, n1 = 0;
    kz_shard_iter_options o;
    kz_shard_iter_options_default(&o);
    o.shuffle = shuffle, o.seed = 9, o.epoch = 2, o.window_rows = 1500, o.batch_size = S * W;
    kz_shard_iter *it;
    const kz_shard_batch *b;
    KZ_CHECK_OK(kz_shard_iter_open(ds, &o, &it));
    while (it && kz_shard_iter_next(it, &b) == KZ_OK && b)
      for (int64_t i = 0; i < b->rows; ++i) one[n1++] = b->row_ids[i];
    kz_shard_iter_close(it);
    KZ_CHECK(n1 == ROWS);
    for (int r = 0; r < W; ++r) {
      mine[r] = malloc(ROWS * sizeof *mine[r]);
      o.batch_size = S, o.world = W, o.rank = r, o.stripe_rows = S;
      KZ_CHECK_OK(kz_shard_iter_open(ds, &o, &it));
      while (it && kz_shard_iter_next(it, &b) == KZ_OK && b) {
        KZ_CHECK(b->rows <= S);
        for (int64_t i = 0; i < b->rows; ++i) mine[r][got[r]++] = b->row_ids[i];
      }
      KZ_CHECK(it && got[r] == kz_shard_iter_rows(it));
      kz_shard_iter_close(it);
    }
    KZ_CHECK(got[0] + got[1] + got[2] == ROWS);
    /* interleave the ranks' stripes back: the one-process order */
    int64_t pos[W] = {0}, k = 0, same = 1;
    for (int64_t g = 0; g < ROWS; ++g) {
      int r = (int)((g / S) % W);
      same &= pos[r] < got[r] && mine[r][pos[r]++] == one[k++];
    }
    KZ_CHECK(same);
    free(one);
    for (int r = 0; r < W; ++r) free(mine[r]);
  }
  kz_dataset_close(ds);
}

static void copy_file(const char *from, const char *to, long keep) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  char buf[65536];
  size_t n;
  long total = 0;
  while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0) {
    if (keep >= 0 && total + (long)n > keep) n = (size_t)(keep - total);
    fwrite(buf, 1, n, out);
    total += (long)n;
    if (keep >= 0 && total >= keep) break;
  }
  if (in) fclose(in);
  if (out) fclose(out);
}

static void test_bad_files(const char *tmp) {
  char dir[512], shard[600], path[600];
  snprintf(dir, sizeof dir, "%s/bad", tmp);
  KZ_CHECK_OK(write_set(dir, 100000, 0));
  snprintf(shard, sizeof shard, "%s/train-00000.h5", dir);
  struct stat sb;
  stat(shard, &sb);
  kz_dataset *ds = NULL;

  snprintf(path, sizeof path, "%s/truncated.h5", tmp);
  copy_file(shard, path, (long)sb.st_size / 2);
  KZ_CHECK_FAILS(kz_dataset_open(path, NULL, &ds), KZ_ERR_FORMAT, "truncated.h5");

  snprintf(path, sizeof path, "%s/version2.h5", tmp);
  copy_file(shard, path, -1);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  KZ_CHECK(f >= 0);
  hid_t attr = H5Aopen(f, "kaizen_format_version", H5P_DEFAULT);
  int two = 2;
  H5Awrite(attr, H5T_NATIVE_INT, &two);
  H5Aclose(attr);
  H5Fclose(f);
  KZ_CHECK_FAILS(kz_dataset_open(path, NULL, &ds), KZ_ERR_FORMAT, "kaizen_format_version' is 2");
  KZ_CHECK_FAILS(kz_dataset_open(path, NULL, &ds), KZ_ERR_FORMAT, "version2.h5");

  /* a manifest whose checksum does not match its shard */
  char manifest[600];
  snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
  FILE *m = fopen(manifest, "rb");
  char text[8192] = {0};
  size_t len = m ? fread(text, 1, sizeof text - 1, m) : 0;
  if (m) fclose(m);
  char *sum = strstr(text, "kz64:");
  KZ_CHECK(sum != NULL && len > 0);
  if (sum) sum[5] = sum[5] == '0' ? '1' : '0';
  m = fopen(manifest, "wb");
  if (m) fwrite(text, 1, len, m), fclose(m);
  kz_dataset_options vo = {NULL, 1};
  KZ_CHECK_FAILS(kz_dataset_open(dir, &vo, &ds), KZ_ERR_FORMAT, "does not match the manifest");
  KZ_CHECK_FAILS(kz_dataset_open(dir, &vo, &ds), KZ_ERR_FORMAT, "train-00000.h5");
  KZ_CHECK_OK(kz_dataset_open(dir, NULL, &ds)); /* without verification the shard is fine */
  kz_dataset_close(ds);

  /* a shard whose dataset has the wrong type */
  snprintf(path, sizeof path, "%s/wrongtype.h5", tmp);
  copy_file(shard, path, -1);
  f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  H5Ldelete(f, "label", H5P_DEFAULT);
  hsize_t dims[2] = {ROWS, 1};
  hid_t sp = H5Screate_simple(2, dims, NULL);
  hid_t d = H5Dcreate2(f, "label", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d), H5Sclose(sp), H5Fclose(f);
  KZ_CHECK_FAILS(kz_dataset_open(path, NULL, &ds), KZ_ERR_FORMAT, "dataset 'label' is not float32");
}

static int dir_entries(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null | wc -l", dir);
  FILE *p = popen(cmd, "r");
  int n = -1;
  if (p) {
    if (fscanf(p, "%d", &n) != 1) n = -1;
    pclose(p);
  }
  return n;
}

static void test_abort_leaves_nothing(const char *tmp) {
  char dir[512];
  snprintf(dir, sizeof dir, "%s/aborted", tmp);
  kz_schema s;
  make_schema(&s);
  kz_shard_writer_options o;
  kz_shard_writer_options_default(&o);
  o.shard_rows = 100;
  kz_shard_writer *w;
  KZ_CHECK_OK(kz_shard_writer_open(dir, &s, &o, &w));
  kz_shard_batch b;
  KZ_CHECK_OK(kz_shard_batch_alloc(&s, 250, &b));
  b.rows = 250; /* two complete shards, half a third one buffered */
  KZ_CHECK_OK(kz_shard_writer_append(w, 0, &b));
  KZ_CHECK(dir_entries(dir) == 2);
  kz_shard_writer_abort(w);
  struct stat sb;
  KZ_CHECK(stat(dir, &sb) != 0); /* the directory it created is gone too */
  kz_shard_batch_free(&b);
  kz_schema_free(&s);
}

/* --overwrite: the old manifest stays until the first new shard is committed
 * (an early failure keeps the old data set), then goes before that shard
 * replaces an old one, so no manifest ever describes files it did not write. */
static void test_overwrite_retires_manifest(const char *tmp) {
  char dir[512], manifest[600];
  snprintf(dir, sizeof dir, "%s/replaced", tmp);
  snprintf(manifest, sizeof manifest, "%s/manifest.json", dir);
  kz_schema s;
  make_schema(&s);
  kz_shard_writer_options o;
  kz_shard_writer_options_default(&o);
  o.shard_rows = 100;
  kz_shard_batch b;
  KZ_CHECK_OK(kz_shard_batch_alloc(&s, 150, &b));
  b.rows = 150;
  kz_shard_writer *w;
  KZ_CHECK_OK(kz_shard_writer_open(dir, &s, &o, &w));
  KZ_CHECK_OK(kz_shard_writer_append(w, 0, &b));
  KZ_CHECK_OK(kz_shard_writer_finish(w));
  KZ_CHECK(access(manifest, F_OK) == 0);

  o.overwrite = 1;
  KZ_CHECK_OK(kz_shard_writer_open(dir, &s, &o, &w));
  b.rows = 50; /* buffered, nothing committed */
  KZ_CHECK_OK(kz_shard_writer_append(w, 0, &b));
  KZ_CHECK(access(manifest, F_OK) == 0);
  KZ_CHECK_OK(kz_shard_writer_append(w, 0, &b)); /* the first shard is committed */
  KZ_CHECK(access(manifest, F_OK) != 0);
  kz_shard_writer_abort(w);
  KZ_CHECK(access(manifest, F_OK) != 0);
  kz_dataset *ds = NULL;
  kz_dataset_options dopt = {NULL, 0};
  KZ_CHECK(kz_dataset_open(dir, &dopt, &ds) != KZ_OK); /* refused, not misread */
  kz_shard_batch_free(&b);
  kz_schema_free(&s);
}

/* Rewrites a shard's format version in place (for the CLI test). */
static int set_version(const char *path, int version) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t attr = f >= 0 ? H5Aopen(f, "kaizen_format_version", H5P_DEFAULT) : -1;
  herr_t rc = attr >= 0 ? H5Awrite(attr, H5T_NATIVE_INT, &version) : -1;
  if (attr >= 0) H5Aclose(attr);
  if (f >= 0) H5Fclose(f);
  return rc < 0;
}

/* Shuffled reads run in two threads (iter.c): closing early stops both, and
 * a read that fails in the block reader comes out of next() with its file. */
static void test_shuffle_stop_and_errors(const char *tmp) {
  char dir[512], shard[600];
  snprintf(dir, sizeof dir, "%s/cut", tmp);
  KZ_CHECK_OK(write_set(dir, ROWS, 0));
  snprintf(shard, sizeof shard, "%s/train-00000.h5", dir);
  kz_dataset *ds = NULL;
  KZ_CHECK_OK(kz_dataset_open(dir, NULL, &ds));
  if (!ds) return;
  kz_shard_iter_options o;
  kz_shard_iter_options_default(&o);
  o.shuffle = 1, o.seed = 5, o.batch_size = 100, o.window_rows = 1500, o.prefetch_bytes = 1;
  for (int batches = 0; batches < 3; ++batches) { /* before, at and after the first block */
    kz_shard_iter *it = NULL;
    KZ_CHECK_OK(kz_shard_iter_open(ds, &o, &it));
    const kz_shard_batch *b = NULL;
    for (int k = 0; it && k < batches * 15; ++k) KZ_CHECK_OK(kz_shard_iter_next(it, &b));
    kz_shard_iter_close(it);
  }
  struct stat sb;
  KZ_CHECK(stat(shard, &sb) == 0);
  KZ_CHECK(truncate(shard, sb.st_size / 2) == 0);
  kz_shard_iter *it = NULL;
  KZ_CHECK_OK(kz_shard_iter_open(ds, &o, &it));
  kz_status st = KZ_OK;
  int64_t rows = 0;
  const kz_shard_batch *b = NULL;
  while (it && (st = kz_shard_iter_next(it, &b)) == KZ_OK && b) rows += b->rows;
  KZ_CHECK(st != KZ_OK && rows < ROWS);
  KZ_CHECK(strstr(kz_last_error(), "train-00000.h5") != NULL);
  if (st == KZ_OK || !strstr(kz_last_error(), "train-00000.h5"))
    fprintf(stderr, "  cut shard: status %d after %lld rows: %s\n", (int)st, (long long)rows,
            kz_last_error());
  kz_shard_iter_close(it);
  kz_dataset_close(ds);
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "set-version")) return set_version(argv[2], atoi(argv[3]));
  if (argc < 2) {
    fprintf(stderr, "usage: test_shard TMPDIR\n");
    return 2;
  }
  mkdir(argv[1], 0777);
  char dir[512];
  snprintf(dir, sizeof dir, "%s/plain", argv[1]);
  test_round_trip(dir, 0);
  snprintf(dir, sizeof dir, "%s/deflate", argv[1]);
  test_round_trip(dir, 4);
  test_stripes(dir);
  test_ranks_and_shuffle(dir);
  test_bad_files(argv[1]);
  test_abort_leaves_nothing(argv[1]);
  test_overwrite_retires_manifest(argv[1]);
  test_shuffle_stop_and_errors(argv[1]);
  return KZ_TEST_RESULT();
}
