/* Files named <prefix><number><suffix> in one directory (checkpoints:
 * ckpt-0000000012.kzc, gbdt-0000000040.kzg), listed newest number first.
 * Anything else there, such as the .tmp of a write that was killed, is
 * ignored. */
#ifndef KZ_COMMON_FS_NUMBERED_FILES_H
#define KZ_COMMON_FS_NUMBERED_FILES_H

#include <stdint.h>

#include "kaizen.h"

/* *nums (malloc'ed, caller frees; NULL when none) holds the numbers, largest
 * first; a directory that does not exist has none. Negative numbers are
 * skipped. */
kz_status kz_fs_list_numbered(const char *dir, const char *prefix, const char *suffix,
                              int64_t **nums, int *n);

#endif
