// File reading. See file.h.
#include "core/util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m) {
  if (S_ISREG(m)) return NULL;
  if (S_ISDIR(m)) return "a directory";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  return "not a regular file";
}

const char *sl_file_kind(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return "missing";
  return kind_of(st.st_mode);
}

static void fmt_size(char *buf, size_t n, size_t bytes) {
  if (bytes >= ((size_t)1 << 20) && bytes % ((size_t)1 << 20) == 0)
    snprintf(buf, n, "%zu MiB", bytes >> 20);
  else if (bytes >= 1024 && bytes % 1024 == 0)
    snprintf(buf, n, "%zu KiB", bytes >> 10);
  else
    snprintf(buf, n, "%zu bytes", bytes);
}

int sl_file_read(const char *path, size_t max, int flags, char **out, size_t *len, sl_err_t *err) {
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer forever.
  int regular = flags & SL_FILE_REGULAR;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | (regular ? O_NONBLOCK : 0));
  if (fd < 0) {
    int e = errno;
    return sl_err(err, e == ENOENT ? SL_ENOTFOUND : SL_EIO, "%s: %s", path, strerror(e));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return sl_err(err, SL_EIO, "%s: %s", path, strerror(e));
  }
  const char *kind = kind_of(st.st_mode);
  if (kind && (regular || S_ISDIR(st.st_mode))) {
    close(fd);
    return sl_err(err, SL_EINVAL, "%s: is %s, not a regular file", path, kind);
  }
  char lim[32];
  fmt_size(lim, sizeof lim, max);
  if (S_ISREG(st.st_mode) && (size_t)st.st_size > max) {
    close(fd);
    return sl_err(err, SL_ERANGE, "%s: %lld bytes, larger than the %s allowed", path,
                  (long long)st.st_size, lim);
  }
  size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, n = 0;
  if (cap > max + 1) cap = max + 1;
  char *buf = malloc(cap + 1);
  if (!buf) {
    close(fd);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  for (;;) {
    if (n == cap) {
      // The file grew while being read: allow up to max, then refuse.
      if (cap > max) {
        free(buf);
        close(fd);
        return sl_err(err, SL_ERANGE, "%s: larger than the %s allowed", path, lim);
      }
      size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
      char *nb = realloc(buf, ncap + 1);
      if (!nb) {
        free(buf);
        close(fd);
        return sl_err(err, SL_ENOMEM, "out of memory");
      }
      buf = nb;
      cap = ncap;
    }
    ssize_t got = read(fd, buf + n, cap - n);
    if (got < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      free(buf);
      close(fd);
      return sl_err(err, SL_EIO, "%s: %s", path, strerror(e));
    }
    if (got == 0) break;
    n += (size_t)got;
  }
  close(fd);
  if (n > max) {
    free(buf);
    return sl_err(err, SL_ERANGE, "%s: larger than the %s allowed", path, lim);
  }
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return SL_OK;
}
