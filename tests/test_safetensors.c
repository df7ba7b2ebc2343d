/* safetensors reader/writer (models/io/safetensors.h).
 *   test_safetensors io TMPDIR        write -> read round trip, F16/BF16, every
 *                                     validation error of the reader and writer
 * Files with a malformed header are built byte by byte here (the writer
 * cannot make them), so every check of the reader is reached. */
#define _XOPEN_SOURCE 700
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/io/safetensors.h"
#include "tests/test_scratch.h"
#include "tests/test_util.h"

static const char *tmp;

static const char *at(const char *name) {
  return kz_test_path(tmp, name);
}

/* u64 header length, the header, then data_len bytes (0x11 each). */
static const char *raw_file(const char *name, const char *header, size_t data_len) {
  const char *path = at(name);
  FILE *f = fopen(path, "wb");
  uint64_t n = strlen(header);
  for (int i = 0; i < 8; ++i) fputc((int)((n >> (8 * i)) & 0xFF), f);
  fwrite(header, 1, n, f);
  for (size_t i = 0; i < data_len; ++i) fputc(0x11, f);
  fclose(f);
  return path;
}

static int bits_equal(float a, float b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

static void round_trip(void) {
  float scalar = -0.0f;
  float vec[5] = {1.0f, FLT_MAX, -FLT_MAX, FLT_MIN / 4, NAN};
  float mat[2 * 3] = {1, 2, 3, 4, 5, 6};
  float cube[2 * 1 * 2 * 2];
  for (int i = 0; i < 8; ++i) cube[i] = (float)i * 0.25f - 1.0f;
  int64_t s_vec[] = {5}, s_mat[] = {2, 3}, s_empty[] = {0, 3}, s_cube[] = {2, 1, 2, 2};
  kz_safetensors_writer *w = NULL;
  KZ_CHECK_OK(kz_safetensors_writer_new(&w));
  KZ_CHECK_OK(kz_safetensors_writer_add_f32(w, "z.scalar", 0, NULL, &scalar));
  KZ_CHECK_OK(kz_safetensors_writer_add_f32(w, "encoder.layer.0.w", 2, s_mat, mat));
  KZ_CHECK_OK(kz_safetensors_writer_add_f32(w, "a \"quoted\" name\\", 1, s_vec, vec));
  KZ_CHECK_OK(kz_safetensors_writer_add_f32(w, "empty", 2, s_empty, NULL));
  KZ_CHECK_OK(kz_safetensors_writer_add_f32(w, "cube", 4, s_cube, cube));
  KZ_CHECK_OK(kz_safetensors_writer_set_metadata(w, "format", "pt"));
  KZ_CHECK_OK(kz_safetensors_writer_set_metadata(w, "note", "first"));
  KZ_CHECK_OK(kz_safetensors_writer_set_metadata(w, "note", "ünïcode \"q\""));
  /* writer refusals */
  KZ_CHECK_FAILS(kz_safetensors_writer_add_f32(w, "cube", 1, s_vec, vec), KZ_ERR_INVALID_ARG,
                 "added twice");
  KZ_CHECK_FAILS(kz_safetensors_writer_add_f32(w, "__metadata__", 1, s_vec, vec),
                 KZ_ERR_INVALID_ARG, "__metadata__");
  KZ_CHECK_FAILS(kz_safetensors_writer_add_f32(w, "", 1, s_vec, vec), KZ_ERR_INVALID_ARG, "empty");
  KZ_CHECK_FAILS(kz_safetensors_writer_add_f32(w, "bad\xff", 1, s_vec, vec), KZ_ERR_INVALID_ARG,
                 "UTF-8");
  KZ_CHECK_FAILS(kz_safetensors_writer_add_f32(w, "r9", 9, s_cube, cube), KZ_ERR_INVALID_ARG,
                 "rank 9");
  int64_t neg[] = {-1};
  KZ_CHECK_FAILS(kz_safetensors_writer_add_f32(w, "neg", 1, neg, vec), KZ_ERR_INVALID_ARG,
                 "bad shape");
  KZ_CHECK_FAILS(kz_safetensors_writer_add_f32(w, "nodata", 1, s_vec, NULL), KZ_ERR_INVALID_ARG,
                 "no data");
  const char *path = at("rt.safetensors");
  KZ_CHECK_OK(kz_safetensors_writer_write(w, path));
  KZ_CHECK(kz_safetensors_writer_write(w, at("no/such/dir/x.safetensors")) == KZ_ERR_IO);
  KZ_CHECK(access(at("no/such/dir/x.safetensors.tmp"), F_OK) != 0);
  kz_safetensors_writer_free(w);
  KZ_CHECK(access(at("rt.safetensors.tmp"), F_OK) != 0);

  /* layout: 8 + header is a multiple of 8; data follows in the order added */
  FILE *f = fopen(path, "rb");
  unsigned char len8[8];
  KZ_CHECK(fread(len8, 1, 8, f) == 8);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | len8[i];
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  KZ_CHECK((8 + hlen) % 8 == 0);
  KZ_CHECK((uint64_t)size == 8 + hlen + 4 * (1 + 6 + 5 + 0 + 8));

  kz_safetensors *st = NULL;
  KZ_CHECK_OK(kz_safetensors_open(path, &st));
  if (!st) return;
  KZ_CHECK(kz_safetensors_count(st) == 5);
  const char *order[] = {"z.scalar", "encoder.layer.0.w", "a \"quoted\" name\\", "empty", "cube"};
  for (int i = 0; i < 5; ++i) {
    const kz_safetensors_tensor *t = kz_safetensors_tensor_at(st, i);
    /* "empty" (0 bytes at offset 48) sorts before "cube" (48..80) */
    KZ_CHECK(t && !strcmp(t->name, order[i]));
    KZ_CHECK(t && t->dtype == KZ_ST_F32);
    KZ_CHECK(kz_safetensors_find(st, order[i]) == i);
  }
  KZ_CHECK(kz_safetensors_find(st, "nope") == -1);
  KZ_CHECK(kz_safetensors_tensor_at(st, 5) == NULL && kz_safetensors_tensor_at(st, -1) == NULL);
  const kz_safetensors_tensor *c = kz_safetensors_tensor_at(st, kz_safetensors_find(st, "cube"));
  KZ_CHECK(c->rank == 4 && c->shape[0] == 2 && c->shape[1] == 1 && c->shape[3] == 2 &&
           c->numel == 8);
  const kz_safetensors_tensor *z = kz_safetensors_tensor_at(st, 0);
  KZ_CHECK(z->rank == 0 && z->numel == 1);
  const kz_safetensors_tensor *e = kz_safetensors_tensor_at(st, 3);
  KZ_CHECK(e->numel == 0 && e->begin == e->end);
  float back[8];
  KZ_CHECK_OK(kz_safetensors_read_f32(st, kz_safetensors_find(st, "cube"), back, 8));
  for (int i = 0; i < 8; ++i) KZ_CHECK(bits_equal(back[i], cube[i]));
  KZ_CHECK_OK(kz_safetensors_read_f32(st, 2, back, 5));
  for (int i = 0; i < 5; ++i) KZ_CHECK(bits_equal(back[i], vec[i]));
  KZ_CHECK_OK(kz_safetensors_read_f32(st, 0, back, 1));
  KZ_CHECK(bits_equal(back[0], -0.0f));
  KZ_CHECK_OK(kz_safetensors_read_f32(st, 3, NULL, 0));
  KZ_CHECK_FAILS(kz_safetensors_read_f32(st, 2, back, 4), KZ_ERR_INVALID_ARG, "has 5 elements");
  KZ_CHECK_FAILS(kz_safetensors_read_f32(st, 9, back, 4), KZ_ERR_INVALID_ARG, "no tensor");
  KZ_CHECK(kz_safetensors_metadata_count(st) == 2);
  KZ_CHECK(!strcmp(kz_safetensors_metadata_get(st, "format"), "pt"));
  KZ_CHECK(!strcmp(kz_safetensors_metadata_get(st, "note"), "ünïcode \"q\""));
  KZ_CHECK(kz_safetensors_metadata_get(st, "x") == NULL);
  const char *k, *v;
  kz_safetensors_metadata_at(st, 0, &k, &v);
  KZ_CHECK(!strcmp(k, "format") && !strcmp(v, "pt"));

  /* the file shrinks after open: the read fails naming the tensor */
  KZ_CHECK(truncate(path, size - 4) == 0);
  KZ_CHECK_FAILS(kz_safetensors_read_f32(st, kz_safetensors_find(st, "cube"), back, 8),
                 KZ_ERR_FORMAT, "'cube': the file ended");
  kz_safetensors_close(st);
}

static void half_floats(void) {
  /* F16: 1, -2, 65504, 2^-24 (smallest subnormal), 1023*2^-24, inf, -0, NaN;
   * BF16: 1, -3, inf, 1e38-ish */
  const uint16_t f16[8] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x03FF, 0x7C00, 0x8000, 0x7E00};
  const float want16[8] = {1.0f,     -2.0f, 65504.0f, 5.9604644775390625e-8f, 6.097555160522461e-5f,
                           INFINITY, -0.0f, NAN};
  const uint16_t bf16[4] = {0x3F80, 0xC040, 0x7F80, 0x7F16};
  const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,4],\"data_offsets\":[0,16]},"
                    "\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[16,24]},"
                    "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]}}";
  const char *path = at("half.safetensors");
  FILE *f = fopen(path, "wb");
  uint64_t n = strlen(hdr);
  for (int i = 0; i < 8; ++i) fputc((int)((n >> (8 * i)) & 0xFF), f);
  fwrite(hdr, 1, n, f);
  fwrite(f16, 2, 8, f);
  fwrite(bf16, 2, 4, f);
  int64_t one = 1;
  fwrite(&one, 8, 1, f);
  fclose(f);
  kz_safetensors *st = NULL;
  KZ_CHECK_OK(kz_safetensors_open(path, &st));
  if (!st) return;
  float out[8];
  KZ_CHECK_OK(kz_safetensors_read_f32(st, kz_safetensors_find(st, "h"), out, 8));
  for (int i = 0; i < 7; ++i) KZ_CHECK(bits_equal(out[i], want16[i]));
  KZ_CHECK(isnan(out[7]));
  KZ_CHECK_OK(kz_safetensors_read_f32(st, kz_safetensors_find(st, "b"), out, 4));
  KZ_CHECK(out[0] == 1.0f && out[1] == -3.0f && isinf(out[2]));
  uint32_t bits = 0x7F160000u;
  float big;
  memcpy(&big, &bits, 4);
  KZ_CHECK(bits_equal(out[3], big));
  KZ_CHECK_FAILS(kz_safetensors_read_f32(st, kz_safetensors_find(st, "i"), out, 1),
                 KZ_ERR_UNSUPPORTED, "'i' is I64; only F32, F16 and BF16");
  kz_safetensors_close(st);
}

