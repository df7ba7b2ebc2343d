/* Rows by column name -> the model's input layout (input_map.h). */
#define _POSIX_C_SOURCE 200809L
#include "data/map/input_map.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/import/numparse.h"
#include "data/import/strset.h"
#include "data/text/utf8.h"
#include "kernels/core/error.h"

/* One column the model reads: where it goes and where it comes from. */
typedef struct map_col {
  const char *name; /* the model schema's column name */
  int field, col;   /* destination */
  kz_field_type type;
  int is_label;
  int src;           /* raw: incoming column index; schema: source field; -1: absent */
  int src_col;       /* schema: column within the source field */
  kz_strset dict;    /* raw categorical: the model's dictionary (ids = codes) */
  int32_t *code_map; /* schema categorical: source code -> model code (-1: unseen) */
  int32_t n_src_codes;
  int64_t unseen;
} map_col;

struct kz_input_map {
  kz_schema schema;
  kz_schema src_schema; /* schema mode: the data set's, for messages */
  char *where;
  int schema_mode;
  kz_label_need label_need;
  int has_label;
  int n_cols;
  map_col *cols;
  /* vector fields (token ids, lengths: values without column names), copied
   * whole from the source field of the same name (schema mode only) */
  int n_vec;
  int vec_field[16], vec_src[16];
  char *ignored;
  char *summary;
  int64_t unseen;
};

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

void kz_input_map_free(kz_input_map *m) {
  if (!m) return;
  for (int i = 0; i < m->n_cols; ++i) {
    kz_strset_free(&m->cols[i].dict);
    free(m->cols[i].code_map);
  }
  free(m->cols);
  kz_schema_free(&m->schema);
  kz_schema_free(&m->src_schema);
  free(m->where);
  free(m->ignored);
  free(m->summary);
  free(m);
}

const kz_schema *kz_input_map_schema(const kz_input_map *m) {
  return &m->schema;
}
int kz_input_map_has_label(const kz_input_map *m) {
  return m->has_label;
}
const char *kz_input_map_ignored(const kz_input_map *m) {
  return m->ignored ? m->ignored : "";
}
int64_t kz_input_map_unseen(const kz_input_map *m) {
  return m->unseen;
}

const char *kz_input_map_unseen_summary(kz_input_map *m) {
  size_t cap = 1, used = 0;
  for (int i = 0; i < m->n_cols; ++i)
    if (m->cols[i].unseen) cap += strlen(m->cols[i].name) + 32;
  char *s = malloc(cap);
  if (!s) return "";
  s[0] = '\0';
  for (int i = 0; i < m->n_cols; ++i)
    if (m->cols[i].unseen)
      used += (size_t)snprintf(s + used, cap - used, "%s%s: %lld", used ? ", " : "",
                               m->cols[i].name, (long long)m->cols[i].unseen);
  free(m->summary);
  m->summary = s;
  return s;
}

/* The model's columns, in schema order. A field without column names (a
 * vector: token ids, lengths) is noted for whole-field copying from a data
 * set; raw cells cannot fill it (kz_input_map_for_columns refuses it). */
static kz_status plan_columns(kz_input_map *m, const kz_schema *model) {
  KZ_TRY(kz_schema_copy(model, &m->schema));
  int n = 0;
  for (int f = 0; f < model->n_fields; ++f) {
    const kz_field *fd = &model->fields[f];
    if (fd->n_columns == 0 && m->n_vec < 16) {
      m->vec_src[m->n_vec] = -1;
      m->vec_field[m->n_vec++] = f;
      continue;
    }
    if (fd->n_columns != fd->width)
      return kz_fail(KZ_ERR_UNSUPPORTED,
                     "%s: the model reads field '%s' (%lld values a row without column names); "
                     "only data sets of named columns (tabular) can be mapped by name",
                     m->where, fd->name, (long long)fd->width);
    n += fd->n_columns;
  }
  m->cols = calloc((size_t)(n ? n : 1), sizeof *m->cols);
  if (!m->cols) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", m->where);
  m->n_cols = n;
  int k = 0;
  for (int f = 0; f < m->schema.n_fields; ++f) {
    const kz_field *fd = &m->schema.fields[f];
    for (int c = 0; c < fd->n_columns; ++c, ++k) {
      map_col *mc = &m->cols[k];
      mc->name = fd->columns[c].name;
      mc->field = f, mc->col = c, mc->type = fd->type, mc->src = -1;
      mc->is_label = m->schema.label && !strcmp(m->schema.label, mc->name);
      kz_strset_init(&mc->dict);
    }
  }
  return KZ_OK;
}

