// The watchdog thread. See watchdog.h.
#include "core/lua/watchdog.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util/err.h"

typedef struct {
  lua_State *L;
  lua_Hook hook;
  double deadline;
  volatile int *expired;
  int fired;
} entry_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static int started, start_failed;
static double waking_at; // when the thread wakes next (0 = waiting for work)
static entry_t *entries;
static int nentries, cap;
static uint64_t nfired;

double sl_watchdog_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *run(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  for (;;) {
    double next = 0;
    int have = 0;
    double now = sl_watchdog_now();
    for (int i = 0; i < nentries; i++) {
      entry_t *e = &entries[i];
      if (e->fired) continue;
      if (e->deadline <= now) {
        // The call is over time: make its next instruction run the hook.
        *e->expired = 1;
        lua_sethook(e->L, e->hook, LUA_MASKCOUNT, 1);
        e->fired = 1;
        nfired++;
      } else if (!have || e->deadline < next) {
        next = e->deadline;
        have = 1;
      }
    }
    if (!have) {
      waking_at = 0;
      pthread_cond_wait(&cv, &mu);
      continue;
    }
    waking_at = next;
    double wait = next - now;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(wait * 1e9) + 1000000; // +1 ms: past it
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(&cv, &mu, &ts);
  }
  return NULL;
}

// Called with mu held.
static int start(void) {
  if (started) return SL_OK;
  if (start_failed) return SL_EIO;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&a, 64 * 1024);
  pthread_t t;
  int rc = pthread_create(&t, &a, run, NULL);
  pthread_attr_destroy(&a);
  if (rc != 0) {
    start_failed = 1;
    return SL_EIO;
  }
  started = 1;
  return SL_OK;
}

int sl_watchdog_arm(lua_State *L, lua_Hook hook, double deadline, volatile int *expired) {
  pthread_mutex_lock(&mu);
  int rc = start();
  if (rc == 0) {
    int i = 0;
    while (i < nentries && entries[i].L != L) i++;
    if (i == nentries) {
      if (nentries == cap) {
        int ncap = cap ? cap * 2 : 8;
        entry_t *ne = realloc(entries, (size_t)ncap * sizeof *ne);
        if (!ne) {
          pthread_mutex_unlock(&mu);
          return SL_ENOMEM;
        }
        entries = ne;
        cap = ncap;
      }
      nentries++;
    }
    entries[i] = (entry_t){L, hook, deadline, expired, 0};
    *expired = 0;
    // Calls start one after another with ever later deadlines: the thread, already asleep
    // until an earlier one, needs no wake-up (it re-reads the table when it wakes).
    if (waking_at == 0 || deadline < waking_at) pthread_cond_signal(&cv);
  }
  pthread_mutex_unlock(&mu);
  return rc;
}

void sl_watchdog_disarm(lua_State *L) {
  pthread_mutex_lock(&mu);
  for (int i = 0; i < nentries; i++) {
    if (entries[i].L != L) continue;
    entries[i] = entries[--nentries];
    break;
  }
  pthread_mutex_unlock(&mu);
}

void sl_watchdog_sethook(lua_State *L, lua_Hook f, int mask, int count) {
  pthread_mutex_lock(&mu);
  lua_sethook(L, f, mask, count);
  pthread_mutex_unlock(&mu);
}

uint64_t sl_watchdog_fired(void) {
  pthread_mutex_lock(&mu);
  uint64_t n = nfired;
  pthread_mutex_unlock(&mu);
  return n;
}
