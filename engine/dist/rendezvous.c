/* File and TCP rendezvous (rendezvous.h). */
#define _POSIX_C_SOURCE 200809L
#include "engine/dist/rendezvous.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernels/core/error.h"

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void nap_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- file ----------------------------------------------------------------- */

static kz_status file_share(const char *dir, int rank, void *blob, size_t len, double timeout_s) {
  char path[4096], tmp[4160];
  if (snprintf(path, sizeof path, "%s/kaizen-rendezvous", dir) >= (int)sizeof path)
    return kz_fail(KZ_ERR_INVALID_ARG, "--rendezvous file://%s: path too long", dir);
  if (rank == 0) {
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return kz_fail(KZ_ERR_IO, "--rendezvous: cannot write %s: %s", tmp, strerror(errno));
    int ok = fwrite(blob, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
      unlink(tmp);
      return kz_fail(KZ_ERR_IO, "--rendezvous: cannot write %s", path);
    }
    return KZ_OK;
  }
  const double t0 = mono_s();
  for (;;) {
    struct stat sb;
    if (stat(path, &sb) == 0 && (size_t)sb.st_size == len) {
      FILE *f = fopen(path, "rb");
      size_t got = f ? fread(blob, 1, len, f) : 0;
      if (f) fclose(f);
      if (got == len) return KZ_OK;
    }
    if (mono_s() - t0 > timeout_s)
      return kz_fail(KZ_ERR_UNAVAILABLE,
                     "rank %d: --rendezvous file://%s: %s did not appear within %.0f s (is rank "
                     "0 running, and is the directory shared?)",
                     rank, dir, path, timeout_s);
    nap_ms(50);
  }
}

/* ---- tcp ------------------------------------------------------------------- */

static kz_status parse_hostport(const char *hp, char *host, size_t cap, char *port, size_t pcap) {
  const char *colon = strrchr(hp, ':');
  if (!colon || colon == hp || !colon[1] || (size_t)(colon - hp) >= cap ||
      strlen(colon + 1) >= pcap)
    return kz_fail(KZ_ERR_INVALID_ARG, "rendezvous tcp://%s: expected HOST:PORT", hp);
  memcpy(host, hp, (size_t)(colon - hp));
  host[colon - hp] = 0;
  snprintf(port, pcap, "%s", colon + 1);
  return KZ_OK;
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w, n -= (size_t)w;
  }
  return 0;
}

static kz_status tcp_serve(const char *port, int size, const void *blob, size_t len,
                           double timeout_s) {
  struct addrinfo hints = {0}, *ai = NULL;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  int rc = getaddrinfo(NULL, port, &hints, &ai);
  if (rc) return kz_fail(KZ_ERR_INVALID_ARG, "rendezvous: port %s: %s", port, gai_strerror(rc));
  int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, size) != 0) {
    int e = errno;
    freeaddrinfo(ai);
    if (fd >= 0) close(fd);
    return kz_fail(KZ_ERR_IO, "rank 0: rendezvous: cannot listen on port %s: %s", port,
                   strerror(e));
  }
  freeaddrinfo(ai);
  const double t0 = mono_s();
  kz_status st = KZ_OK;
  for (int served = 1; served < size && st == KZ_OK;) {
    double left = timeout_s - (mono_s() - t0);
    struct pollfd p = {fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, (int)(left * 1000) + 1) == 0) {
      st = kz_fail(KZ_ERR_UNAVAILABLE,
                   "rank 0: rendezvous on port %s: %d of %d ranks connected within %.0f s", port,
                   served, size, timeout_s);
      break;
    }
    int c = accept(fd, NULL, NULL);
    if (c < 0) continue;
    if (write_all(c, blob, len) == 0) ++served;
    close(c);
  }
  close(fd);
  return st;
}

static kz_status tcp_fetch(const char *host, const char *port, int rank, void *blob, size_t len,
                           double timeout_s) {
  const double t0 = mono_s();
  for (;;) {
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) == 0) {
      int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
      if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        size_t got = 0;
        while (got < len) {
          ssize_t r = read(fd, (char *)blob + got, len - got);
          if (r < 0 && errno == EINTR) continue;
          if (r <= 0) break;
          got += (size_t)r;
        }
        close(fd);
        freeaddrinfo(ai);
        if (got == len) return KZ_OK;
      } else if (fd >= 0) {
        close(fd);
        freeaddrinfo(ai);
      } else {
        freeaddrinfo(ai);
      }
    }
    if (mono_s() - t0 > timeout_s)
      return kz_fail(KZ_ERR_UNAVAILABLE,
                     "rank %d: rendezvous tcp://%s:%s: no answer from rank 0 within %.0f s", rank,
                     host, port, timeout_s);
    nap_ms(100);
  }
}

kz_status kz_rendezvous_share(const char *spec, int rank, int size, void *blob, size_t len,
                              double timeout_s) {
  if (size <= 1) return KZ_OK;
  char hp[512];
  if (spec && !strncmp(spec, "file://", 7)) {
    if (!spec[7]) return kz_fail(KZ_ERR_INVALID_ARG, "--rendezvous file://: no directory");
    return file_share(spec + 7, rank, blob, len, timeout_s);
  }
  if (spec && !strncmp(spec, "tcp://", 6)) {
    snprintf(hp, sizeof hp, "%s", spec + 6);
  } else if (spec) {
    return kz_fail(KZ_ERR_INVALID_ARG,
                   "--rendezvous %s: expected file:///shared/dir or tcp://HOST:PORT", spec);
  } else {
    const char *a = getenv("KZ_MASTER_ADDR"), *p = getenv("KZ_MASTER_PORT");
    if (!a || !p)
      return kz_fail(KZ_ERR_INVALID_ARG,
                     "rank %d of %d without MPI: set KZ_MASTER_ADDR and KZ_MASTER_PORT or pass "
                     "--rendezvous file:///shared/dir",
                     rank, size);
    snprintf(hp, sizeof hp, "%s:%s", a, p);
  }
  char host[256], port[32];
  KZ_TRY(parse_hostport(hp, host, sizeof host, port, sizeof port));
  return rank == 0 ? tcp_serve(port, size, blob, len, timeout_s)
                   : tcp_fetch(host, port, rank, blob, len, timeout_s);
}