static kz_status missing_column(const kz_input_map *m, const map_col *mc) {
  if (mc->is_label)
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: no column '%s' (the label); evaluation needs the label column", m->where,
                   mc->name);
  return kz_fail(KZ_ERR_INVALID_ARG, "%s: no column '%s', which the model reads as a %s feature",
                 m->where, mc->name, mc->type == KZ_FIELD_I32 ? "categorical" : "numeric");
}

/* Every column present, or absent only where allowed (the label, when
 * optional). */
static kz_status check_present(kz_input_map *m) {
  for (int i = 0; i < m->n_cols; ++i) {
    map_col *mc = &m->cols[i];
    if (mc->src >= 0) {
      if (mc->is_label) m->has_label = 1;
      continue;
    }
    if (!mc->is_label || m->label_need == KZ_LABEL_REQUIRED) return missing_column(m, mc);
  }
  return KZ_OK;
}

static kz_status new_map(const kz_schema *model, kz_label_need label, const char *where,
                         kz_input_map **out) {
  *out = NULL;
  kz_input_map *m = calloc(1, sizeof *m);
  if (!m || !(m->where = dup_str(where ? where : "input"))) {
    free(m);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "input map: out of memory");
  }
  m->label_need = label;
  kz_status st = plan_columns(m, model);
  if (st != KZ_OK) {
    kz_input_map_free(m);
    return st;
  }
  *out = m;
  return KZ_OK;
}

static kz_status note_ignored(kz_input_map *m, const char *name) {
  size_t have = m->ignored ? strlen(m->ignored) : 0, add = strlen(name) + 3;
  char *s = realloc(m->ignored, have + add);
  if (!s) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "input map: out of memory");
  snprintf(s + have, add, "%s%s", have ? ", " : "", name);
  m->ignored = s;
  return KZ_OK;
}

kz_status kz_input_map_for_columns(const kz_schema *model, int n, const char *const *names,
                                   kz_label_need label, const char *where, kz_input_map **out) {
  kz_input_map *m;
  KZ_TRY(new_map(model, label, where, &m));
  kz_status st = KZ_OK;
  if (m->n_vec > 0) {
    const kz_field *fd = &m->schema.fields[m->vec_field[0]];
    st = kz_fail(KZ_ERR_UNSUPPORTED,
                 "%s: the model reads field '%s' (%lld values a row without column names), which "
                 "raw columns cannot give; import the file (kaizen data import) and use --data",
                 m->where, fd->name, (long long)fd->width);
  }
  for (int i = 0; st == KZ_OK && i < n; ++i) {
    int used = 0;
    for (int k = 0; k < m->n_cols; ++k)
      if (!strcmp(m->cols[k].name, names[i])) {
        if (m->cols[k].src >= 0)
          st = kz_fail(KZ_ERR_FORMAT, "%s: column '%s' appears twice (columns %d and %d)", m->where,
                       names[i], m->cols[k].src + 1, i + 1);
        m->cols[k].src = i, used = 1;
      }
    if (st == KZ_OK && !used) st = note_ignored(m, names[i]);
  }
  if (st == KZ_OK) st = check_present(m);
  /* the model's dictionaries, inserted in code order so that ids are codes */
  for (int k = 0; st == KZ_OK && k < m->n_cols; ++k) {
    map_col *mc = &m->cols[k];
    if (mc->type != KZ_FIELD_I32) continue;
    const kz_column *col = &m->schema.fields[mc->field].columns[mc->col];
    for (int32_t c = 0; st == KZ_OK && c < col->n_categories; ++c) {
      int32_t id = -1;
      st = kz_strset_add(&mc->dict, col->categories[c], strlen(col->categories[c]), &id);
      if (st == KZ_OK && id != c)
        st = kz_fail(KZ_ERR_FORMAT, "%s: the model's column '%s' lists category '%s' twice",
                     m->where, mc->name, col->categories[c]);
    }
  }
  if (st != KZ_OK) {
    kz_input_map_free(m);
    return st;
  }
  *out = m;
  return KZ_OK;
}

