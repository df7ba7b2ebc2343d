/* libFuzzer harness: the CSV row source (data/import/csv.c through rows.h)
 * and the cell parsers import applies (numbers, missing values, times). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "rows_walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  kz_fuzz_rows_walk(kz_fuzz_write("input.csv", data, size), 0);
  return 0;
}
