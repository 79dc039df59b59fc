// Test certificates made at test time with the openssl CLI: a CA, a server certificate it signs
// for 127.0.0.1/localhost, a client certificate it signs, and an unrelated second CA. Plus an
// `openssl s_server` peer that demands a client certificate. Header-only.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

extern char **environ;

typedef struct {
  char dir[64];
  char ca[128], ca_key[128], other_ca[128], srv[128], srv_key[128], cli[128], cli_key[128];
} certs_t;

static inline char *certs_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t got = fread(b, 1, (size_t)n, f);
  b[got] = '\0';
  fclose(f);
  if (len) *len = got;
  return b;
}

static inline int certs_make(certs_t *c) {
  snprintf(c->dir, sizeof c->dir, "/tmp/sluice-certs-XXXXXX");
  if (!mkdtemp(c->dir)) return -1;
  char cmd[4096];
  const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  snprintf(cmd, sizeof cmd,
           "cd %s && "
           "openssl req -x509 %s -keyout ca.key -out ca.pem -days 2 -subj /CN=sluice-test-ca && "
           "openssl req -x509 %s -keyout other.key -out other.pem -days 2 -subj /CN=other-ca && "
           "openssl req %s -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 && "
           "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && "
           "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem "
           "-days 2 -extfile san.ext && "
           "openssl req %s -keyout cli.key -out cli.csr -subj /CN=sluice-client && "
           "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem "
           "-days 2",
           c->dir, ec, ec, ec, ec);
  char full[4200];
  snprintf(full, sizeof full, "( %s ) >/dev/null 2>&1", cmd);
  if (system(full) != 0) return -1;
#define CERTS_PATH(field, name) snprintf(c->field, sizeof c->field, "%s/" name, c->dir)
  CERTS_PATH(ca, "ca.pem");
  CERTS_PATH(ca_key, "ca.key");
  CERTS_PATH(other_ca, "other.pem");
  CERTS_PATH(srv, "srv.pem");
  CERTS_PATH(srv_key, "srv.key");
  CERTS_PATH(cli, "cli.pem");
  CERTS_PATH(cli_key, "cli.key");
#undef CERTS_PATH
  return 0;
}

static inline void certs_remove(certs_t *c) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf %s", c->dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", c->dir);
}

static inline int certs_free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t sl = sizeof sa;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(sa.sin_port);
}

static inline int certs_port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return ok;
}

// Starts `openssl s_server` on 127.0.0.1:port answering HTTP with a status page and refusing
// clients without a certificate signed by the test CA. Returns its pid, or -1.
static inline pid_t certs_s_server(const certs_t *c, int port) {
  char accept[32];
  snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
  char *argv[] = {"openssl", "s_server",     "-accept", accept,
                  "-cert",   (char *)c->srv, "-key",    (char *)c->srv_key,
                  "-CAfile", (char *)c->ca,  "-Verify", "1",
                  "-www",    "-quiet",       NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, "openssl", &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  for (int i = 0; i < 500 && !certs_port_open(port); i++) usleep(10000);
  return pid;
}

static inline void certs_s_server_stop(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}