static const char *type_word(const kz_field *fd, int col) {
  if (fd->type == KZ_FIELD_I32) return fd->columns[col].n_categories ? "categorical" : "integer";
  return fd->type == KZ_FIELD_STR ? "text" : "numeric";
}

kz_status kz_input_map_for_schema(const kz_schema *model, const kz_schema *src, kz_label_need label,
                                  const char *where, kz_input_map **out) {
  kz_input_map *m;
  KZ_TRY(new_map(model, label, where, &m));
  m->schema_mode = 1;
  kz_status st = kz_schema_copy(src, &m->src_schema);
  for (int k = 0; st == KZ_OK && k < m->n_cols; ++k) {
    map_col *mc = &m->cols[k];
    int f, c;
    if (!kz_schema_find_column(src, mc->name, &f, &c)) continue;
    const kz_field *sf = &src->fields[f];
    const kz_field *mf = &m->schema.fields[mc->field];
    if (sf->type != mc->type ||
        (mc->type == KZ_FIELD_I32 &&
         !sf->columns[c].n_categories != !mf->columns[mc->col].n_categories))
      st = kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: column '%s' is %s there but %s in the model; import the data with "
                   "--schema-from the model",
                   m->where, mc->name, type_word(sf, c), type_word(mf, mc->col));
    mc->src = f, mc->src_col = c;
    if (st != KZ_OK || mc->type != KZ_FIELD_I32) continue;
    /* translate codes by their strings: equal dictionaries give the identity,
     * a renamed or reordered one is remapped, never trusted by size */
    const kz_column *scol = &sf->columns[c], *mcol = &mf->columns[mc->col];
    mc->n_src_codes = scol->n_categories;
    mc->code_map = malloc((size_t)(scol->n_categories ? scol->n_categories : 1) * sizeof(int32_t));
    if (!mc->code_map) st = kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s: out of memory", m->where);
    for (int32_t i = 0; st == KZ_OK && i < mcol->n_categories; ++i) {
      int32_t id;
      st = kz_strset_add(&mc->dict, mcol->categories[i], strlen(mcol->categories[i]), &id);
    }
    for (int32_t i = 0; st == KZ_OK && i < scol->n_categories; ++i)
      mc->code_map[i] = kz_strset_find(&mc->dict, scol->categories[i], strlen(scol->categories[i]));
  }
  /* vector fields: the source field of the same name, type and width */
  for (int v = 0; st == KZ_OK && v < m->n_vec; ++v) {
    const kz_field *mf = &m->schema.fields[m->vec_field[v]];
    int f = kz_schema_field_index(src, mf->name);
    if (f < 0 || src->fields[f].type != mf->type || src->fields[f].width != mf->width ||
        src->fields[f].n_columns != 0)
      st = kz_fail(KZ_ERR_INVALID_ARG,
                   "%s: the model reads field '%s' (%s, %lld values a row), which the data set %s; "
                   "import it as the training data was (same --max-len and vocabulary)",
                   m->where, mf->name, kz_field_type_name(mf->type), (long long)mf->width,
                   f < 0 ? "lacks" : "holds with another type or width");
    m->vec_src[v] = f;
  }
  /* columns of the data set the model does not read */
  for (int f = 0; st == KZ_OK && f < src->n_fields; ++f)
    for (int c = 0; st == KZ_OK && c < src->fields[f].n_columns; ++c) {
      int used = 0;
      for (int k = 0; k < m->n_cols; ++k) used |= m->cols[k].src == f && m->cols[k].src_col == c;
      if (!used) st = note_ignored(m, src->fields[f].columns[c].name);
    }
  if (st == KZ_OK) st = check_present(m);
  if (st != KZ_OK) {
    kz_input_map_free(m);
    return st;
  }
  *out = m;
  return KZ_OK;
}

/* ---- mapping ---------------------------------------------------------------- */