/* Many tensors: adding, opening, finding and loading stay fast (a crafted
 * header can hold 160,000 entries; anything quadratic would hang). */
static void many(void) {
  enum { N = 100000 };
  kz_safetensors_writer *w = NULL;
  KZ_CHECK_OK(kz_safetensors_writer_new(&w));
  int64_t zero[] = {0};
  char name[32];
  for (int i = 0; i < N; ++i) {
    snprintf(name, sizeof name, "t%d", i);
    KZ_CHECK_OK(kz_safetensors_writer_add_f32(w, name, 1, zero, NULL));
  }
  KZ_CHECK_FAILS(kz_safetensors_writer_add_f32(w, "t777", 1, zero, NULL), KZ_ERR_INVALID_ARG,
                 "added twice");
  KZ_CHECK_OK(kz_safetensors_writer_write(w, at("many.safetensors")));
  kz_safetensors_writer_free(w);
  kz_safetensors *st = NULL;
  KZ_CHECK_OK(kz_safetensors_open(at("many.safetensors"), &st));
  if (!st) return;
  KZ_CHECK(kz_safetensors_count(st) == N);
  for (int i = 0; i < N; i += 997) {
    snprintf(name, sizeof name, "t%d", i);
    int64_t j = kz_safetensors_find(st, name);
    KZ_CHECK(j >= 0 && !strcmp(kz_safetensors_tensor_at(st, j)->name, name));
  }
  kz_safetensors_close(st);
}

