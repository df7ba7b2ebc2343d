#include "data/shard/h5util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void kz_h5_quiet(void) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void kz_h5_skip_exit_cleanup(void) {
  H5dont_atexit();
}

static hid_t read_fapl = -1;
static pthread_once_t read_fapl_once = PTHREAD_ONCE_INIT;

static void make_read_fapl(void) {
  hid_t p = H5Pcreate(H5P_FILE_ACCESS);
  if (p >= 0 && H5Pset_fclose_degree(p, H5F_CLOSE_STRONG) < 0) {
    H5Pclose(p);
    p = -1;
  }
  read_fapl = p;
}

hid_t kz_h5_read_fapl(void) {
  /* once per process: the reader's prefetch thread opens files too */
  pthread_once(&read_fapl_once, make_read_fapl);
  return read_fapl >= 0 ? read_fapl : H5P_DEFAULT;
}

hid_t kz_h5_type(kz_field_type t, int in_file) {
  switch (t) {
  case KZ_FIELD_F32:
    return H5Tcopy(in_file ? H5T_IEEE_F32LE : H5T_NATIVE_FLOAT);
  case KZ_FIELD_I32:
    return H5Tcopy(in_file ? H5T_STD_I32LE : H5T_NATIVE_INT32);
  case KZ_FIELD_F64:
    return H5Tcopy(in_file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE);
  case KZ_FIELD_STR: {
    hid_t s = H5Tcopy(H5T_C_S1);
    if (s >= 0 && (H5Tset_size(s, H5T_VARIABLE) < 0 || H5Tset_cset(s, H5T_CSET_UTF8) < 0)) {
      H5Tclose(s);
      return -1;
    }
    return s;
  }
  }
  return -1;
}

herr_t kz_h5_attr_write_str(hid_t obj, const char *name, const char *value) {
  hid_t type = kz_h5_type(KZ_FIELD_STR, 1);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = attr >= 0 ? H5Awrite(attr, type, &value) : -1;
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  return rc;
}

herr_t kz_h5_attr_write_int(hid_t obj, const char *name, int value) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(obj, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t rc = attr >= 0 ? H5Awrite(attr, H5T_NATIVE_INT, &value) : -1;
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  return rc;
}

char *kz_h5_attr_read_str(hid_t obj, const char *name) {
  if (H5Aexists(obj, name) <= 0) return NULL;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0) return NULL;
  hid_t ftype = H5Aget_type(attr);
  char *out = NULL;
  if (ftype >= 0 && H5Tget_class(ftype) == H5T_STRING) {
    if (H5Tis_variable_str(ftype) > 0) {
      hid_t mtype = kz_h5_type(KZ_FIELD_STR, 0);
      char *v = NULL;
      if (H5Aread(attr, mtype, &v) >= 0 && v) {
        out = malloc(strlen(v) + 1);
        if (out) strcpy(out, v);
        H5free_memory(v);
      }
      H5Tclose(mtype);
    } else {
      size_t n = H5Tget_size(ftype);
      hid_t mtype = H5Tcopy(H5T_C_S1);
      H5Tset_size(mtype, n + 1);
      out = calloc(n + 2, 1);
      if (out && H5Aread(attr, mtype, out) < 0) {
        free(out);
        out = NULL;
      }
      H5Tclose(mtype);
    }
  }
  if (ftype >= 0) H5Tclose(ftype);
  H5Aclose(attr);
  return out;
}

herr_t kz_h5_attr_read_int(hid_t obj, const char *name, int *value) {
  if (H5Aexists(obj, name) <= 0) return -1;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (attr < 0) return -1;
  hid_t ftype = H5Aget_type(attr);
  herr_t rc = (ftype >= 0 && H5Tget_class(ftype) == H5T_INTEGER)
                  ? H5Aread(attr, H5T_NATIVE_INT, value)
                  : -1;
  if (ftype >= 0) H5Tclose(ftype);
  H5Aclose(attr);
  return rc;
}
