// Page servers for the scraping benchmarks: a child process serving one /metrics page from many
// loopback ports (one libmicrohttpd daemon per port, as each pod is its own server), so that
// getrusage(RUSAGE_SELF) in the benchmark counts sluice's side only. Each child thread drives its
// share of the daemons through one epoll set. The child dies with the parent. Header-only: each
// benchmark includes it once.
#pragma once

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PS_THREADS 2

typedef struct {
  pid_t pid;
  int n;      // ports serving
  int *ports; // n of them
} ps_t;

typedef struct {
  struct MHD_Daemon **d;
  int from, to;
} ps_slice_t;

static struct MHD_Response *ps_resp;

static enum MHD_Result ps_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
  static int first;
  if (*con_cls != &first) { // headers only: answer on the next call
    *con_cls = &first;
    return MHD_YES;
  }
  *con_cls = NULL;
  return MHD_queue_response(c, MHD_HTTP_OK, ps_resp);
}

static inline void *ps_serve(void *ud) {
  ps_slice_t *sl = ud;
  int ep = epoll_create1(0);
  for (int i = sl->from; i < sl->to; i++) {
    const union MHD_DaemonInfo *in = MHD_get_daemon_info(sl->d[i], MHD_DAEMON_INFO_EPOLL_FD);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = sl->d[i]};
    if (!in || epoll_ctl(ep, EPOLL_CTL_ADD, in->epoll_fd, &ev) < 0) _exit(3);
  }
  struct epoll_event evs[256];
  for (;;) {
    int k = epoll_wait(ep, evs, 256, 1000);
    for (int i = 0; i < k; i++) MHD_run(evs[i].data.ptr);
  }
  return NULL;
}

static inline void ps_raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static inline long ps_nofile(void) {
  struct rlimit rl;
  return getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)rl.rlim_cur : -1;
}

// Forks the servers before the caller starts threads of its own. Returns 0, or -1 with a message.
static inline int ps_start(const char *page, size_t len, int n, ps_t *out, char *msg,
                           size_t msglen) {
  int pfd[2];
  if (pipe(pfd) < 0) {
    snprintf(msg, msglen, "pipe: %s", strerror(errno));
    return -1;
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(msg, msglen, "fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    close(pfd[0]);
    ps_raise_nofile();
    ps_resp = MHD_create_response_from_buffer(len, (void *)page, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(ps_resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    struct MHD_Daemon **d = calloc((size_t)n, sizeof *d);
    int got = 0;
    for (; got < n; got++) {
      struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
      d[got] = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_TURBO, 0, NULL, NULL, ps_access, NULL,
                                MHD_OPTION_SOCK_ADDR, &a, MHD_OPTION_CONNECTION_LIMIT, 16,
                                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)8192, MHD_OPTION_END);
      if (!d[got]) break; // out of descriptors or ports: serve what there is
      int port = MHD_get_daemon_info(d[got], MHD_DAEMON_INFO_BIND_PORT)->port;
      if (write(pfd[1], &port, sizeof port) != sizeof port) _exit(2);
    }
    int end = -1;
    if (write(pfd[1], &end, sizeof end) != sizeof end) _exit(2);
    close(pfd[1]);
    pthread_t th[PS_THREADS];
    ps_slice_t sl[PS_THREADS];
    for (int t = 0; t < PS_THREADS; t++) {
      sl[t] = (ps_slice_t){d, got * t / PS_THREADS, got * (t + 1) / PS_THREADS};
      pthread_create(&th[t], NULL, ps_serve, &sl[t]);
    }
    pthread_join(th[0], NULL);
    _exit(0);
  }
  close(pfd[1]);
  out->pid = pid;
  out->ports = calloc((size_t)n, sizeof *out->ports);
  out->n = 0;
  for (;;) {
    int port;
    if (read(pfd[0], &port, sizeof port) != sizeof port || port < 0) break;
    if (out->n < n) out->ports[out->n++] = port;
  }
  close(pfd[0]);
  if (out->n == 0) {
    snprintf(msg, msglen, "the page servers could not listen");
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  return 0;
}

static inline void ps_stop(ps_t *p) {
  if (p->pid > 0) {
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
  }
  free(p->ports);
  p->pid = 0;
}

// The page (DATA or ../shared/data, or argv[1]); NULL with *path set when absent.
static inline char *ps_read_page(int argc, char **argv, const char **path, size_t *len) {
  static char def[1024];
  const char *data = getenv("DATA");
  snprintf(def, sizeof def, "%s/metrics/vllm_metrics_page.txt", data ? data : "../shared/data");
  *path = argc > 1 ? argv[1] : def;
  FILE *f = fopen(*path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(buf);
    return NULL;
  }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static inline double ps_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec * 1e-6;
}

static inline double ps_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Resident set (VmRSS) and its peak (VmHWM) of this process, in MB.
static inline void ps_rss_mb(double *rss, double *hwm) {
  *rss = *hwm = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    long kb;
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) *rss = kb / 1024.0;
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) *hwm = kb / 1024.0;
  }
  fclose(f);
}
