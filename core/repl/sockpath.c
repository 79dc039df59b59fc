// Default REPL socket paths. See sockpath.h.
#include "core/repl/sockpath.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NCAND 3

// Candidate i's directory (returns 0 when the candidate does not apply here).
static int candidate_dir(int i, char *buf, size_t n) {
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  switch (i) {
  case 0:
    if (!xdg || xdg[0] != '/') return 0;
    snprintf(buf, n, "%s/sluice", xdg);
    return 1;
  case 1:
    snprintf(buf, n, "/run/sluice");
    return 1;
  default:
    snprintf(buf, n, "/tmp/sluice-%u", (unsigned)geteuid());
    return 1;
  }
}

// A directory the socket may live in: ours, not a symlink, writable, and (shared /tmp) closed
// to others, so nobody can swap the socket under us. Creates it (0700) when missing.
static int usable_dir(const char *dir, int shared) {
  struct stat st;
  if (lstat(dir, &st) < 0) {
    if (errno != ENOENT || mkdir(dir, 0700) < 0) return 0;
    if (lstat(dir, &st) < 0) return 0;
  }
  if (!S_ISDIR(st.st_mode)) return 0;
  if (shared && (st.st_uid != geteuid() || (st.st_mode & 077))) return 0;
  return access(dir, W_OK | X_OK) == 0;
}

int sl_repl_sockpath_server(char *buf, size_t n, sl_err_t *err) {
  char dir[512];
  for (int i = 0; i < NCAND; i++) {
    if (!candidate_dir(i, dir, sizeof dir) || !usable_dir(dir, i == 2)) continue;
    snprintf(buf, n, "%s/repl.sock", dir);
    return SL_OK;
  }
  return sl_err(err, SL_EIO,
                "no directory for the REPL socket ($XDG_RUNTIME_DIR/sluice, "
                "/run/sluice, /tmp/sluice-UID): set --repl-socket or repl_socket");
}

void sl_repl_sockpath_client(char *buf, size_t n) {
  char dir[512];
  buf[0] = '\0';
  for (int i = 0; i < NCAND; i++) {
    if (!candidate_dir(i, dir, sizeof dir)) continue;
    char p[600];
    snprintf(p, sizeof p, "%s/repl.sock", dir);
    struct stat st;
    if (!buf[0]) snprintf(buf, n, "%s", p);
    if (stat(p, &st) == 0 && S_ISSOCK(st.st_mode)) {
      snprintf(buf, n, "%s", p);
      return;
    }
  }
}

int sl_repl_sockpath_prepare(const char *path, sl_err_t *err) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return SL_OK;
  *slash = '\0';
  struct stat st;
  if (stat(dir, &st) == 0) return SL_OK;
  if (errno == ENOENT && mkdir(dir, 0700) == 0) return SL_OK;
  return sl_err(err, SL_EIO, "%s: cannot create the socket's directory: %s", dir, strerror(errno));
}