typedef struct bad_case {
  const char *header;
  size_t data_len;
  const char *needle;
} bad_case;

#define T(name, dtype, shape, b, e)                                                                \
  "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":[" #b "," #e "]}"

static void validation(void) {
  const bad_case cases[] = {
      {"[1,2]", 0, "does not start with '{'"},
      {"{\"a\":", 0, "not valid JSON"},
      {"{" T("a", "F32", "[1]", 0, 4) "," T("a", "F32", "[1]", 4, 8) "}", 8, "duplicate"},
      {"{" T("a", "F33", "[1]", 0, 4) "}", 4, "tensor 'a': unknown dtype \"F33\""},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4,
       "tensor 'a': unknown key \"x\""},
      {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor 'a': missing shape"},
      {"{\"a\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype is not a string"},
      {"{\"a\":[1]}", 0, "tensor 'a': entry is not an object"},
      {"{" T("a", "F32", "[-1]", 0, 4) "}", 4, "shape[0] is not a non-negative integer"},
      {"{" T("a", "F32", "[1.5]", 0, 4) "}", 4, "shape[0] is not a non-negative integer"},
      {"{" T("a", "F32", "7", 0, 4) "}", 4, "shape is not an array"},
      {"{" T("a", "F32", "[1,1,1,1,1,1,1,1,1]", 0, 4) "}", 4, "9 dimensions, at most 8"},
      {"{" T("a", "F32", "[4294967296,4294967296,4]", 0, 4) "}", 4, "shape overflows"},
      {"{" T("a", "F32", "[1000000000,1000000000]", 0, 4) "}", 4,
       "shape [1000000000, 1000000000] of F32 needs 1000000000000000000 x 4 bytes"},
      {"{" T("a", "F32", "[2]", 0, 4) "}", 4, "needs 2 x 4 bytes, data_offsets [0, 4] hold 4"},
      {"{" T("a", "F32", "[1]", 4, 0) "}", 4, "end before they begin"},
      {"{" T("a", "F32", "[1]", 0, 4) "}", 2, "run past the data buffer (2 bytes)"},
      {"{" T("a", "F32", "[1]", -4, 0) "}", 4, "not non-negative integers"},
      {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "not an array [begin"},
      {"{" T("a", "F32", "[2]", 0, 8) "," T("b", "F32", "[1]", 4, 8) "}", 8,
       "tensor 'b': data_offsets [4, 8] overlap tensor 'a'"},
      {"{" T("a", "F32", "[1]", 0, 4) "," T("b", "F32", "[1]", 8, 12) "}", 12,
       "tensor 'b': bytes 4..8 of the data buffer before it belong to no tensor"},
      {"{" T("a", "F32", "[1]", 0, 4) "}", 8, "end at byte 4 of the data buffer, the file holds 8"},
      {"{\"__metadata__\":[1]}", 0, "__metadata__ is not an object"},
      {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ \"k\" is not a string"},
      {"{" T("", "F32", "[1]", 0, 4) "}", 4, "a tensor has an empty name"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    char name[32];
    snprintf(name, sizeof name, "bad%zu.safetensors", i);
    const char *path = raw_file(name, cases[i].header, cases[i].data_len);
    kz_safetensors *st = (kz_safetensors *)1;
    kz_status s = kz_safetensors_open(path, &st);
    if (s != KZ_ERR_FORMAT || !strstr(kz_last_error(), cases[i].needle) ||
        !strstr(kz_last_error(), path) || st != NULL) {
      fprintf(stderr, "case %zu (%s): wanted a format error with \"%s\", got %s: %s\n", i,
              cases[i].header, cases[i].needle, kz_status_name(s), kz_last_error());
      ++kz_test_failures;
    }
  }
  /* an empty file, a short one, a header length past the end */
  const char *p = at("empty.safetensors");
  fclose(fopen(p, "wb"));
  kz_safetensors *st = NULL;
  KZ_CHECK_FAILS(kz_safetensors_open(p, &st), KZ_ERR_FORMAT, "truncated: 0 bytes");
  FILE *f = fopen(p, "wb");
  fwrite("\x10\0\0\0\0\0\0\0{}", 1, 10, f);
  fclose(f);
  KZ_CHECK_FAILS(kz_safetensors_open(p, &st), KZ_ERR_FORMAT,
                 "the header length 16 runs past the end of the file (10 bytes)");
  f = fopen(p, "wb");
  fwrite("\xff\xff\xff\xff\xff\xff\xff\xff{}", 1, 10, f);
  fclose(f);
  KZ_CHECK_FAILS(kz_safetensors_open(p, &st), KZ_ERR_FORMAT, "runs past the end of the file");
  /* an empty header object is a valid file with no tensors */
  KZ_CHECK_OK(kz_safetensors_open(raw_file("none.safetensors", "{}  ", 0), &st));
  KZ_CHECK(st && kz_safetensors_count(st) == 0);
  kz_safetensors_close(st);
  /* a header over the limit, in a sparse file that really has those bytes */
  p = at("huge_header.safetensors");
  f = fopen(p, "wb");
  uint64_t n = KZ_SAFETENSORS_MAX_HEADER + 1;
  for (int i = 0; i < 8; ++i) fputc((int)((n >> (8 * i)) & 0xFF), f);
  fputc('{', f);
  fclose(f);
  KZ_CHECK(truncate(p, (off_t)(8 + n)) == 0);
  KZ_CHECK_FAILS(kz_safetensors_open(p, &st), KZ_ERR_FORMAT, "more than the 16777216 accepted");
  remove(p);
  /* too many JSON values for the parser */
  size_t values = KZ_SAFETENSORS_MAX_JSON_VALUES + 10;
  char *big = malloc(2 * values + 32);
  size_t k = (size_t)sprintf(big, "{\"__metadata__\":{\"a\":\"\"},\"x\":[");
  for (size_t i = 0; i < values; ++i) big[k++] = '0', big[k++] = ',';
  big[k - 1] = ']', big[k++] = '}', big[k] = '\0';
  KZ_CHECK_FAILS(kz_safetensors_open(raw_file("values.safetensors", big, 0), &st), KZ_ERR_FORMAT,
                 "more than 1000000 JSON values");
  free(big);
  /* a very long name */
  char longname[KZ_SAFETENSORS_MAX_NAME + 64];
  int m = snprintf(longname, sizeof longname, "{\"");
  memset(longname + m, 'n', KZ_SAFETENSORS_MAX_NAME + 1);
  snprintf(longname + m + KZ_SAFETENSORS_MAX_NAME + 1, 40, "\":{}}");
  KZ_CHECK_FAILS(kz_safetensors_open(raw_file("longname.safetensors", longname, 0), &st),
                 KZ_ERR_FORMAT, "is longer than 1024 bytes");
  /* a directory, a missing file */
  KZ_CHECK_FAILS(kz_safetensors_open(tmp, &st), KZ_ERR_INVALID_ARG, "is a directory");
  KZ_CHECK_FAILS(kz_safetensors_open(at("missing.safetensors"), &st), KZ_ERR_IO, "cannot open");
}

int main(int argc, char **argv) {
  if (argc != 3 || strcmp(argv[1], "io") != 0) {
    fprintf(stderr, "usage: test_safetensors io TMPDIR\n");
    return 2;
  }
  tmp = argv[2];
  kz_test_fresh_dir(tmp);
  round_trip();
  half_floats();
  many();
  validation();
  return KZ_TEST_RESULT();
}
