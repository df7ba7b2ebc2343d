/* Small HDF5 helpers shared by the shard writer and reader. */
#ifndef KZ_DATA_SHARD_H5UTIL_H
#define KZ_DATA_SHARD_H5UTIL_H

#include <hdf5.h>

#include "data/shard/schema.h"

/* HDF5 prints its own error stack by default; we report through kz_fail
 * instead. The setting is per thread, so every thread calls this. */
void kz_h5_quiet(void);
/* Keeps libhdf5 from registering its exit-time cleanup; call before any
 * other HDF5 call (the CLI does, first thing). In libhdf5 1.10 a file whose
 * metadata flush failed (a full disk) can be neither closed nor flushed again,
 * and the cleanup at exit crashes on it after kaizen has already reported the
 * error and removed the file. kaizen closes every file it opens, so the
 * cleanup has nothing else to do. */
void kz_h5_skip_exit_cleanup(void);
/* File access properties for reading shards (shared, never closed): closing
 * the file closes every object still open in it. A damaged file can fail
 * part way through H5Dopen2 or H5Aopen and leave an object behind inside
 * libhdf5; with the default (weak) close the file then stays open and leaks. */
hid_t kz_h5_read_fapl(void);
/* A fresh type id (caller closes) for the field type in the file or memory. */
hid_t kz_h5_type(kz_field_type t, int in_file);
herr_t kz_h5_attr_write_str(hid_t obj, const char *name, const char *value);
herr_t kz_h5_attr_write_int(hid_t obj, const char *name, int value);
/* Reads a string attribute (fixed or variable length); caller frees. NULL on failure. */
char *kz_h5_attr_read_str(hid_t obj, const char *name);
herr_t kz_h5_attr_read_int(hid_t obj, const char *name, int *value);

#endif