static void put_missing(const map_col *mc, kz_shard_batch *b, int64_t r) {
  switch (mc->type) {
  case KZ_FIELD_F32:
    kz_batch_f32(b, mc->field, r)[mc->col] = NAN;
    break;
  case KZ_FIELD_F64:
    kz_batch_f64(b, mc->field, r)[mc->col] = NAN;
    break;
  case KZ_FIELD_I32:
    kz_batch_i32(b, mc->field, r)[mc->col] = -1;
    break;
  case KZ_FIELD_STR:
    break; /* a cleared batch holds NULL */
  }
}

/* where:line: prefix of a record's messages */
static const char *at(const kz_input_map *m, int64_t line, char *buf, size_t n) {
  if (line > 0)
    snprintf(buf, n, "%s:%lld", m->where, (long long)line);
  else
    snprintf(buf, n, "%s", m->where);
  return buf;
}

/* Import's rule (docs/DATA.md): text is UTF-8 without NUL bytes. */
static kz_status check_text(const kz_input_map *m, const map_col *mc, const char *v, size_t len,
                            int64_t line) {
  size_t bad = kz_utf8_check_text((const uint8_t *)v, len);
  if (bad == len) return KZ_OK;
  char pos[512];
  if (!v[bad])
    return kz_fail(KZ_ERR_FORMAT, "%s: column '%s': NUL byte at byte %zu",
                   at(m, line, pos, sizeof pos), mc->name, bad + 1);
  return kz_fail(KZ_ERR_FORMAT,
                 "%s: column '%s': invalid UTF-8 at byte %zu (0x%02x); kaizen reads UTF-8 text "
                 "only",
                 at(m, line, pos, sizeof pos), mc->name, bad + 1, (unsigned)(unsigned char)v[bad]);
}

static kz_status put_cell(kz_input_map *m, map_col *mc, const char *v, size_t len, int64_t line,
                          kz_shard_batch *b, int64_t r) {
  char pos[512];
  if (memchr(v, '\0', len))
    return kz_fail(KZ_ERR_FORMAT, "%s: column '%s': the value holds a NUL byte",
                   at(m, line, pos, sizeof pos), mc->name);
  if (mc->type == KZ_FIELD_STR) {
    KZ_TRY(check_text(m, mc, v, len, line));
    char **slot = kz_batch_str(b, mc->field, r) + mc->col;
    free(*slot);
    if (!(*slot = malloc(len + 1))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
    memcpy(*slot, v, len);
    (*slot)[len] = '\0';
    return KZ_OK;
  }
  if (kz_is_missing(v, len)) {
    put_missing(mc, b, r);
    return KZ_OK;
  }
  if (mc->type == KZ_FIELD_I32) {
    int32_t code = kz_strset_find(&mc->dict, v, len);
    /* only a miss needs checking: the dictionaries hold valid UTF-8 */
    if (code < 0) KZ_TRY(check_text(m, mc, v, len, line));
    if (code < 0 && mc->is_label && m->label_need == KZ_LABEL_REQUIRED)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "%s: column '%s' (the label): class '%.*s' is unknown to "
                     "the model",
                     at(m, line, pos, sizeof pos), mc->name, (int)(len < 60 ? len : 60), v);
    if (code < 0 && !mc->is_label) mc->unseen++, m->unseen++;
    kz_batch_i32(b, mc->field, r)[mc->col] = code;
    return KZ_OK;
  }
  /* parsed as import parses, so raw cells and imported shards agree bit for bit */
  double x = 0;
  int num = kz_parse_number(v, len, &x);
  if (num && mc->type == KZ_FIELD_F32 && kz_number_overflows_f32(num, x))
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: column '%s': '%.*s' is out of the float32 range (about ±3.4e38) the "
                   "model reads",
                   at(m, line, pos, sizeof pos), mc->name, (int)(len < 40 ? len : 40), v);
  if (!num)
    return kz_fail(KZ_ERR_FORMAT,
                   "%s: column '%s': '%.*s' is not a number (the model reads it as "
                   "numeric)",
                   at(m, line, pos, sizeof pos), mc->name, (int)(len < 40 ? len : 40), v);
  if (mc->type == KZ_FIELD_F64)
    kz_batch_f64(b, mc->field, r)[mc->col] = x;
  else
    kz_batch_f32(b, mc->field, r)[mc->col] = (float)x;
  return KZ_OK;
}

