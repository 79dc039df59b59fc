// Allocator behaviour: the objective order on hand-made cases, argument checking, determinism,
// symmetry under input order, min/max and whole GPUs, monotonicity in inventory, memory.
#include <stdio.h>

#include "tests/unit/alloc_ref.h"
#include "tests/unit/tap.h"

static sl_alloc_result_t solve(const sl_alloc_problem_t *p, const sl_alloc_opts_t *o, int *rc,
                               sl_err_t *e) {
  sl_alloc_result_t r;
  *rc = sl_alloc_solve(p, o, &r, e);
  return r;
}

// --- hand-made cases ---------------------------------------------------------------------------

static void test_cases(void) {
  sl_err_t e;
  int rc;
  // Inventory suffices: every group served at least cost; the cheaper type wins.
  {
    sl_alloc_group_t g[] = {{.name = "m", .demand = 10, .priority = 1}};
    sl_alloc_type_t t[] = {{.name = "cheap", .gpus = 8}, {.name = "dear", .gpus = 8}};
    sl_alloc_variant_t v[] = {
        {.id = "m-dear", .group = 0, .type = 1, .gpus = 1, .max_rate = 4, .cost = 10, .max = 8},
        {.id = "m-cheap", .group = 0, .type = 0, .gpus = 1, .max_rate = 3, .cost = 5, .max = 8},
    };
    sl_alloc_problem_t p = {g, 1, v, 2, t, 2};
    sl_alloc_result_t r = solve(&p, NULL, &rc, &e);
    T_EQ_INT(rc, 0, "ample: solves");
    T_EQ_INT(r.replicas[1], 4, "ample: the cheaper per req/s variant covers demand (4 x 3 >= 10)");
    T_EQ_INT(r.replicas[0], 0, "ample: the dearer variant is not used");
    T_NEAR(r.served[0], 1, 1e-12, "ample: fully served");
    T_EQ_INT(r.shortage, 0, "ample: no shortage");
    T_NEAR(r.cost, 20, 1e-9, "ample: cost is 4 x 5");
    T_EQ_INT(r.optimal, 1, "ample: proven optimal");
    sl_alloc_result_deinit(&r);
    // The cheap type is short: it is used to the last GPU, the rest on the dear one.
    t[0].gpus = 2;
    r = solve(&p, NULL, &rc, &e);
    T_EQ_INT(r.replicas[1], 2, "cheap type full: both of its GPUs used");
    T_EQ_INT(r.replicas[0], 1, "cheap type full: the dear type covers the rest (6 + 4 >= 10)");
    T_EQ_INT(r.gpus_used[0], 2, "gpus_used counts the cheap type");
    sl_alloc_result_deinit(&r);
  }
  // Transition penalty: a replica running on the dear type is kept when moving saves less than
  // the penalty of removing it and adding the cheap one.
  {
    sl_alloc_group_t g[] = {{.name = "m", .demand = 3, .priority = 1}};
    sl_alloc_type_t t[] = {{.name = "a", .gpus = 8}, {.name = "b", .gpus = 8}};
    sl_alloc_variant_t v[] = {
        {.id = "on-a",
         .group = 0,
         .type = 0,
         .gpus = 1,
         .max_rate = 4,
         .cost = 10,
         .max = 4,
         .current = 1},
        {.id = "on-b", .group = 0, .type = 1, .gpus = 1, .max_rate = 4, .cost = 9, .max = 4},
    };
    sl_alloc_problem_t p = {g, 1, v, 2, t, 2};
    sl_alloc_opts_t o;
    sl_alloc_opts_init(&o);
    sl_alloc_result_t r = solve(&p, &o, &rc, &e); // stay: 10; move: 9 + 0.1 x (10 + 9) = 10.9
    T_EQ_INT(r.replicas[0], 1, "penalty 0.1: stays on the current variant (10 < 10.9)");
    T_NEAR(r.transition, 0, 1e-12, "penalty 0.1: no transition");
    sl_alloc_result_deinit(&r);
    o.transition_penalty = 0;
    r = solve(&p, &o, &rc, &e);
    T_EQ_INT(r.replicas[1], 1, "penalty 0: moves to the cheaper variant");
    T_NEAR(r.objective, 9, 1e-9, "penalty 0: objective is the cost");
    sl_alloc_result_deinit(&r);
    v[1].cost = 5; // move: 5 + 0.1 x 15 = 6.5 < 10
    o.transition_penalty = 0.1;
    r = solve(&p, &o, &rc, &e);
    T_EQ_INT(r.replicas[1], 1, "penalty 0.1: moves when it saves more than the penalty");
    T_NEAR(r.transition, 1.5, 1e-9, "transition is 0.1 x (10 + 5)");
    sl_alloc_result_deinit(&r);
  }
  // Shortage: higher priority first, whatever the input order.
  {
    sl_alloc_group_t g[] = {{.name = "low", .demand = 4, .priority = 1},
                            {.name = "high", .demand = 4, .priority = 1000}};
    sl_alloc_type_t t[] = {{.name = "x", .gpus = 5}};
    sl_alloc_variant_t v[] = {
        {.id = "low-x", .group = 0, .type = 0, .gpus = 1, .max_rate = 1, .cost = 1, .max = 10},
        {.id = "high-x", .group = 1, .type = 0, .gpus = 1, .max_rate = 1, .cost = 50, .max = 10},
    };
    sl_alloc_problem_t p = {g, 2, v, 2, t, 1};
    sl_alloc_result_t r = solve(&p, NULL, &rc, &e);
    T_EQ_INT(r.replicas[1], 4, "priority: the important group is served in full");
    T_EQ_INT(r.replicas[0], 1, "priority: the other gets what is left");
    T_EQ_INT(r.shortage, 1, "priority: shortage reported");
    T_NEAR(r.served[0], 0.25, 1e-12, "priority: served fraction of the other is 1/4");
    T_EQ_INT(r.fair_priority, 1, "the first short level is priority 1");
    sl_alloc_result_deinit(&r);
  }
  // Shortage within one priority: equal served fractions (max-min), not equal replicas.
  {
    sl_alloc_group_t g[] = {{.name = "a", .demand = 10, .priority = 5},
                            {.name = "b", .demand = 20, .priority = 5}};
    sl_alloc_type_t t[] = {{.name = "x", .gpus = 15}};
    sl_alloc_variant_t v[] = {
        {.id = "a-x", .group = 0, .type = 0, .gpus = 1, .max_rate = 1, .cost = 1, .max = 30},
        {.id = "b-x", .group = 1, .type = 0, .gpus = 1, .max_rate = 1, .cost = 1, .max = 30},
    };
    sl_alloc_problem_t p = {g, 2, v, 2, t, 1};
    sl_alloc_result_t r = solve(&p, NULL, &rc, &e);
    T_EQ_INT(r.replicas[0], 5, "leximin: a gets 5 of 10");
    T_EQ_INT(r.replicas[1], 10, "leximin: b gets 10 of 20");
    T_NEAR(r.fair_min, 0.5, 1e-12, "leximin: lowest fraction 0.5");
    T_NEAR(r.fair_bound, 0.5, 1e-9, "leximin: bound meets it");
    sl_alloc_result_deinit(&r);
    // Leximin then most demand served: with one GPU left after equal shares, it goes where it
    // raises the lowest fraction; here both are equal, so the served total decides nothing and
    // cost does: a's GPU is cheaper.
    t[0].gpus = 16;
    v[0].cost = 0.5;
    r = solve(&p, NULL, &rc, &e);
    T_EQ_INT(r.replicas[0] + r.replicas[1], 16, "leximin: every GPU that raises service is used");
    T_OK(r.served[0] >= 0.5 && r.served[1] >= 0.5, "leximin: neither falls below 0.5");
    T_EQ_INT(r.replicas[0], 6, "leximin: the extra replica raises the lower fraction (a: 0.6)");
    sl_alloc_result_deinit(&r);
  }
  // Min and max are hard; minimums beyond the inventory are kept and flagged.
  {
    sl_alloc_group_t g[] = {{.name = "m", .demand = 100, .priority = 1}};
    sl_alloc_type_t t[] = {{.name = "x", .gpus = 3}};
    sl_alloc_variant_t v[] = {
        {.id = "m-x",
         .group = 0,
         .type = 0,
         .gpus = 2,
         .max_rate = 1,
         .cost = 1,
         .min = 2,
         .max = 9},
    };
    sl_alloc_problem_t p = {g, 1, v, 1, t, 1};
    sl_alloc_result_t r = solve(&p, NULL, &rc, &e);
    T_EQ_INT(r.replicas[0], 2, "minimum kept although it needs 4 GPUs of 3");
    T_EQ_INT(r.overcommitted, 1, "overcommitted reported");
    sl_alloc_result_deinit(&r);
    t[0].gpus = SL_ALLOC_UNLIMITED;
    r = solve(&p, NULL, &rc, &e);
    T_EQ_INT(r.replicas[0], 9, "unlimited type: stops at max");
    T_NEAR(r.served[0], 0.09, 1e-12, "unlimited type: served 9 of 100");
    sl_alloc_result_deinit(&r);
  }
  // A group without variants, and an empty problem.
  {
    sl_alloc_group_t g[] = {{.name = "orphan", .demand = 3, .priority = 1}};
    sl_alloc_problem_t p = {g, 1, NULL, 0, NULL, 0};
    sl_alloc_result_t r = solve(&p, NULL, &rc, &e);
    T_EQ_INT(rc, 0, "group without variants: solves");
    T_NEAR(r.served[0], 0, 1e-12, "group without variants: nothing served");
    T_EQ_INT(r.shortage, 1, "group without variants: shortage");
    sl_alloc_result_deinit(&r);
    sl_alloc_problem_t empty = {NULL, 0, NULL, 0, NULL, 0};
    r = solve(&empty, NULL, &rc, &e);
    T_EQ_INT(rc, 0, "empty problem: solves");
    T_EQ_INT(r.shortage, 0, "empty problem: no shortage");
    sl_alloc_result_deinit(&r);
  }
}

