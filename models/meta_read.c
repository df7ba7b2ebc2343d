/* Shared checks of the model meta readers (meta_read.h). */
#include "models/meta_read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

char *kz_meta_dup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

kz_status kz_meta_bad(const char *who, const char *what) {
  return kz_fail(KZ_ERR_FORMAT, "%s meta: %s is missing or has the wrong type", who, what);
}

kz_status kz_meta_check_version(const char *who, json_t *root) {
  json_t *version = json_object_get(root, "version");
  if (!json_is_integer(version) || json_integer_value(version) != 1)
    return kz_fail(KZ_ERR_FORMAT, "%s meta: version: this build reads version 1", who);
  return KZ_OK;
}

kz_status kz_meta_open(const char *who, const char *text, int version_last, json_t **root) {
  json_error_t jerr;
  *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  if (!*root)
    return kz_fail(KZ_ERR_FORMAT, "%s meta: invalid JSON at line %d: %s", who, jerr.line,
                   jerr.text);
  json_t *type = json_object_get(*root, "type");
  kz_status st = KZ_OK;
  if (!json_is_string(type) || strcmp(json_string_value(type), who) != 0)
    st = kz_fail(KZ_ERR_FORMAT, "%s meta: \"type\" is not \"%s\"", who, who);
  else if (!version_last)
    st = kz_meta_check_version(who, *root);
  if (st != KZ_OK) {
    json_decref(*root);
    *root = NULL;
  }
  return st;
}

kz_status kz_meta_int(const char *who, json_t *o, const char *key, int64_t lo, int64_t hi,
                      int64_t *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v)) return kz_meta_bad(who, key);
  *out = json_integer_value(v);
  if (*out < lo || *out > hi)
    return kz_fail(KZ_ERR_FORMAT, "%s meta: %s = %lld is outside [%lld, %lld]", who, key,
                   (long long)*out, (long long)lo, (long long)hi);
  return KZ_OK;
}

static kz_status number(const char *who, json_t *o, const char *key, double *out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_number(v)) return kz_meta_bad(who, key);
  *out = json_number_value(v);
  return KZ_OK;
}

kz_status kz_meta_real(const char *who, json_t *o, const char *key, double *out) {
  KZ_TRY(number(who, o, key, out));
  if (!isfinite(*out)) return kz_fail(KZ_ERR_FORMAT, "%s meta: %s is not finite", who, key);
  return KZ_OK;
}

kz_status kz_meta_real_in(const char *who, json_t *o, const char *key, double lo, double hi,
                          double *out) {
  KZ_TRY(number(who, o, key, out));
  if (!(*out >= lo && *out <= hi))
    return kz_fail(KZ_ERR_FORMAT, "%s meta: %s = %g is outside [%g, %g]", who, key, *out, lo, hi);
  return KZ_OK;
}

kz_status kz_meta_str(const char *who, json_t *o, const char *key, char **out) {
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v)) return kz_meta_bad(who, key);
  *out = kz_meta_dup(json_string_value(v));
  return *out ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s meta", who);
}

kz_status kz_meta_strings(const char *who, json_t *a, const char *what, const char *item,
                          char ***out, int32_t *n) {
  *n = 0;
  if (!json_is_array(a) || json_array_size(a) > (1u << 20)) return kz_meta_bad(who, what);
  size_t count = json_array_size(a);
  *out = calloc(count ? count : 1, sizeof(char *));
  if (!*out) return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s meta", who);
  for (size_t k = 0; k < count; k++) {
    json_t *s = json_array_get(a, k);
    if (!json_is_string(s)) return kz_meta_bad(who, item);
    *n = (int32_t)k + 1;
    if (!((*out)[k] = kz_meta_dup(json_string_value(s))))
      return kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s meta", who);
  }
  return KZ_OK;
}

kz_status kz_meta_known_keys(const char *who, json_t *o, const char *where,
                             const char *const *keys) {
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v) {
    int known = 0;
    for (const char *const *k = keys; *k && !known; ++k) known = !strcmp(*k, key);
    if (!known)
      return kz_fail(KZ_ERR_FORMAT, "%s meta: %s%s%s: unknown key", who, where, *where ? "." : "",
                     key);
  }
  return KZ_OK;
}

kz_status kz_meta_check_params(const char *who, json_t *root, int64_t n_params) {
  json_t *v = json_object_get(root, "n_params");
  if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) != n_params)
    return kz_fail(KZ_ERR_FORMAT, "%s meta: n_params %lld does not match the layout (%lld)", who,
                   (long long)json_integer_value(v), (long long)n_params);
  return KZ_OK;
}

kz_status kz_meta_load(const char *who, const char *text, int version_last, size_t size,
                       kz_meta_build_fn build, void (*free_model)(void *m), kz_device device,
                       int64_t want_params, kz_nn_model **out) {
  if (out) *out = NULL;
  json_t *root = NULL;
  KZ_TRY(kz_meta_open(who, text, version_last, &root));
  void *m = calloc(1, size);
  kz_status st = m ? KZ_OK : kz_fail(KZ_ERR_OUT_OF_MEMORY, "%s meta", who);
  if (st == KZ_OK) st = build(m, root, device, want_params, out != NULL);
  if (st == KZ_OK && version_last) st = kz_meta_check_version(who, root);
  if (st == KZ_OK)
    st = kz_meta_check_params(who, root, ((const kz_nn_model_base *)m)->info.n_params);
  json_decref(root);
  if (st != KZ_OK || !out) {
    if (m) free_model(m);
    return st;
  }
  *out = (kz_nn_model *)m;
  return KZ_OK;
}