kz_status kz_input_map_row(kz_input_map *m, const char *const *cells, const size_t *lens,
                           int64_t line, kz_shard_batch *dst) {
  if (m->schema_mode)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: this map reads shards, not raw records", m->where);
  if (dst->rows >= dst->capacity)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: the batch is full", m->where);
  int64_t r = dst->rows;
  for (int i = 0; i < m->n_cols; ++i) {
    map_col *mc = &m->cols[i];
    const char *v = mc->src >= 0 ? cells[mc->src] : NULL;
    if (!v) {
      put_missing(mc, dst, r);
      continue;
    }
    KZ_TRY(put_cell(m, mc, v, lens ? lens[mc->src] : strlen(v), line, dst, r));
  }
  if (dst->row_ids) dst->row_ids[r] = r;
  dst->rows++;
  return KZ_OK;
}

kz_status kz_input_map_batch(kz_input_map *m, const kz_shard_batch *src, kz_shard_batch *dst) {
  if (!m->schema_mode)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: this map reads raw records, not shards", m->where);
  if (src->rows > dst->capacity)
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: %lld rows do not fit a batch of %lld", m->where,
                   (long long)src->rows, (long long)dst->capacity);
  kz_shard_batch_clear(dst);
  for (int i = 0; i < m->n_cols; ++i) {
    map_col *mc = &m->cols[i];
    for (int64_t r = 0; r < src->rows; ++r) {
      if (mc->src < 0) {
        put_missing(mc, dst, r);
        continue;
      }
      int f = mc->src, c = mc->src_col;
      switch (mc->type) {
      case KZ_FIELD_F32:
        kz_batch_f32(dst, mc->field, r)[mc->col] = kz_batch_f32(src, f, r)[c];
        break;
      case KZ_FIELD_F64:
        kz_batch_f64(dst, mc->field, r)[mc->col] = kz_batch_f64(src, f, r)[c];
        break;
      case KZ_FIELD_STR: {
        const char *s = kz_batch_str(src, f, r)[c];
        char **slot = kz_batch_str(dst, mc->field, r) + mc->col;
        if (s && !(*slot = dup_str(s))) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "out of memory");
        break;
      }
      case KZ_FIELD_I32: {
        int32_t code = kz_batch_i32(src, f, r)[c], to = -1;
        if (code >= mc->n_src_codes)
          return kz_fail(KZ_ERR_FORMAT,
                         "%s: row %lld: column '%s': code %d outside its %d "
                         "categories",
                         m->where, (long long)(src->row_ids ? src->row_ids[r] : r), mc->name, code,
                         mc->n_src_codes);
        if (code >= 0) {
          to = mc->code_map[code];
          if (to < 0 && mc->is_label && m->label_need == KZ_LABEL_REQUIRED)
            return kz_fail(KZ_ERR_INVALID_ARG,
                           "%s: row %lld: column '%s' (the label): class '%s' is unknown to the "
                           "model",
                           m->where, (long long)(src->row_ids ? src->row_ids[r] : r), mc->name,
                           m->src_schema.fields[f].columns[c].categories[code]);
          if (to < 0 && !mc->is_label) mc->unseen++, m->unseen++;
        }
        kz_batch_i32(dst, mc->field, r)[mc->col] = to;
        break;
      }
      }
    }
  }
  for (int v = 0; v < m->n_vec; ++v) {
    const int f = m->vec_field[v], sf = m->vec_src[v];
    size_t bytes = (size_t)src->rows * (size_t)dst->widths[f] * kz_field_type_size(dst->types[f]);
    if (sf >= 0 && dst->types[f] != KZ_FIELD_STR) memcpy(dst->data[f], src->data[sf], bytes);
  }
  if (dst->row_ids && src->row_ids)
    memcpy(dst->row_ids, src->row_ids, (size_t)src->rows * sizeof *dst->row_ids);
  dst->rows = src->rows;
  return KZ_OK;
}