// --- argument checking -------------------------------------------------------------------------

static void test_validation(void) {
  sl_alloc_group_t g[2];
  sl_alloc_variant_t v[2];
  sl_alloc_type_t t[1];
  sl_alloc_problem_t p;
  sl_alloc_opts_t o;
  sl_err_t e;
#define RESET()                                                                                    \
  do {                                                                                             \
    g[0] = (sl_alloc_group_t){.name = "a", .demand = 1, .priority = 1};                            \
    g[1] = (sl_alloc_group_t){.name = "b", .demand = 1, .priority = 1};                            \
    v[0] = (sl_alloc_variant_t){                                                                   \
        .id = "a1", .group = 0, .type = 0, .gpus = 1, .max_rate = 1, .cost = 1, .max = 4};         \
    v[1] = (sl_alloc_variant_t){                                                                   \
        .id = "b1", .group = 1, .type = 0, .gpus = 1, .max_rate = 1, .cost = 1, .max = 4};         \
    t[0] = (sl_alloc_type_t){.name = "x", .gpus = 8};                                              \
    p = (sl_alloc_problem_t){g, 2, v, 2, t, 1};                                                    \
    sl_alloc_opts_init(&o);                                                                        \
  } while (0)
#define BAD(mutate, needle)                                                                        \
  do {                                                                                             \
    RESET();                                                                                       \
    mutate;                                                                                        \
    sl_alloc_result_t r;                                                                           \
    int rc = sl_alloc_solve(&p, &o, &r, &e);                                                       \
    T_EQ_INT(rc, SL_EINVAL, "rejects " #mutate);                                                   \
    T_STR_HAS(e.msg, needle, "error names the field for " #mutate);                                \
    sl_alloc_result_deinit(&r);                                                                    \
  } while (0)
  BAD(g[1].demand = -1, "groups[1] (b).demand");
  BAD(g[0].demand = NAN, "groups[0] (a).demand");
  BAD(g[1].name = "a", "duplicate name 'a'");
  BAD(g[0].name = NULL, "groups[0].name");
  BAD(g[0].out_tokens = -5, "groups[0] (a).out_tokens");
  BAD(v[0].group = 2, "variants[0] (a1).group");
  BAD(v[1].type = -1, "variants[1] (b1).type");
  BAD(v[0].gpus = 0, "variants[0] (a1).gpus");
  BAD(v[0].max_rate = INFINITY, "variants[0] (a1).max_rate");
  BAD(v[1].cost = -0.5, "variants[1] (b1).cost");
  BAD((v[0].min = 3, v[0].max = 2), "variants[0] (a1).max: 2, want min (3)");
  BAD(v[0].min = -1, "variants[0] (a1).min");
  BAD(v[1].current = -2, "variants[1] (b1).current");
  BAD(v[1].id = "a1", "variants[0] and variants[1]: duplicate name 'a1'");
  BAD(t[0].gpus = -3, "types[0] (x).gpus");
  BAD(o.transition_penalty = 1, "transition_penalty");
  BAD(o.effort = -1, "effort");
  BAD(p.nvariants = -1, "variants: -1");
#undef BAD
#undef RESET
}

// --- properties on generated instances
// ------------------------------------------------------------

static int make(sl_allocgen_t *gen, int ng, long gpus, double load, int levels, unsigned seed) {
  sl_allocgen_opts_t o;
  sl_allocgen_opts_init(&o);
  o.ngroups = ng;
  o.gpus = gpus;
  o.load = load;
  o.levels = levels;
  o.seed = seed;
  sl_err_t e;
  return sl_allocgen_make(&o, gen, &e);
}

// A copy of p with groups, variants and types in another order (indices remapped).
typedef struct {
  sl_alloc_problem_t p;
  sl_alloc_group_t *g;
  sl_alloc_variant_t *v;
  sl_alloc_type_t *t;
  int *pv; // new position of each original variant
  int *pg;
} perm_t;

static void shuffle(int *a, int n, sl_allocgen_rng_t *r) {
  for (int i = 0; i < n; i++) a[i] = i;
  for (int i = n - 1; i > 0; i--) {
    int j = ref_below(r, i + 1), x = a[i];
    a[i] = a[j];
    a[j] = x;
  }
}

static void permute(const sl_alloc_problem_t *p, perm_t *q, unsigned long long seed) {
  sl_allocgen_rng_t r = {seed};
  int *pt = calloc((size_t)p->ntypes + 1, sizeof *pt);
  q->pg = calloc((size_t)p->ngroups + 1, sizeof *q->pg);
  q->pv = calloc((size_t)p->nvariants + 1, sizeof *q->pv);
  q->g = calloc((size_t)p->ngroups + 1, sizeof *q->g);
  q->v = calloc((size_t)p->nvariants + 1, sizeof *q->v);
  q->t = calloc((size_t)p->ntypes + 1, sizeof *q->t);
  shuffle(q->pg, p->ngroups, &r);
  shuffle(q->pv, p->nvariants, &r);
  shuffle(pt, p->ntypes, &r);
  for (int i = 0; i < p->ngroups; i++) q->g[q->pg[i]] = p->groups[i];
  for (int i = 0; i < p->ntypes; i++) q->t[pt[i]] = p->types[i];
  for (int i = 0; i < p->nvariants; i++) {
    sl_alloc_variant_t v = p->variants[i];
    v.group = q->pg[v.group];
    v.type = pt[v.type];
    q->v[q->pv[i]] = v;
  }
  q->p = (sl_alloc_problem_t){q->g, p->ngroups, q->v, p->nvariants, q->t, p->ntypes};
  free(pt);
}

static void perm_free(perm_t *q) {
  free(q->g);
  free(q->v);
  free(q->t);
  free(q->pv);
  free(q->pg);
}

static int within_bounds(const sl_alloc_problem_t *p, const sl_alloc_result_t *r) {
  if (!ref_feasible(p, r->replicas)) return 0;
  for (int t = 0; t < p->ntypes; t++) { // gpus_used is whole replicas x GPUs per replica
    long u = 0;
    for (int i = 0; i < p->nvariants; i++)
      if (p->variants[i].type == t) u += (long)r->replicas[i] * p->variants[i].gpus;
    if (u != r->gpus_used[t]) return 0;
  }
  return 1;
}

static void test_generated(void) {
  struct {
    int ng;
    long gpus;
    double load;
    int levels;
  } cfg[] = {{20, 200, 0.75, 1},   {20, 200, 1.4, 1},    {60, 600, 1.2, 3},
             {100, 1000, 0.75, 1}, {100, 1000, 1.43, 1}, {40, 400, 1.0, 2}};
  int det = 0, sym = 0, bounds = 0, n = 0;
  for (unsigned c = 0; c < sizeof cfg / sizeof *cfg; c++)
    for (unsigned seed = 1; seed <= 3; seed++) {
      sl_allocgen_t gen;
      if (make(&gen, cfg[c].ng, cfg[c].gpus, cfg[c].load, cfg[c].levels, seed)) continue;
      const sl_alloc_problem_t *p = &gen.p;
      sl_err_t e;
      int rc;
      sl_alloc_result_t a = solve(p, NULL, &rc, &e), b = solve(p, NULL, &rc, &e);
      n++;
      det += !memcmp(a.replicas, b.replicas, (size_t)p->nvariants * sizeof(int)) &&
             a.objective == b.objective && a.cost_bound == b.cost_bound;
      bounds += within_bounds(p, &a);
      perm_t q;
      permute(p, &q, seed * 31 + c);
      sl_alloc_result_t pr = solve(&q.p, NULL, &rc, &e);
      int same = 1;
      for (int i = 0; i < p->nvariants; i++) same &= pr.replicas[q.pv[i]] == a.replicas[i];
      for (int g = 0; g < p->ngroups; g++) same &= pr.served[q.pg[g]] == a.served[g];
      same &= pr.objective == a.objective;
      sym += same;
      if (!same) printf("# permuted instance %u/%u allocates differently\n", c, seed);
      sl_alloc_result_deinit(&pr);
      perm_free(&q);
      sl_alloc_result_deinit(&a);
      sl_alloc_result_deinit(&b);
      sl_allocgen_deinit(&gen);
    }
  T_EQ_INT(det, n, "same input, same allocation, to the bit");
  T_EQ_INT(sym, n,
           "permuting groups, variants and types permutes the result (equal priorities "
           "treated alike)");
  T_EQ_INT(bounds, n, "min/max, whole replicas and inventory respected; gpus_used adds up");
}

// Small instances, solved exactly: permutations, and more inventory never worse at any level.
static void test_small(void) {
  int sym = 0, mono = 0, n = 0;
  for (int seed = 1; seed <= 300; seed++) {
    ref_inst_t x;
    ref_random(&x, (unsigned long long)seed + 5000, 2, 5, 1, 3, 100000);
    sl_alloc_opts_t o;
    sl_alloc_opts_init(&o);
    o.exact_budget = 100000000;
    sl_err_t e;
    int rc;
    sl_alloc_result_t a = solve(&x.p, &o, &rc, &e);
    perm_t q;
    permute(&x.p, &q, (unsigned long long)seed);
    sl_alloc_result_t pr = solve(&q.p, &o, &rc, &e);
    int same = 1;
    for (int i = 0; i < x.p.nvariants; i++) same &= pr.replicas[q.pv[i]] == a.replicas[i];
    sym += same;
    sl_alloc_result_deinit(&pr);
    perm_free(&q);
    // More GPUs of one type.
    sl_allocgen_rng_t r = {(unsigned long long)seed};
    ref_inst_t y = x;
    y.p.groups = y.g;
    y.p.variants = y.v;
    y.p.types = y.t;
    int t = ref_below(&r, y.p.ntypes);
    if (y.t[t].gpus >= 0) y.t[t].gpus += 1 + ref_below(&r, 8);
    sl_alloc_result_t b = solve(&y.p, &o, &rc, &e);
    ref_key_t ka, kb;
    ref_key(&x.p, a.replicas, o.transition_penalty, &ka);
    ref_key(&y.p, b.replicas, o.transition_penalty, &kb);
    // Level by level from the top: equal, then on to the next; strictly better, and lower
    // levels may pay for it (a higher level's whole replica can take what a lower one had, as
    // exhaustive search confirms); worse, never. The top level never gets worse.
    int ok = 1, decided = 0;
    for (int l = 0; l < ka.nl && !decided; l++) {
      for (int i = 0; i < ka.cnt[l]; i++) {
        double d = kb.frac[l][i] - ka.frac[l][i];
        if (d > 1e-9 || d < -1e-9) {
          ok = d > 0;
          decided = 1;
          break;
        }
      }
    }
    mono += ok;
    if (!ok) printf("# seed %d: more inventory made a level worse\n", seed);
    n++;
    sl_alloc_result_deinit(&a);
    sl_alloc_result_deinit(&b);
  }
  T_EQ_INT(sym, n, "small instances: permuting the input permutes the exact result");
  T_EQ_INT(mono, n,
           "more inventory never makes the sorted served fractions worse at the top "
           "level, nor at a lower level unless a higher one gained");
}

// --- memory
// ----------------------------------------------------------------------------------------

typedef struct {
  long live, calls, fail_at;
} counter_t;

static void *counting(void *ud, void *ptr, size_t osize, size_t nsize) {
  counter_t *c = ud;
  if (nsize == 0) {
    if (ptr) c->live -= (long)osize;
    free(ptr);
    return NULL;
  }
  if (c->fail_at && ++c->calls >= c->fail_at) return NULL;
  void *q = realloc(ptr, nsize);
  if (q) c->live += (long)nsize - (ptr ? (long)osize : 0);
  return q;
}

static void test_memory(void) {
  sl_allocgen_t gen;
  make(&gen, 30, 300, 1.2, 2, 7);
  sl_alloc_opts_t o;
  sl_alloc_opts_init(&o);
  counter_t c = {0, 0, 0};
  o.alloc = counting;
  o.alloc_ud = &c;
  sl_err_t e;
  sl_alloc_result_t r;
  int rc = sl_alloc_solve(&gen.p, &o, &r, &e);
  T_EQ_INT(rc, 0, "custom allocator: solves");
  T_OK(c.live > 0, "custom allocator: the result is held in its memory");
  sl_alloc_result_deinit(&r);
  T_EQ_INT(c.live, 0, "custom allocator: every byte returned after deinit");
  int enomem = 0, clean = 0;
  for (long k = 1; k <= 40; k++) { // fail the k-th allocation
    counter_t f = {0, 0, k};
    o.alloc_ud = &f;
    rc = sl_alloc_solve(&gen.p, &o, &r, &e);
    enomem += rc == SL_ENOMEM;
    sl_alloc_result_deinit(&r);
    clean += f.live == 0;
  }
  T_OK(enomem > 0, "allocation failures surface as SL_ENOMEM (%d of 40)", enomem);
  T_EQ_INT(clean, 40, "nothing leaks when an allocation fails");
  sl_allocgen_deinit(&gen);
}

int main(void) {
  test_cases();
  test_validation();
  test_generated();
  test_small();
  test_memory();
  return tap_done();
}
