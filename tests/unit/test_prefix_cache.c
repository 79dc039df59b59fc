// The simulated server's prefix cache and the gateway's prefix affinity: identical prompts hit
// after the first, unique prompts never hit, unreferenced blocks are evicted least recently freed
// first under KV pressure (and referenced ones never), KV accounting holds under shared prefixes,
// and the scorer mix sends a repeated prefix to the server holding it.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/step.h"
#include "core/sim/blocks.h"
#include "core/sim/cluster.h"
#include "core/sim/gateway.h"
#include "core/sim/replica.h"
#include "core/util/rng.h"
#include "tests/unit/tap.h"

#define B 512

typedef struct {
  sl_inflight_pool_t pool;
  int finished, rejected;
  uint32_t cached[256]; // per request, in submission order
  double ttft[256];
  int n;
} h_t;

static void on_done(void *ud, sl_replica_t *r, int32_t id, double t, sl_replica_outcome_t o) {
  h_t *h = ud;
  sl_inflight_t *q = &h->pool.r[id];
  int k = (int)q->model; // the test stores the submission number here
  if (o == SL_REPLICA_FINISHED) {
    h->finished++;
    h->cached[k] = q->cached;
    h->ttft[k] = q->t_first - q->t_arrive;
  } else {
    h->rejected++;
  }
  sl_inflight_release(&h->pool, id);
}

// A chain of n blocks with raw ids base, base+1, ...; returns its last block.
static uint32_t chain(sl_blocks_t *bt, uint64_t base, int n) {
  uint32_t last = SL_BLOCK_NONE;
  bool seen;
  for (int i = 0; i < n; i++) sl_blocks_intern(bt, last, base + (uint64_t)i, &last, &seen);
  return last;
}

static int32_t submit(h_t *h, sl_replica_t *r, double t, uint32_t in, uint32_t out,
                      uint32_t block) {
  int32_t id = sl_inflight_alloc(&h->pool);
  sl_inflight_t *q = &h->pool.r[id];
  q->t_arrive = t;
  q->in = in;
  q->out = out;
  q->block = block;
  q->model = (uint16_t)h->n++;
  sl_replica_submit(r, id, t);
  return id;
}

// Runs the server until it is idle, checking after every event that what running requests hold
// and what the cache keeps unreferenced fit the KV cache together.
static int drain(sl_replica_t *r) {
  int ok = 1;
  while (isfinite(sl_replica_next_event(r))) {
    sl_replica_advance(r);
    if (r->used < -1e-9 || r->pc_free < -1e-9 ||
        r->used + r->pc_free > r->cfg->kv_capacity + 1e-9 ||
        fabs(r->pc_free - r->pc.nlru * (double)B) > 1e-9)
      ok = 0;
  }
  return ok;
}

static sl_replica_cfg_t cfg(double kv) {
  sl_replica_cfg_t c = {sl_step_llama31_8b_h100, 256, 8192, kv};
  return c;
}

static void test_identical_prompts_hit(void) {
  sl_blocks_t bt;
  sl_blocks_init(&bt, B);
  uint32_t x = chain(&bt, 100, 8);
  sl_replica_cfg_t c = cfg(440000);
  h_t h = {0};
  sl_inflight_pool_init(&h.pool);
  sl_replica_t r;
  sl_replica_init(&r, &c, &h.pool, on_done, &h);
  r.blocks = &bt;
  // One after another: each finds the blocks the first computed.
  for (int i = 0; i < 4; i++) {
    submit(&h, &r, 10.0 * i, 8 * B + 100, 4, x);
    drain(&r);
  }
  T_EQ_INT(h.finished, 4, "identical: all finish");
  T_EQ_INT(h.cached[0], 0, "identical: the first prompt finds nothing cached");
  int all = 1;
  for (int i = 1; i < 4; i++) all &= h.cached[i] == 8 * B;
  T_OK(all, "identical: every later prompt hits its 8 full blocks (got %u)", h.cached[1]);
  T_OK(h.ttft[1] < 0.5 * h.ttft[0], "identical: a hit skips the prefill (TTFT %.1f vs %.1f ms)",
       h.ttft[1] * 1e3, h.ttft[0] * 1e3);
  // Prompt tokens computed: the first prompt whole, then only the 100 uncached tokens each.
  T_NEAR(r.m_prompt_tokens, (8 * B + 100) + 3 * 100, 1e-9,
         "identical: cached prompt tokens are not prefilled again");
  T_NEAR(r.m_prefix_hits / r.m_prefix_queries, 3.0 * 8 * B / (4.0 * (8 * B + 100)), 1e-12,
         "identical: the server counts lookups and hits in tokens");
  // A prompt of exactly 8 blocks computes its last token again (vLLM needs its logits): 7 hit.
  submit(&h, &r, 100, 8 * B, 4, x);
  drain(&r);
  T_EQ_INT(h.cached[4], 7 * B, "identical: a fully cached prompt still computes its last block");
  // Concurrent identical prompts: the second is admitted in the same step as the first, before
  // any block is computed, so it misses; both then share the blocks, held once.
  uint32_t y = chain(&bt, 5000, 4);
  submit(&h, &r, 200, 4 * B + 10, 400, y);
  submit(&h, &r, 200, 4 * B + 10, 400, y);
  while (r.n_decode < 2 && isfinite(sl_replica_next_event(&r))) sl_replica_advance(&r);
  // Both decode: 2 prompts of 4 blocks + 10 tokens, the blocks once.
  T_OK(r.n_decode == 2 && r.used <= 4 * B + 2 * (10 + 400) + 1e-9,
       "identical: running requests share their cached blocks (KV held %.0f tokens)", r.used);
  drain(&r);
  sl_replica_deinit(&r);
  sl_inflight_pool_deinit(&h.pool);
  sl_blocks_deinit(&bt);
}

