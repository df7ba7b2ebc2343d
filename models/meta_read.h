/* Reading a model's meta JSON (mlp, tft, transformer): the checks every
 * from_meta makes, with messages that start "<who> meta: " and name the key,
 * so a bad file says which model and which key. */
#ifndef KZ_MODELS_META_READ_H
#define KZ_MODELS_META_READ_H

#include <jansson.h>
#include <stdint.h>

#include "kernels/core/error.h"
#include "models/nn_model.h"

/* "version" == 1. */
kz_status kz_meta_check_version(const char *who, json_t *root);

/* Parses text (duplicate keys refused) and checks "type" == who and, unless
 * version_last (the model reports its own keys first, as the MLP always
 * has), the version. On success *root is owned by the caller. */
kz_status kz_meta_open(const char *who, const char *text, int version_last, json_t **root);

/* "<who> meta: <what> is missing or has the wrong type" */
kz_status kz_meta_bad(const char *who, const char *what);

/* An integer in [lo, hi]. */
kz_status kz_meta_int(const char *who, json_t *o, const char *key, int64_t lo, int64_t hi,
                      int64_t *out);

/* A finite number. */
kz_status kz_meta_real(const char *who, json_t *o, const char *key, double *out);

/* A number in [lo, hi]. */
kz_status kz_meta_real_in(const char *who, json_t *o, const char *key, double lo, double hi,
                          double *out);

/* A string, copied into *out (malloc). */
kz_status kz_meta_str(const char *who, json_t *o, const char *key, char **out);

/* An array of strings (class names, series names) copied into *out, a
 * calloc'd array of max(n, 1) entries; *n counts the entries copied so far,
 * so a caller that frees n entries frees all of them after an error. what
 * names the array, item what a bad entry. */
kz_status kz_meta_strings(const char *who, json_t *a, const char *what, const char *item,
                          char ***out, int32_t *n);

/* Refuses a key of o not in the NULL-ended keys (an edit or a typo is never
 * read as the default); where is the path of o ("" for the root). */
kz_status kz_meta_known_keys(const char *who, json_t *o, const char *where,
                             const char *const *keys);

/* Checks root's "n_params", where present, against the layout's count. */
kz_status kz_meta_check_params(const char *who, json_t *root, int64_t n_params);

char *kz_meta_dup(const char *s);

/* A model's part of from_meta: fill the zeroed model m (its kz_nn_model_base
 * first) from root, then lay it out (allocate: parameters too). */
typedef kz_status (*kz_meta_build_fn)(void *m, json_t *root, kz_device device, int64_t want_params,
                                      int allocate);

/* from_meta for every model: kz_meta_open (version_last: the version after
 * build), a zeroed model of size bytes,
 * build, "n_params" checked against the layout. *out (may be NULL: check
 * only) gets the model; on error or without out the model is freed with
 * free_model. */
kz_status kz_meta_load(const char *who, const char *text, int version_last, size_t size,
                       kz_meta_build_fn build, void (*free_model)(void *m), kz_device device,
                       int64_t want_params, kz_nn_model **out);

#endif
