/* libFuzzer harness: the JSON-lines row source (data/import/line_rows.c
 * through rows.h), odd columns kept as JSON text as import does for array
 * columns, and the cell parsers on every value. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "rows_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kz_fuzz_rows_walk(kz_fuzz_write("input.jsonl", data, size), 1);
  return 0;
}
