// Simulated vLLM server. See replica.h.
#include "core/sim/replica.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REQ(r, i) (&(r)->pool->r[i])

int sl_replica_init(sl_replica_t *r, const sl_replica_cfg_t *cfg, sl_inflight_pool_t *pool,
                    sl_replica_done_fn on_done, void *ud) {
  memset(r, 0, sizeof *r);
  r->cfg = cfg;
  r->pool = pool;
  r->on_done = on_done;
  r->ud = ud;
  r->seg = SL_SEG_IDLE;
  r->seg_end = INFINITY;
  r->run_head = r->run_tail = r->pf_head = r->wait_head = r->wait_tail = -1;
  static const sl_promhist_kind_t kinds[SL_RH__COUNT] = {SL_PH_TTFT, SL_PH_ITL, SL_PH_E2E,
                                                         SL_PH_PROMPT_TOKENS, SL_PH_GEN_TOKENS};
  for (int i = 0; i < SL_RH__COUNT; i++) sl_promhist_init(&r->h[i], kinds[i]);
  sl_pcache_init(&r->pc);
  return 0;
}

void sl_replica_deinit(sl_replica_t *r) {
  free(r->heap);
  free(r->chunks);
  r->heap = r->chunks = NULL;
  r->nheap = r->heap_cap = r->nchunks = r->chunks_cap = 0;
  sl_pcache_deinit(&r->pc);
  free(r->chain);
  r->chain = NULL;
  r->chain_cap = 0;
}

// ---- lists --------------------------------------------------------------------------------

static void run_append(sl_replica_t *r, int32_t id) {
  sl_inflight_t *q = REQ(r, id);
  q->prev = r->run_tail;
  q->next = -1;
  if (r->run_tail >= 0)
    REQ(r, r->run_tail)->next = id;
  else
    r->run_head = id;
  r->run_tail = id;
  r->n_running++;
}

static void run_unlink(sl_replica_t *r, int32_t id) {
  sl_inflight_t *q = REQ(r, id);
  if (q->prev >= 0)
    REQ(r, q->prev)->next = q->next;
  else
    r->run_head = q->next;
  if (q->next >= 0)
    REQ(r, q->next)->prev = q->prev;
  else
    r->run_tail = q->prev;
  if (r->pf_head == id) r->pf_head = q->next;
  q->prev = q->next = -1;
  r->n_running--;
}

static void wait_push_back(sl_replica_t *r, int32_t id) {
  sl_inflight_t *q = REQ(r, id);
  q->next = -1;
  q->prev = r->wait_tail;
  if (r->wait_tail >= 0)
    REQ(r, r->wait_tail)->next = id;
  else
    r->wait_head = id;
  r->wait_tail = id;
  r->n_waiting++;
}

static void wait_push_front(sl_replica_t *r, int32_t id) {
  sl_inflight_t *q = REQ(r, id);
  q->prev = -1;
  q->next = r->wait_head;
  if (r->wait_head >= 0)
    REQ(r, r->wait_head)->prev = id;
  else
    r->wait_tail = id;
  r->wait_head = id;
  r->n_waiting++;
}

static int32_t wait_pop(sl_replica_t *r) {
  int32_t id = r->wait_head;
  sl_inflight_t *q = REQ(r, id);
  r->wait_head = q->next;
  if (r->wait_head >= 0)
    REQ(r, r->wait_head)->prev = -1;
  else
    r->wait_tail = -1;
  q->prev = q->next = -1;
  r->n_waiting--;
  return id;
}

// ---- finish heap (decoding requests by finish step) ---------------------------------------

static inline uint64_t hkey(const sl_replica_t *r, int i) {
  return REQ(r, r->heap[i])->key;
}

static inline void hset(sl_replica_t *r, int i, int32_t id) {
  r->heap[i] = id;
  REQ(r, id)->hpos = i;
}