static void test_unique_prompts_never_hit(void) {
  sl_blocks_t bt;
  sl_blocks_init(&bt, B);
  sl_replica_cfg_t c = cfg(440000);
  h_t h = {0};
  sl_inflight_pool_init(&h.pool);
  sl_replica_t r;
  sl_replica_init(&r, &c, &h.pool, on_done, &h);
  r.blocks = &bt;
  sl_rng_t rng;
  sl_rng_seed(&rng, 7);
  // Unique chains (the same raw ids after a different first block are different blocks), some
  // concurrent, some after others have finished.
  for (int i = 0; i < 64; i++) {
    uint32_t last = SL_BLOCK_NONE;
    bool seen;
    sl_blocks_intern(&bt, last, 1000000 + (uint64_t)i, &last, &seen);
    for (int k = 1; k < 6; k++) sl_blocks_intern(&bt, last, (uint64_t)k, &last, &seen);
    submit(&h, &r, 0.05 * i, 6 * B + (uint32_t)(sl_rng_uniform(&rng) * 400), 20, last);
    if (i % 8 == 7) drain(&r);
  }
  drain(&r);
  T_EQ_INT(h.finished, 64, "unique: all finish");
  T_NEAR(r.m_prefix_hits, 0, 0, "unique: no prompt ever hits");
  int none = 1;
  for (int i = 0; i < 64; i++) none &= h.cached[i] == 0;
  T_OK(none, "unique: no request reports cached tokens");
  T_OK(r.pc.n > 0, "unique: their blocks were cached all the same (%d entries)", (int)r.pc.n);
  sl_replica_deinit(&r);
  sl_inflight_pool_deinit(&h.pool);
  sl_blocks_deinit(&bt);
}

static void test_eviction_under_pressure(void) {
  sl_blocks_t bt;
  sl_blocks_init(&bt, B);
  uint32_t a = chain(&bt, 10, 3), b = chain(&bt, 20, 5);
  // KV for 8 blocks.
  sl_replica_cfg_t c = cfg(8 * B);
  h_t h = {0};
  sl_inflight_pool_init(&h.pool);
  sl_replica_t r;
  sl_replica_init(&r, &c, &h.pool, on_done, &h);
  r.blocks = &bt;
  submit(&h, &r, 0, 3 * B + 10, 2, a);
  drain(&r);
  T_NEAR(r.pc_free, 3 * B, 0, "evict: a finished prompt's blocks stay cached, unreferenced");
  T_NEAR(r.used, 0, 1e-9, "evict: and count as free KV (vLLM's KV usage)");
  // B needs 5 blocks + 12 tokens: with A's 3 blocks kept that overflows by 12 tokens, so one
  // block goes: A's last (a request's blocks are freed tail first).
  submit(&h, &r, 10, 5 * B + 10, 2, b);
  drain(&r);
  submit(&h, &r, 20, 3 * B + 10, 2, a);
  drain(&r);
  T_EQ_INT(h.cached[1], 0, "evict: B shares nothing with A");
  T_EQ_INT(h.cached[2], 2 * B, "evict: A again finds its first two blocks, the third was evicted");
  // While a request runs, its blocks are held: a newcomer that cannot fit beside them waits
  // rather than evicting them.
  h_t h2 = {0};
  sl_inflight_pool_init(&h2.pool);
  sl_replica_t r2;
  sl_replica_init(&r2, &c, &h2.pool, on_done, &h2);
  r2.blocks = &bt;
  submit(&h2, &r2, 0, 3 * B + 10, 600, a); // holds its 3 blocks for 600 decode steps
  submit(&h2, &r2, 0.001, 5 * B, 2, b);
  int ok = drain(&r2);
  T_EQ_INT(h2.finished, 2, "evict: both finish (the second after the first frees its KV)");
  T_OK(ok, "evict: held + unreferenced cached KV never exceeds the cache");
  sl_replica_deinit(&r2);
  sl_inflight_pool_deinit(&h2.pool);
  sl_replica_deinit(&r);
  sl_inflight_pool_deinit(&h.pool);
  sl_blocks_deinit(&bt);
}

