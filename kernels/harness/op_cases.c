/* The case table: list management, the argument helpers and the assembly of
 * every family's cases. The cases themselves live in cases_*.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/harness/case_build.h"

kz_op_case *kz_case_new(kz_op_case_list *list, const char *op, kz_case_invoke_fn invoke,
                        kz_case_ref_fn ref, const char *fmt, ...) {
  static _Thread_local kz_op_case scratch;
  kz_op_case *c = &scratch;
  if (list->count == list->cap) {
    int cap = list->cap ? 2 * list->cap : 64;
    kz_op_case *items = realloc(list->items, (size_t)cap * sizeof *items);
    if (items) {
      list->items = items;
      list->cap = cap;
    }
  }
  if (list->count < list->cap)
    c = &list->items[list->count++];
  else
    list->oom = true;
  memset(c, 0, sizeof *c);
  c->op = op;
  c->invoke = invoke;
  c->ref = ref;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->name, sizeof c->name, fmt, ap);
  va_end(ap);
  return c;
}

kz_arg_spec *kz_case_arg(kz_op_case *c, const char *name, kz_dtype dtype, kz_arg_role role,
                         int ndim, const int64_t *shape) {
  static _Thread_local kz_arg_spec scratch;
  /* op_check encodes, poisons and decodes f32, bf16 and i32 only; an argument
   * of another dtype would be checked as if it were f32, so a case declaring
   * one is a bug in the case table, caught the first time the table is built. */
  if (dtype != KZ_F32 && dtype != KZ_BF16 && dtype != KZ_I32) {
    fprintf(stderr, "op case %s: argument %s: the harness does not handle dtype %d\n", c->name,
            name, (int)dtype);
    abort();
  }
  /* Dropping an argument would shift every later one and test the wrong
   * thing, so a case wider than the limit stops the build of the table. */
  if (c->nargs >= KZ_CASE_MAX_ARGS) {
    fprintf(stderr, "op case %s: argument %s is past KZ_CASE_MAX_ARGS (%d): raise the limit\n",
            c->name, name, KZ_CASE_MAX_ARGS);
    abort();
  }
  kz_arg_spec *a = c->nargs < KZ_CASE_MAX_ARGS ? &c->args[c->nargs++] : &scratch;
  memset(a, 0, sizeof *a);
  a->name = name;
  a->dtype = dtype;
  a->role = role;
  a->ndim = ndim;
  for (int d = 0; d < ndim && d < KZ_MAX_DIMS; ++d) a->shape[d] = shape[d];
  a->init = dtype == KZ_I32 ? KZ_INIT_INT : KZ_INIT_NORMAL;
  a->a = 0;
  a->b = 1;
  a->tol = kz_op_tolerance(c->op, dtype);
  return a;
}

void kz_arg_normal(kz_arg_spec *a, double mean, double std) {
  a->init = KZ_INIT_NORMAL;
  a->a = mean;
  a->b = std;
}

void kz_arg_uniform(kz_arg_spec *a, double lo, double hi) {
  a->init = KZ_INIT_UNIFORM;
  a->a = lo;
  a->b = hi;
}

void kz_arg_ints(kz_arg_spec *a, int64_t lo, int64_t hi) {
  a->init = KZ_INIT_INT;
  a->a = (double)lo;
  a->b = (double)hi;
}

int64_t kz_arg_numel(const kz_arg_spec *a) {
  int64_t n = 1;
  for (int d = 0; d < a->ndim; ++d) n *= a->shape[d];
  return n;
}

kz_status kz_op_cases_build(kz_op_case_list *list) {
  memset(list, 0, sizeof *list);
  kz_cases_matmul(list);
  kz_cases_elementwise(list);
  kz_cases_transformer(list);
  kz_cases_layernorm(list);
  kz_cases_softmax(list);
  kz_cases_loss(list);
  kz_cases_optim(list);
  kz_cases_unary(list);
  kz_cases_mlp(list);
  kz_cases_view(list);
  kz_cases_attention(list);
  kz_cases_tft(list);
  kz_cases_lora(list);
  if (list->oom) {
    kz_op_case_list_free(list);
    return kz_fail(KZ_ERR_OUT_OF_MEMORY, "harness: cannot build the case table");
  }
  return KZ_OK;
}

void kz_op_case_list_free(kz_op_case_list *list) {
  free(list->items);
  memset(list, 0, sizeof *list);
}
