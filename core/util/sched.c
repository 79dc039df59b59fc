// Schedulers. See sched.h. Timers live in a list sorted by due time (a controller holds tens of
// them, so a heap would buy nothing); the uv flavour keeps one uv_timer armed for the head.
#include "core/util/sched.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

typedef struct timer {
  uint64_t id;
  double due;
  sl_sched_fn fn;
  void *ud;
  struct timer *next;
} timer_t_;

struct sl_sched {
  int manual;
  double now, wall0, mono0; // manual: current time; both: wall = wall0 + (now - mono0)
  uv_loop_t *loop;
  uv_timer_t uvt;
  timer_t_ *head;
  size_t n;
  uint64_t next_id;
  int closing;
};

static double mono_real(void) {
  return (double)uv_hrtime() / 1e9;
}

static double wall_real(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sl_sched_now(sl_sched_t *s) {
  return s->manual ? s->now : mono_real();
}

double sl_sched_wall(sl_sched_t *s) {
  return s->manual ? s->wall0 + (s->now - s->mono0) : wall_real();
}

static void arm(sl_sched_t *s);

// Pops the head if it is due at `now`.
static timer_t_ *pop_due(sl_sched_t *s, double now) {
  timer_t_ *t = s->head;
  if (!t || t->due > now) return NULL;
  s->head = t->next;
  s->n--;
  return t;
}

static void on_uv_timer(uv_timer_t *h) {
  sl_sched_t *s = h->data;
  double now = mono_real();
  // Only what is due now: timers added by these callbacks wait for the next turn.
  timer_t_ *t;
  uint64_t limit = s->next_id;
  while ((t = s->head) && t->due <= now && t->id <= limit) {
    s->head = t->next;
    s->n--;
    sl_sched_fn fn = t->fn;
    void *ud = t->ud;
    free(t);
    fn(ud);
  }
  arm(s);
}

static void arm(sl_sched_t *s) {
  if (s->manual || s->closing) return;
  if (!s->head) {
    uv_timer_stop(&s->uvt);
    return;
  }
  double d = s->head->due - mono_real();
  // Round up and add a millisecond: uv's clock has millisecond steps and is cached per loop
  // turn, and a timer must never fire before its time (Retry-After is a floor).
  uint64_t ms = d <= 0 ? 0 : (uint64_t)ceil(d * 1e3) + 1;
  uv_timer_start(&s->uvt, on_uv_timer, ms, 0);
}

sl_sched_t *sl_sched_new_uv(uv_loop_t *loop) {
  sl_sched_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->loop = loop;
  s->next_id = 1;
  s->mono0 = mono_real();
  s->wall0 = wall_real();
  uv_timer_init(loop, &s->uvt);
  s->uvt.data = s;
  return s;
}

sl_sched_t *sl_sched_new_manual(double start, double wall_start) {
  sl_sched_t *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->manual = 1;
  s->now = s->mono0 = start;
  s->wall0 = wall_start;
  s->next_id = 1;
  return s;
}

static void drop_all(sl_sched_t *s) {
  while (s->head) {
    timer_t_ *t = s->head;
    s->head = t->next;
    free(t);
  }
  s->n = 0;
}

static void on_close(uv_handle_t *h) {
  free(h->data);
}

void sl_sched_free(sl_sched_t *s) {
  if (!s) return;
  drop_all(s);
  if (s->manual) {
    free(s);
    return;
  }
  s->closing = 1;
  uv_close((uv_handle_t *)&s->uvt, on_close);
}

uint64_t sl_sched_after(sl_sched_t *s, double delay, sl_sched_fn fn, void *ud) {
  timer_t_ *t = malloc(sizeof *t);
  if (!t) return 0;
  t->id = s->next_id++;
  t->due = sl_sched_now(s) + (delay > 0 ? delay : 0);
  t->fn = fn;
  t->ud = ud;
  // Equal due times run in the order they were added.
  timer_t_ **pp = &s->head;
  while (*pp && (*pp)->due <= t->due) pp = &(*pp)->next;
  t->next = *pp;
  *pp = t;
  s->n++;
  if (s->head == t) arm(s);
  return t->id;
}

void sl_sched_cancel(sl_sched_t *s, uint64_t id) {
  if (!id) return;
  for (timer_t_ **pp = &s->head; *pp; pp = &(*pp)->next) {
    if ((*pp)->id != id) continue;
    timer_t_ *t = *pp;
    int was_head = t == s->head;
    *pp = t->next;
    s->n--;
    free(t);
    if (was_head) arm(s);
    return;
  }
}

size_t sl_sched_pending(const sl_sched_t *s) {
  return s->n;
}

double sl_sched_next(const sl_sched_t *s) {
  return s->head ? s->head->due : INFINITY;
}

void sl_sched_advance(sl_sched_t *s, double dt) {
  if (!s->manual) return;
  double target = s->now + (dt > 0 ? dt : 0);
  timer_t_ *t;
  while ((t = pop_due(s, target))) {
    if (t->due > s->now) s->now = t->due;
    sl_sched_fn fn = t->fn;
    void *ud = t->ud;
    free(t);
    fn(ud);
  }
  s->now = target;
}