static void test_accounting_under_load(void) {
  // Many requests over a few shared prefixes on a small KV cache: preemptions, shared blocks,
  // evictions. What running requests hold and what the cache keeps must always fit together,
  // every request must end, and an idle server must hold nothing.
  sl_blocks_t bt;
  sl_blocks_init(&bt, B);
  uint32_t fam[4];
  for (int f = 0; f < 4; f++) fam[f] = chain(&bt, 1000 * (uint64_t)(f + 1), 12);
  sl_replica_cfg_t c = cfg(40 * B);
  h_t h = {0};
  sl_inflight_pool_init(&h.pool);
  sl_replica_t r;
  sl_replica_init(&r, &c, &h.pool, on_done, &h);
  r.blocks = &bt;
  sl_rng_t rng;
  sl_rng_seed(&rng, 3);
  int ok = 1;
  double t = 0;
  for (int i = 0; i < 200; i++) {
    t += sl_rng_exp(&rng, 20);
    while (sl_replica_next_event(&r) <= t) {
      sl_replica_advance(&r);
      ok &= r.used >= -1e-9 && r.used + r.pc_free <= c.kv_capacity + 1e-9;
    }
    uint32_t f = fam[sl_rng_u64(&rng) % 4];
    uint32_t in = (uint32_t)(2 * B + sl_rng_uniform(&rng) * 10 * B);
    submit(&h, &r, t, in, 1 + (uint32_t)(sl_rng_uniform(&rng) * 300), f);
  }
  ok &= drain(&r);
  T_OK(ok, "load: KV held + cached never exceeds the cache");
  T_EQ_INT(h.finished + h.rejected, 200, "load: every request ends");
  T_EQ_INT(h.rejected, 0, "load: none rejected");
  T_NEAR(r.used, 0, 1e-6, "load: an idle server holds no KV");
  T_OK(r.m_preemptions > 0 && r.m_prefix_hits > 0, "load: preemptions (%.0f) and hits happened",
       r.m_preemptions);
  sl_replica_deinit(&r);
  sl_inflight_pool_deinit(&h.pool);
  sl_blocks_deinit(&bt);
}

static void test_routing_affinity(void) {
  sl_blocks_t bt;
  sl_blocks_init(&bt, B);
  uint32_t x = chain(&bt, 1, 10), y = chain(&bt, 50, 10);
  sl_replica_cfg_t c = cfg(440000);
  h_t h = {0};
  sl_inflight_pool_init(&h.pool);
  sl_replica_t r[3];
  sl_gateway_ep_t ep[3];
  sl_gateway_t g;
  sl_gateway_init(&g, 1, &h.pool, 5, 0.8, 60);
  g.m[0].blocks = &bt;
  for (int i = 0; i < 3; i++) {
    sl_replica_init(&r[i], &c, &h.pool, on_done, &h);
    r[i].blocks = &bt;
    sl_gateway_ep_init(&ep[i], &r[i], (uint64_t)i);
    sl_gateway_add_endpoint(&g, 0, &ep[i]);
  }
  // The prefix was served by the newest server; all three are idle again.
  submit(&h, &r[2], 0, 10 * B + 50, 4, x);
  drain(&r[2]);
  sl_gateway_update(&g, &ep[2]);
  int32_t id = sl_inflight_alloc(&h.pool);
  h.pool.r[id].in = 10 * B + 80;
  h.pool.r[id].block = x;
  T_OK(sl_gateway_pick_for(&g, 0, id) == &r[0],
       "affinity: least-loaded ignores the cache (equal load: the oldest)");
  sl_gateway_routing_t mix = {1, SL_GATEWAY_W_PREFIX, SL_GATEWAY_W_KV, SL_GATEWAY_W_QUEUE};
  sl_gateway_set_routing(&g, &mix, 1);
  int held = 1;
  for (int k = 0; k < 20; k++) held &= sl_gateway_pick_for(&g, 0, id) == &r[2];
  T_OK(held, "affinity: the scorer mix sends the repeated prefix to the server holding it");
  // A prompt no server holds goes to any of the equally loaded three: ties are drawn.
  h.pool.r[id].block = y;
  int seen[3] = {0};
  for (int k = 0; k < 60; k++) {
    sl_replica_t *p = sl_gateway_pick_for(&g, 0, id);
    for (int i = 0; i < 3; i++) seen[i] += p == &r[i];
  }
  T_OK(seen[0] && seen[1] && seen[2], "affinity: ties among equal scores are drawn (%d/%d/%d)",
       seen[0], seen[1], seen[2]);
  // With the default weights a full prefix match (3) outweighs the queue scorer (2): the holder
  // with the longest queue still wins...
  h.pool.r[id].block = x;
  for (int k = 0; k < 4; k++) submit(&h, &r[2], 1, 60000, 10, SL_BLOCK_NONE);
  sl_replica_advance(&r[2]);
  sl_gateway_update(&g, &ep[2]);
  T_OK(r[2].n_waiting == 3 && sl_gateway_pick_for(&g, 0, id) == &r[2],
       "affinity: a holder with %d waiting still wins on its prefix", r[2].n_waiting);
  // ... until the saturation detector takes it out of the candidates.
  for (int k = 0; k < 2; k++) submit(&h, &r[2], 1, 60000, 10, SL_BLOCK_NONE);
  sl_gateway_update(&g, &ep[2]);
  sl_replica_t *p = sl_gateway_pick_for(&g, 0, id);
  T_OK(p != &r[2] && p != NULL, "affinity: a saturated holder (%d waiting) is passed over",
       r[2].n_waiting);
  sl_inflight_release(&h.pool, id);
  for (int i = 0; i < 3; i++) sl_replica_cut(&r[i], 10), sl_replica_deinit(&r[i]);
  sl_gateway_deinit(&g);
  sl_inflight_pool_deinit(&h.pool);
  sl_blocks_deinit(&bt);
}

