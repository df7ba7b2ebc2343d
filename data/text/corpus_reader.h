/* Reads training texts from a plain text file (one text a line) or from one
 * column of a CSV file with a header row. Internal to data/text. */
#ifndef KZ_DATA_TEXT_CORPUS_READER_H
#define KZ_DATA_TEXT_CORPUS_READER_H

#include <stddef.h>

#include "kaizen.h"

/* Called once per text; a non-OK return stops the reading. */
typedef kz_status (*kz_corpus_fn)(void *user, const char *text, size_t len);

/* column NULL: plain text. Errors name the file and line. */
kz_status kz_corpus_read(const char *path, const char *column, kz_corpus_fn fn, void *user);

#endif
