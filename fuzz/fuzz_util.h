/* Helpers shared by the libFuzzer harnesses (docs/TESTING.md, "Fuzzing").
 *
 * Several parsers take a path, not bytes, so a harness writes each input to a
 * file in one private scratch directory made on first use and removed at
 * exit: nothing is left behind however the run ends normally. */
#ifndef KZ_FUZZ_UTIL_H
#define KZ_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The scratch directory ("/tmp/kz-fuzz-XXXXXX"); aborts if it cannot be made. */
const char *kz_fuzz_dir(void);
/* Removes dir and everything in it (a directory a parser wrote under the
 * scratch directory). */
void kz_fuzz_remove(const char *dir);
/* Writes data to <scratch>/name and returns that path (static storage, valid
 * until the next call). Aborts on an I/O error: a harness that cannot write
 * its input would otherwise test nothing. */
const char *kz_fuzz_write(const char *name, const uint8_t *data, size_t size);
/* A NUL-terminated malloc'ed copy of data (the parsers that take text). */
char *kz_fuzz_strndup(const uint8_t *data, size_t size);
/* Binary model files end in a kz64 checksum of every byte before it. A
 * mutated input almost never matches, so the harnesses of those formats
 * write the right checksum over the last 8 bytes first: the fuzzer then
 * reaches the fields behind it. Returns a malloc'ed copy (NULL if size < 8:
 * nothing to fix; the caller then uses data as it is). KZ_FUZZ_SAVE_FIXED=FILE
 * also writes the fixed copy there (to replay a crash through the CLI). */
uint8_t *kz_fuzz_fix_checksum(const uint8_t *data, size_t size);
/* Returns ok == KZ_OK; with KZ_FUZZ_VERBOSE set, prints what failed and
 * kz_last_error() (for checking that seeds get as far as they should). */
int kz_fuzz_ok(const char *what, int status);
/* A property the parser promises did not hold: print why and abort, so
 * libFuzzer saves the input as a crash. */
void kz_fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