static const char base_yaml[] =
    "slo_classes:\n"
    "  interactive: {ttft_ms: 1000, itl_ms: 50}\n"
    "accelerators:\n"
    "  H100: {count: 0, cost: 4.0}\n"
    "models:\n"
    "  - name: m\n"
    "    shape: llama-3.1-8b\n"
    "variants:\n"
    "  - {id: llm/m, model: m, accelerator: H100, profile: llama-3.1-8b/h100, slo_class: "
    "interactive, min: 1, max: 10}\n";

static int load(sl_cluster_t *c, const char *gateway, sl_err_t *err) {
  char buf[2048];
  snprintf(buf, sizeof buf, "%s%s", base_yaml, gateway);
  memset(err, 0, sizeof *err);
  return sl_cluster_load_buffer(c, buf, strlen(buf), "c.yaml", err);
}

static void test_cluster_routing(void) {
  sl_cluster_t c;
  sl_err_t err;
  T_EQ_INT(load(&c, "", &err), 0, "routing: a cluster without a gateway section loads");
  T_EQ_INT(c.routing.mix, 0, "routing: least-loaded by default");
  sl_cluster_deinit(&c);
  T_EQ_INT(load(&c, "gateway: {routing: scorers}\n", &err), 0, "routing: scorers loads");
  T_OK(c.routing.mix && c.routing.w_prefix == 3 && c.routing.w_kv == 2 && c.routing.w_queue == 2,
       "routing: scorers default to llm-d's weights 3/2/2");
  sl_cluster_deinit(&c);
  T_EQ_INT(load(&c, "gateway: {routing: scorers, scorers: {prefix_cache: 1, queue: 0.5}}\n", &err),
           0, "routing: weights load");
  T_OK(c.routing.w_prefix == 1 && c.routing.w_kv == 2 && c.routing.w_queue == 0.5,
       "routing: given weights replace the defaults, the rest stay");
  sl_cluster_deinit(&c);
  T_OK(load(&c, "gateway: {routing: prefix}\n", &err) < 0, "routing: an unknown mode fails");
  T_STR_HAS(err.msg, "c.yaml:10:", "routing: the error names the line");
  T_STR_HAS(err.msg, "gateway.routing: expected least-loaded or scorers", "routing: and the field");
  T_OK(load(&c, "gateway: {scorers: {queue: 1}}\n", &err) < 0,
       "routing: weights without the scorer mix fail");
  T_STR_HAS(err.msg, "gateway.scorers", "routing: naming gateway.scorers");
  T_OK(load(&c, "gateway: {routing: scorers, scorers: {prefix: 1}}\n", &err) < 0,
       "routing: an unknown scorer fails");
  T_STR_HAS(err.msg, "gateway.scorers.prefix: unknown field", "routing: naming the field");
  T_OK(load(&c, "gateway: {routing: scorers, scorers: {queue: -1}}\n", &err) < 0,
       "routing: a negative weight fails");
}

int main(void) {
  test_identical_prompts_hit();
  test_unique_prompts_never_hit();
  test_eviction_under_pressure();
  test_accounting_under_load();
  test_routing_affinity();
  test_cluster_routing();
  return tap_done();
}