static void heap_up(sl_replica_t *r, int i) {
  int32_t id = r->heap[i];
  uint64_t k = REQ(r, id)->key;
  while (i > 0) {
    int p = (i - 1) / 2;
    if (hkey(r, p) <= k) break;
    hset(r, i, r->heap[p]);
    i = p;
  }
  hset(r, i, id);
}

static void heap_down(sl_replica_t *r, int i) {
  int32_t id = r->heap[i];
  uint64_t k = REQ(r, id)->key;
  for (;;) {
    int c = 2 * i + 1;
    if (c >= r->nheap) break;
    if (c + 1 < r->nheap && hkey(r, c + 1) < hkey(r, c)) c++;
    if (hkey(r, c) >= k) break;
    hset(r, i, r->heap[c]);
    i = c;
  }
  hset(r, i, id);
}

static int heap_push(sl_replica_t *r, int32_t id) {
  if (r->nheap == r->heap_cap) {
    int cap = r->heap_cap ? r->heap_cap * 2 : 64;
    int32_t *h = realloc(r->heap, sizeof *h * (size_t)cap);
    if (!h) return r->oom = 1, -1;
    r->heap = h;
    r->heap_cap = cap;
  }
  r->heap[r->nheap++] = id;
  heap_up(r, r->nheap - 1);
  return 0;
}

static void heap_remove(sl_replica_t *r, int32_t id) {
  int i = REQ(r, id)->hpos;
  REQ(r, id)->hpos = -1;
  int32_t last = r->heap[--r->nheap];
  if (i == r->nheap) return;
  hset(r, i, last);
  heap_up(r, i);
  heap_down(r, REQ(r, last)->hpos);
}

static void evict(sl_replica_t *r, double need);

// ---- step times ---------------------------------------------------------------------------

// A run of decode steps with the current membership: step j (from 0) takes
// max(M0 + m j, P) + o ms, M0 the memory-bound time at the run's start, m its growth per step
// (every sequence adds one context token), P the compute-bound time, o the host overhead.
typedef struct {
  double m0, m, p, o;
  double jstar; // steps at the compute floor before memory time overtakes it
} run_law_t;

static void run_law(const sl_replica_t *r, run_law_t *l) {
  const sl_step_t *s = &r->cfg->step;
  double b = r->n_decode;
  l->m0 = s->a_ms + s->b_ms_per_tok * b + s->c_ms_per_ctx * r->ctx;
  l->m = s->c_ms_per_ctx * b;
  l->p = s->ms_per_tok * b;
  l->o = s->overhead_ms;
  if (l->m0 >= l->p)
    l->jstar = 0;
  else if (l->m > 0)
    l->jstar = ceil((l->p - l->m0) / l->m);
  else
    l->jstar = INFINITY;
}

// Milliseconds taken by the first k steps.
static double run_ms(const run_law_t *l, double k) {
  double k1 = k < l->jstar ? k : l->jstar;
  double t = l->o * k + l->p * k1;
  if (k > l->jstar) {
    double j0 = l->jstar;
    t += (k - j0) * l->m0 + l->m * ((k - 1) * k / 2 - (j0 - 1) * j0 / 2);
  }
  return t;
}

// Observes the inter-token latency of k steps of the run, once per decoding sequence.
static void run_itl(sl_replica_t *r, const run_law_t *l, double k) {
  double b = r->n_decode;
  double k1 = k < l->jstar ? k : l->jstar;
  if (k1 > 0) sl_promhist_add_linear(&r->h[SL_RH_ITL], (l->p + l->o) * 1e-3, 0, k1, b);
  if (k > k1)
    sl_promhist_add_linear(&r->h[SL_RH_ITL], (l->m0 + l->m * k1 + l->o) * 1e-3, l->m * 1e-3, k - k1,
                           b);
}

