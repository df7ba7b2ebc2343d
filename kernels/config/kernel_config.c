/* The live kernel-config table.
 *
 * Kernels read it on every launch (kz_stream_knob), so a row is a plain int
 * array and reading one costs an atomic flag load and an index.
 *
 * Thread safety: the table is filled from the built-in defaults on first use
 * (once, from any thread). Changing it (kz_kernel_config_set, _load_*,
 * _reset) is meant for start-up, before any kernel runs: it is not
 * synchronised with readers, and a kernel launched during a change could read
 * a half-updated row. */
#include <stdatomic.h>
#include <string.h>
#include <threads.h>

#include "kernels/config/kernel_config.h"
#include "kernels/config/kernel_config_internal.h"
#include "kernels/core/error.h"

static int values[KZ_TARGET_COUNT][KZ_KNOB_COUNT];
static atomic_bool values_ready;
static once_flag values_once = ONCE_FLAG_INIT;

/* "" means built-in; otherwise the name of the file last loaded. */
static char source[1024];

static void fill_defaults(void) {
  for (int t = 0; t < KZ_TARGET_COUNT; ++t)
    for (int k = 0; k < KZ_KNOB_COUNT; ++k) values[t][k] = kz_knob_def_get((kz_knob)k)->defaults[t];
}

static void init_values(void) {
  fill_defaults();
  atomic_store_explicit(&values_ready, true, memory_order_release);
}

/* The defaults live in knobs.c as data, so the table cannot be initialised
 * statically here without repeating them; lazy filling keeps one source of
 * truth and still never exposes zeros to a kernel that runs first. */
static inline void ensure_values(void) {
  if (!atomic_load_explicit(&values_ready, memory_order_acquire))
    call_once(&values_once, init_values);
}

static bool target_ok(kz_target t) {
  return (int)t >= 0 && t < KZ_TARGET_COUNT;
}

const int *kz_kernel_config_row(kz_target t) {
  ensure_values();
  /* A bad target is a programming error; reading the cpu row beats reading
   * stray memory. */
  return values[target_ok(t) ? t : KZ_TARGET_CPU];
}

int kz_kernel_config_value(kz_target t, kz_knob id) {
  if ((int)id < 0 || id >= KZ_KNOB_COUNT) return 0;
  return kz_kernel_config_row(t)[id];
}

bool kz_knob_applies(const kz_knob_def *def, kz_target t) {
  return def->cuda ? (t == KZ_TARGET_SM80 || t == KZ_TARGET_SM90) : t == KZ_TARGET_CPU;
}

static int choice_count(const kz_knob_def *def) {
  int n = 0;
  while (n < (int)(sizeof def->choices / sizeof def->choices[0]) && def->choices[n]) ++n;
  return n;
}

static bool is_power_of_two(int v) {
  return v > 0 && (v & (v - 1)) == 0;
}

const char *kz_knob_violation(const kz_knob_def *def, int value, char *why, size_t size) {
  if (def->kind == KZ_KNOB_CHOICE) {
    int n = choice_count(def);
    if (value >= 0 && value < n) return NULL;
    snprintf(why, size, "%d is not a choice index (0..%d)", value, n - 1);
    return why;
  }
  if (value < def->min || value > def->max) {
    snprintf(why, size, "%d is out of range [%d, %d]", value, def->min, def->max);
    return why;
  }
  if (def->power_of_two && !is_power_of_two(value)) {
    snprintf(why, size, "%d is not a power of two", value);
    return why;
  }
  if (def->multiple_of > 1 && value % def->multiple_of != 0) {
    snprintf(why, size, "%d is not a multiple of %d", value, def->multiple_of);
    return why;
  }
  return NULL;
}

kz_status kz_knob_validate(const kz_knob_def *def, int value) {
  if (!def) return kz_fail(KZ_ERR_INVALID_ARG, "kz_knob_validate: NULL knob definition");
  char why[128];
  if (kz_knob_violation(def, value, why, sizeof why))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s.%s: %s", def->op, def->name, why);
  return KZ_OK;
}

kz_status kz_kernel_config_set(kz_target t, kz_knob id, int value) {
  const kz_knob_def *def = kz_knob_def_get(id);
  if (!def) return kz_fail(KZ_ERR_INVALID_ARG, "kernel config: unknown knob id %d", (int)id);
  if (!target_ok(t))
    return kz_fail(KZ_ERR_INVALID_ARG, "kernel config: unknown target id %d", (int)t);
  if (!kz_knob_applies(def, t))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s.%s.%s: a %s knob, not valid for target %s",
                   kz_target_name(t), def->op, def->name, def->cuda ? "CUDA" : "CPU",
                   kz_target_name(t));
  char why[128];
  if (kz_knob_violation(def, value, why, sizeof why))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s.%s.%s: %s", kz_target_name(t), def->op, def->name, why);
  ensure_values();
  values[t][id] = value;
  return KZ_OK;
}

void kz_kernel_config_reset(void) {
  ensure_values();
  fill_defaults();
  source[0] = '\0';
}

const char *kz_kernel_config_source(void) {
  return source[0] ? source : "built-in";
}

void kz_kernel_config_snapshot(int out[KZ_TARGET_COUNT][KZ_KNOB_COUNT]) {
  ensure_values();
  memcpy(out, values, sizeof values);
}

void kz_kernel_config_commit(int in[KZ_TARGET_COUNT][KZ_KNOB_COUNT], const char *name) {
  ensure_values();
  memcpy(values, in, sizeof values);
  snprintf(source, sizeof source, "%s", name ? name : "");
}

static void print_value(FILE *out, const kz_knob_def *def, int value) {
  if (def->kind == KZ_KNOB_CHOICE && value >= 0 && value < choice_count(def))
    fputs(def->choices[value], out);
  else
    fprintf(out, "%d", value);
}

/* Paths may hold anything; keep the comment line one line. */
static void print_comment_text(FILE *out, const char *text) {
  for (const char *p = text; *p; ++p) fputc((unsigned char)*p < 0x20 ? '?' : *p, out);
}

void kz_kernel_config_print(FILE *out, kz_target t) {
  if (!out || !target_ok(t)) return;
  const int *row = kz_kernel_config_row(t);
  fprintf(out, "# kaizen kernel config for %s (source: ", kz_target_name(t));
  print_comment_text(out, kz_kernel_config_source());
  fputs(")\n", out);
  fprintf(out, "%s:\n", kz_target_name(t));
  /* One flow mapping per op, ops in order of first appearance, so the output
   * reads like the hand-written files and loads back unchanged. */
  for (int k = 0; k < KZ_KNOB_COUNT; ++k) {
    const kz_knob_def *def = kz_knob_def_get((kz_knob)k);
    if (!kz_knob_applies(def, t)) continue;
    bool seen = false;
    for (int j = 0; j < k && !seen; ++j) {
      const kz_knob_def *prev = kz_knob_def_get((kz_knob)j);
      seen = kz_knob_applies(prev, t) && !strcmp(prev->op, def->op);
    }
    if (seen) continue;
    fprintf(out, "  %s: {", def->op);
    const char *sep = "";
    for (int j = k; j < KZ_KNOB_COUNT; ++j) {
      const kz_knob_def *same = kz_knob_def_get((kz_knob)j);
      if (!kz_knob_applies(same, t) || strcmp(same->op, def->op)) continue;
      fprintf(out, "%s%s: ", sep, same->name);
      print_value(out, same, row[j]);
      sep = ", ";
    }
    fputs("}\n", out);
  }
}
