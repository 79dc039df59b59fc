// Schedulers (manual and libuv) and the token bucket: timers run in due order and never early,
// cancels are safe after firing, a bucket grants its burst then 1/rate apart.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/util/sched.h"
#include "core/util/tbucket.h"
#include "tests/unit/tap.h"

typedef struct {
  sl_sched_t *s;
  char log[64];
  int n;
  double at[16];
} rec_t;

static rec_t g;

static void mark(void *ud) {
  char c = (char)(long)ud;
  g.at[g.n % 16] = sl_sched_now(g.s);
  g.log[g.n++] = c;
  g.log[g.n] = '\0';
  if (c == 'b') sl_sched_after(g.s, 0.5, mark, (void *)(long)'d'); // lands inside the step
}

static void test_manual(void) {
  g = (rec_t){0};
  sl_sched_t *s = g.s = sl_sched_new_manual(100, 1.7e9);
  sl_sched_after(s, 2, mark, (void *)(long)'c');
  sl_sched_after(s, 1, mark, (void *)(long)'b');
  sl_sched_after(s, 1, mark, (void *)(long)'B'); // same time: added order
  uint64_t x = sl_sched_after(s, 1.5, mark, (void *)(long)'x');
  sl_sched_after(s, 0, mark, (void *)(long)'a');
  T_EQ_INT(g.n, 0, "nothing runs inside sl_sched_after");
  sl_sched_cancel(s, x);
  sl_sched_advance(s, 0.99);
  T_OK(!strcmp(g.log, "a"), "only what is due ran (%s)", g.log);
  sl_sched_advance(s, 5);
  T_OK(!strcmp(g.log, "abBdc"), "due order, ties in added order, cancelled skipped (%s)", g.log);
  T_NEAR(g.at[3], 101.5, 1e-9, "a timer added by a callback ran at its own time");
  T_NEAR(sl_sched_now(s), 105.99, 1e-9, "time ends at the target");
  T_NEAR(sl_sched_wall(s), 1.7e9 + 5.99, 1e-6, "wall clock moves with it");
  sl_sched_cancel(s, x);
  sl_sched_cancel(s, 0);
  T_EQ_INT(sl_sched_pending(s), 0, "cancelling fired or unknown ids is harmless");
  T_OK(isinf(sl_sched_next(s)), "no next timer");
  sl_sched_free(s);
}

static void test_uv(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  g = (rec_t){0};
  sl_sched_t *s = g.s = sl_sched_new_uv(&loop);
  double t0 = sl_sched_now(s);
  sl_sched_after(s, 0.05, mark, (void *)(long)'y');
  sl_sched_after(s, 0.02, mark, (void *)(long)'x');
  for (int i = 0; i < 1000 && g.n < 2; i++) uv_run(&loop, UV_RUN_ONCE);
  T_OK(!strcmp(g.log, "xy"), "uv timers in due order (%s)", g.log);
  T_OK(g.at[0] - t0 >= 0.02 && g.at[1] - t0 >= 0.05, "uv timers never fire early");
  sl_sched_after(s, 10, mark, (void *)(long)'z');
  sl_sched_free(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  T_EQ_INT(uv_loop_close(&loop), 0, "freed scheduler closed its handle");
}

static void test_bucket(void) {
  sl_tbucket_t b;
  sl_tbucket_init(&b, 5, 10, 0);
  int got = 0;
  for (int i = 0; i < 20; i++) got += sl_tbucket_try(&b, 0);
  T_EQ_INT(got, 10, "burst of 10 at once");
  T_EQ_INT(sl_tbucket_try(&b, 0.19), 0, "no token before 1/rate");
  T_EQ_INT(sl_tbucket_try(&b, 0.2), 1, "one token after 1/rate");
  T_EQ_INT(sl_tbucket_try(&b, 100), 1, "refills...");
  got = 1;
  for (int i = 0; i < 20; i++) got += sl_tbucket_try(&b, 100);
  T_EQ_INT(got, 10, "...but never above the burst");

  sl_tbucket_init(&b, 5, 2, 0);
  T_NEAR(sl_tbucket_reserve(&b, 0), 0, 0, "reserve within the burst: no wait");
  T_NEAR(sl_tbucket_reserve(&b, 0), 0, 0, "second within the burst");
  T_NEAR(sl_tbucket_reserve(&b, 0), 0.2, 1e-12, "third waits 1/rate");
  T_NEAR(sl_tbucket_reserve(&b, 0), 0.4, 1e-12, "fourth queues behind it");
  T_NEAR(sl_tbucket_reserve(&b, 0.4), 0.2, 1e-12, "time pays the queue down");
  sl_tbucket_init(&b, 0, 1, 0);
  T_EQ_INT(sl_tbucket_try(&b, 0) + sl_tbucket_try(&b, 0), 2, "rate 0 is unlimited");
}

int main(void) {
  test_manual();
  test_uv();
  test_bucket();
  return tap_done();
}