// Commits k decode steps of the run starting at tb.
static void commit_run(sl_replica_t *r, int64_t k) {
  if (k <= 0) return;
  run_law_t l;
  run_law(r, &l);
  double b = r->n_decode;
  run_itl(r, &l, (double)k);
  r->tb += run_ms(&l, (double)k) * 1e-3;
  r->d += (uint64_t)k;
  r->ctx += (double)k * b;
  r->used += (double)k * b;
  r->m_gen_tokens += (double)k * b;
  r->steps += (uint64_t)k;
  // The run's tokens take KV step by step: cached blocks make way for the steps done (at the
  // run's end, or where an arrival cuts it), not for the whole run up front.
  if (__builtin_expect(r->pc.nlru > 0, 0)) evict(r, r->used);
}

// Largest j in [0, k) with run_ms(j) <= ms.
static int64_t run_steps_by(const run_law_t *l, int64_t k, double ms) {
  int64_t lo = 0, hi = k - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (run_ms(l, (double)mid) <= ms)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

// ---- prefix cache ---------------------------------------------------------------------------

static inline double block_tokens(const sl_replica_t *r) {
  return r->blocks ? r->blocks->tokens : 0;
}

// The first n blocks of q's prompt into r->chain; 0, or -1 when out of memory.
static int chain_of(sl_replica_t *r, const sl_inflight_t *q, uint32_t n) {
  if (n > r->chain_cap) {
    uint32_t cap = r->chain_cap ? r->chain_cap : 64;
    while (cap < n) cap *= 2;
    uint32_t *c = realloc(r->chain, sizeof *c * cap);
    if (!c) return r->oom = 1, -1;
    r->chain = c;
    r->chain_cap = cap;
  }
  sl_blocks_chain(r->blocks, q->block, n, r->chain);
  return 0;
}

// Full prompt blocks of q: what its prefill puts in the cache.
static uint32_t full_blocks(const sl_replica_t *r, const sl_inflight_t *q) {
  if (!r->blocks || q->block == SL_BLOCK_NONE) return 0;
  uint32_t d = sl_blocks_depth(r->blocks, q->block), full = q->in / r->blocks->tokens;
  return full < d ? full : d;
}

// The longest run of q's leading blocks in the cache, leaving at least one token of plen to
// compute (vLLM recomputes the last token of a fully cached prompt for its logits); *nfree of
// them are unreferenced. Leaves the chain in r->chain.
__attribute__((noinline)) static uint32_t lookup(sl_replica_t *r, const sl_inflight_t *q,
                                                 uint32_t *nfree) {
  *nfree = 0;
  uint32_t n = full_blocks(r, q);
  if (n == 0 || r->pc.n == 0) return 0;
  uint32_t lim = (q->plen - 1) / r->blocks->tokens;
  if (lim < n) n = lim;
  if (n == 0 || chain_of(r, q, n) < 0) return 0;
  uint32_t h = 0;
  for (; h < n; h++) {
    int32_t e = sl_pcache_find(&r->pc, r->chain[h]);
    if (e < 0) break;
    if (r->pc.e[e].ref == 0) ++*nfree;
  }
  return h;
}

uint32_t sl_replica_cached_blocks(const sl_replica_t *r, const uint32_t *chain, uint32_t n) {
  uint32_t h = 0;
  if (r->pc.n > 0)
    while (h < n && sl_pcache_find(&r->pc, chain[h]) >= 0) h++;
  return h;
}

// Takes the h blocks lookup() found (still in r->chain) for q, whose prefill starts after them.
__attribute__((noinline)) static void acquire(sl_replica_t *r, sl_inflight_t *q, uint32_t h) {
  double bt = block_tokens(r);
  for (uint32_t i = 0; i < h; i++) {
    int32_t e = sl_pcache_find(&r->pc, r->chain[i]);
    if (r->pc.e[e].ref == 0) r->pc_free -= bt, r->used += bt;
    sl_pcache_ref(&r->pc, e);
  }
  q->pub = h;
  q->done = (uint32_t)(h * bt);
}

// q joins the batch with h cached blocks found by lookup().
__attribute__((noinline)) static void admit_cached(sl_replica_t *r, sl_inflight_t *q, uint32_t h) {
  if (!q->admitted && r->blocks) {
    q->admitted = 1;
    q->cached = (uint32_t)(h * block_tokens(r));
    r->m_prefix_queries += q->in, r->m_prefix_hits += q->cached;
  }
  if (h) acquire(r, q, h);
}

// Puts q's newly computed full prompt blocks in the cache. A block another request computed
// meanwhile is shared from then on (q's own copy is freed).
__attribute__((noinline)) static void publish(sl_replica_t *r, sl_inflight_t *q) {
  double bt = block_tokens(r);
  uint32_t n = full_blocks(r, q), upto = (uint32_t)(q->done / bt);
  if (upto < n) n = upto;
  if (n <= q->pub || chain_of(r, q, n) < 0) return;
  for (uint32_t i = q->pub; i < n; i++) {
    int32_t e = sl_pcache_find(&r->pc, r->chain[i]);
    if (e < 0) {
      if (sl_pcache_add(&r->pc, r->chain[i]) < 0) return (void)(r->oom = 1);
    } else {
      if (r->pc.e[e].ref == 0) r->pc_free -= bt, r->used += bt;
      sl_pcache_ref(&r->pc, e);
      r->used -= bt;
    }
    q->pub = i + 1;
  }
}

// q leaves the batch (the caller has taken all its tokens off `used`, its shared blocks too,
// which come back here while another request holds them): its cached blocks lose a reference,
// the last block first, so that the tail of a prompt is evicted before its head (vLLM frees a
// request's blocks in reverse order).
__attribute__((noinline)) static void release(sl_replica_t *r, sl_inflight_t *q) {
  if (q->pub == 0) return;
  double bt = block_tokens(r);
  if (chain_of(r, q, q->pub) == 0) {
    r->used += q->pub * bt;
    for (uint32_t i = q->pub; i > 0; i--) {
      int32_t e = sl_pcache_find(&r->pc, r->chain[i - 1]);
      if (sl_pcache_unref(&r->pc, e)) r->used -= bt, r->pc_free += bt;
    }
  }
  q->pub = 0;
}

// Makes room for `need` KV tokens held by running requests: unreferenced blocks go, least
// recently freed first.
__attribute__((noinline)) static void evict(sl_replica_t *r, double need) {
  double bt = block_tokens(r);
  while (r->pc_free > 0 && need + r->pc_free > r->cfg->kv_capacity && sl_pcache_evict(&r->pc))
    r->pc_free -= bt;
  if (r->pc.nlru == 0) r->pc_free = 0;
}

// ---- leaving --------------------------------------------------------------------------------

static void finish(sl_replica_t *r, int32_t id, double t) {
  sl_inflight_t *q = REQ(r, id);
  if (q->state == SL_INFLIGHT_DECODE) {
    double ctx_i = q->plen + (double)(r->d - (q->key - (q->out - q->gen)));
    heap_remove(r, id);
    r->ctx -= ctx_i;
    r->used -= ctx_i;
    r->n_decode--;
  } else {
    r->used -= q->done;
  }
  if (q->pub) release(r, q);
  run_unlink(r, id);
  double extra = r->cfg->step.request_ms * 1e-3;
  r->m_requests += 1;
  sl_promhist_add(&r->h[SL_RH_E2E], t - q->t_submit + extra, 1);
  sl_promhist_add(&r->h[SL_RH_PROMPT], q->in, 1);
  sl_promhist_add(&r->h[SL_RH_GEN], q->out, 1);
  q->gen = q->out;
  r->on_done(r->ud, r, id, t, SL_REPLICA_FINISHED);
}

// Recompute preemption of the newest running request (vLLM V1's choice under FCFS): its KV is
// freed and it goes back to the front of the waiting queue to prefill prompt + output so far.
static void preempt_tail(sl_replica_t *r) {
  int32_t id = r->run_tail;
  sl_inflight_t *q = REQ(r, id);
  if (q->state == SL_INFLIGHT_DECODE) {
    uint64_t steps = r->d - (q->key - (q->out - q->gen));
    heap_remove(r, id);
    r->ctx -= q->plen + (double)steps;
    r->used -= q->plen + (double)steps;
    r->n_decode--;
    q->gen += (uint32_t)steps;
  } else {
    r->used -= q->done;
    r->n_prefill--;
  }
  if (q->pub) release(r, q);
  run_unlink(r, id);
  q->plen = q->in + q->gen;
  q->done = 0;
  q->state = SL_INFLIGHT_WAITING;
  wait_push_front(r, id);
  r->m_preemptions += 1;
}

// ---- scheduling -----------------------------------------------------------------------------

static int add_chunk(sl_replica_t *r, int32_t id, uint32_t c) {
  if (r->nchunks == r->chunks_cap) {
    int cap = r->chunks_cap ? r->chunks_cap * 2 : 16;
    int32_t *n = realloc(r->chunks, sizeof *n * (size_t)cap);
    if (!n) return r->oom = 1, -1;
    r->chunks = n;
    r->chunks_cap = cap;
  }
  r->chunks[r->nchunks++] = id;
  REQ(r, id)->chunk = c;
  return 0;
}

// Decides what runs from tb: one step with prefill work, or a run of decode-only steps up to the
// next membership change.
static void plan(sl_replica_t *r) {
  const sl_replica_cfg_t *cfg = r->cfg;
  double cap = cfg->kv_capacity;
  for (;;) {
    r->nchunks = 0;
    if (r->n_running == 0 && r->n_waiting == 0) {
      r->seg = SL_SEG_IDLE;
      r->seg_end = INFINITY;
      return;
    }
    // Every decoding sequence needs room for one more token.
    while (r->n_decode > 0 && r->used + r->n_decode > cap) preempt_tail(r);
    double b = r->n_decode;
    double budget = cfg->max_num_batched_tokens - b;
    double room = cap - r->used - b;
    double p = 0, pairs = 0;
    // Running prefills continue first, oldest first.
    for (int32_t id = r->pf_head; id >= 0 && budget > 0 && room > 0; id = REQ(r, id)->next) {
      sl_inflight_t *q = REQ(r, id);
      double c = q->plen - q->done;
      if (c > budget) c = budget;
      if (c > room) c = floor(room);
      if (c <= 0) break;
      if (add_chunk(r, id, (uint32_t)c) < 0) return;
      budget -= c, room -= c, p += c;
      pairs += c * (q->done + c / 2);
    }
    // Then waiting requests, in order, while a seat, token budget and KV room remain.
    while (r->wait_head >= 0 && r->n_running < cfg->max_num_seqs && budget > 0) {
      sl_inflight_t *q = REQ(r, r->wait_head);
      double c = q->plen - q->done, fit = room;
      uint32_t nfree = 0, h = 0;
      if (__builtin_expect(q->block != SL_BLOCK_NONE, 0)) {
        // Cached leading blocks need no prefill; those no one holds take KV room back.
        h = lookup(r, q, &nfree);
        c -= h * block_tokens(r);
        fit -= nfree * block_tokens(r);
      }
      if (c > budget) c = budget;
      if (c > fit) break;
      int32_t id = wait_pop(r);
      q = REQ(r, id);
      if (__builtin_expect(q->block != SL_BLOCK_NONE, 0)) {
        admit_cached(r, q, h);
        room = fit;
      }
      q->state = SL_INFLIGHT_PREFILL;
      run_append(r, id);
      if (r->n_prefill++ == 0) r->pf_head = id;
      if (add_chunk(r, id, (uint32_t)c) < 0) return;
      budget -= c, room -= c, p += c;
      pairs += c * (q->done + c / 2);
    }
    if (p == 0 && b == 0) {
      // Nothing can move: prefills hold KV that leaves no room for the oldest to continue
      // (shed the newest), or the waiting head can never fit (reject it).
      if (r->n_running > 0) {
        preempt_tail(r);
      } else {
        int32_t id = wait_pop(r);
        r->on_done(r->ud, r, id, r->tb, SL_REPLICA_REJECTED);
      }
      continue;
    }
    if (p == 0) {
      // Decode only: membership holds until the first finish or until the KV cache fills.
      uint64_t k_fin = hkey(r, 0) - r->d;
      double k_kv = floor((cap - r->used) / b);
      int64_t k = (double)k_fin < k_kv ? (int64_t)k_fin : (int64_t)k_kv;
      if (k < 1) k = 1;
      run_law_t l;
      run_law(r, &l);
      r->seg = SL_SEG_RUN;
      r->run_k = k;
      r->seg_end = r->tb + run_ms(&l, (double)k) * 1e-3;
      return;
    }
    if (__builtin_expect(r->pc.nlru > 0, 0)) evict(r, r->used + p + b);
    r->seg = SL_SEG_STEP;
    r->step_ms = sl_step_ms_ex(&cfg->step, b, r->ctx, p, pairs);
    r->seg_end = r->tb + r->step_ms * 1e-3;
    return;
  }
}

static void pop_finished(sl_replica_t *r, double t) {
  while (r->nheap > 0 && hkey(r, 0) <= r->d) finish(r, r->heap[0], t);
}

static void end_step(sl_replica_t *r) {
  double t = r->seg_end;
  double b = r->n_decode;
  if (b > 0) {
    r->d++;
    r->ctx += b;
    r->used += b;
    r->m_gen_tokens += b;
    sl_promhist_add(&r->h[SL_RH_ITL], r->step_ms * 1e-3, b);
  }
  r->steps++;
  r->tb = t;
  double extra = r->cfg->step.request_ms * 1e-3;
  for (int i = 0; i < r->nchunks; i++) {
    int32_t id = r->chunks[i];
    sl_inflight_t *q = REQ(r, id);
    q->done += q->chunk;
    r->used += q->chunk;
    r->m_prompt_tokens += q->chunk;
    q->chunk = 0;
    if (q->block != SL_BLOCK_NONE && r->blocks) publish(r, q);
    if (q->done < q->plen) continue;
    // The last chunk of a prefill yields a token.
    r->n_prefill--;
    if (r->pf_head == id) r->pf_head = q->next;
    q->gen++;
    r->m_gen_tokens += 1;
    if (isnan(q->t_first)) {
      q->t_first = t;
      sl_promhist_add(&r->h[SL_RH_TTFT], t - q->t_submit + extra, 1);
    }
    if (q->gen >= q->out) {
      q->state = SL_INFLIGHT_PREFILL;
      finish(r, id, t);
      continue;
    }
    q->state = SL_INFLIGHT_DECODE;
    r->ctx += q->plen;
    r->n_decode++;
    q->key = r->d + (q->out - q->gen);
    if (heap_push(r, id) < 0) return;
  }
  r->nchunks = 0;
  pop_finished(r, t);
  plan(r);
}

void sl_replica_advance(sl_replica_t *r) {
  if (r->seg == SL_SEG_STEP) {
    end_step(r);
  } else if (r->seg == SL_SEG_RUN) {
    double t = r->seg_end;
    commit_run(r, r->run_k);
    r->tb = t; // exact, whatever rounding the sum of steps had
    pop_finished(r, t);
    plan(r);
  }
}

// Could the waiting head join a step started now?
static int head_admissible(sl_replica_t *r) {
  if (r->wait_head < 0 || r->n_running >= r->cfg->max_num_seqs) return 0;
  const sl_inflight_t *q = &r->pool->r[r->wait_head];
  uint32_t nfree = 0, h = q->block != SL_BLOCK_NONE ? lookup(r, q, &nfree) : 0;
  double bt = block_tokens(r);
  double budget = r->cfg->max_num_batched_tokens - r->n_decode;
  double c = q->plen - q->done - h * bt;
  if (c > budget) c = budget;
  return budget > 0 && c <= r->cfg->kv_capacity - r->used - r->n_decode - nfree * bt;
}

// Ends a decode run at the step in progress at `now`: the steps done are committed and the one
// in progress becomes a single step, after which the next plan can take new work.
static void truncate_run(sl_replica_t *r, double now) {
  run_law_t l;
  run_law(r, &l);
  int64_t j = run_steps_by(&l, r->run_k, (now - r->tb) * 1e3);
  commit_run(r, j);
  r->seg = SL_SEG_STEP;
  r->nchunks = 0;
  r->step_ms = sl_step_ms_ex(&r->cfg->step, r->n_decode, r->ctx, 0, 0);
  r->seg_end = r->tb + r->step_ms * 1e-3;
  if (r->seg_end < now) r->seg_end = now;
}

void sl_replica_submit(sl_replica_t *r, int32_t id, double now) {
  sl_inflight_t *q = REQ(r, id);
  q->t_submit = now;
  q->state = SL_INFLIGHT_WAITING;
  q->plen = q->in;
  q->done = q->gen = 0;
  q->hpos = -1; // cached, pub and admitted start at 0 in a fresh slot
  if ((double)q->in + q->out > r->cfg->kv_capacity) {
    r->on_done(r->ud, r, id, now, SL_REPLICA_REJECTED);
    return;
  }
  wait_push_back(r, id);
  if (r->seg == SL_SEG_IDLE) {
    r->tb = now;
    plan(r);
  } else if (now <= r->tb) {
    // The segment planned at this boundary has not started: plan it again with the newcomer.
    plan(r);
  } else if (r->seg == SL_SEG_RUN && head_admissible(r)) {
    truncate_run(r, now);
  }
}

int sl_replica_cut(sl_replica_t *r, double now) {
  if (r->seg == SL_SEG_RUN) {
    run_law_t l;
    run_law(r, &l);
    commit_run(r, run_steps_by(&l, r->run_k, (now - r->tb) * 1e3));
  }
  int n = 0;
  while (r->run_head >= 0) {
    int32_t id = r->run_head;
    run_unlink(r, id);
    r->on_done(r->ud, r, id, now, SL_REPLICA_CUT);
    n++;
  }
  while (r->wait_head >= 0) {
    r->on_done(r->ud, r, wait_pop(r), now, SL_REPLICA_CUT);
    n++;
  }
  r->nheap = r->nchunks = 0;
  r->n_running = r->n_waiting = r->n_prefill = r->n_decode = 0;
  r->pf_head = -1;
  r->ctx = r->used = 0;
  sl_pcache_clear(&r->pc);
  r->pc_free = 0;
  r->seg = SL_SEG_IDLE;
  r->seg_end = INFINITY;
  r->tb = now;
  return n;
}

void sl_replica_peek(const sl_replica_t *r, double now, sl_replica_gauges_t *g) {
  double extra = 0;
  if (r->seg == SL_SEG_RUN && now > r->tb) {
    run_law_t l;
    run_law(r, &l);
    extra = (double)run_steps_by(&l, r->run_k, (now - r->tb) * 1e3) * r->n_decode;
  }
  g->waiting = r->n_waiting;
  g->running = r->n_running;
  double cap = r->cfg->kv_capacity;
  g->kv_usage = cap > 0 ? fmin(1, (r->used + extra) / cap) : 0;
  g->requests = r->m_requests;
  g->prompt_tokens = r->m_prompt_tokens;
  g->gen_tokens = r->m_gen_tokens + extra;
  g->preemptions = r->m_preemptions;
}
