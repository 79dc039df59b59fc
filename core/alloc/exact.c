// Exact search for small allocator instances.
//
// Depth-first over groups (highest priority first); at each group every allocation of its
// variants that fits is tried, except those with a replica that could be removed while the group
// stays fully served (never better). A node is pruned when an optimistic completion cannot beat
// the incumbent: every unplaced group gets the most capacity it could reach alone in what is
// left, at the least cost of reaching it. That completion bounds every real one in the
// objective order: served fractions are each no higher, so the sorted vectors of a level are
// no higher; and if they are equal, every group reaches exactly its optimistic capacity, which
// costs at least the sum of the individual least costs.
#include "core/alloc/exact.h"

#include <math.h>
#include <string.h>

#include "core/alloc/knap.h"

typedef struct {
  sl_inst_t *in;
  sl_knap_t kn;
  sl_sol_t cur;
  sl_sol_t *best;
  int *order;   // groups in search order
  double *ubc;  // optimistic capacities
  int *nb;      // scratch replicas
  long *av;
  long stop;    // in->work limit
  int aborted;
} ex_t;

static void group_avail(const sl_inst_t *in, const sl_sol_t *s, int g, long *av) {
  for (int v = in->vb[g]; v < in->ve[g]; v++)
    av[in->type[v]] = in->cap[in->type[v]] - s->use[in->type[v]];
  for (int v = in->vb[g]; v < in->ve[g]; v++) av[in->type[v]] += (long)s->n[v] * in->gpus[v];
}

// 1 if the node at depth i (groups order[i..] still at their minimums) may lead to a better
// allocation than the incumbent.
static int promising(ex_t *e, int i) {
  sl_inst_t *in = e->in;
  sl_sol_t *s = &e->cur;
  memcpy(e->ubc, s->capg, (size_t)in->ng * sizeof *e->ubc);
  double cost = s->cost;
  for (int k = i; k < in->ng; k++) {
    int g = e->order[k];
    group_avail(in, s, g, e->av);
    double mc = sl_knap_maxcap(in, &e->kn, g, e->av);
    if (mc < 0) return 0;
    double need = mc < in->dem[g] ? mc : in->dem[g];
    double c = sl_knap_mincost(in, &e->kn, g, e->av, 1.0, NULL, need, e->nb);
    if (!isfinite(c)) return 0;
    double at_min = 0;
    for (int v = in->vb[g]; v < in->ve[g]; v++) at_min += sl_inst_vcost(in, v, s->n[v]);
    cost += c - at_min;
    e->ubc[g] = mc;
  }
  return sl_inst_cmp_delta(in, in->ng, in->gall, e->best->capg, e->ubc, cost - e->best->cost) > 0;
}

static void dfs(ex_t *e, int i);

// Enumerates the allocations of group g's variants from v on, then goes one group deeper.
static void options(ex_t *e, int i, int g, int v) {
  sl_inst_t *in = e->in;
  sl_sol_t *s = &e->cur;
  if (e->aborted) return;
  if (v == in->ve[g]) {
    // Skip when a replica could go and the group would still be fully served.
    for (int w = in->vb[g]; w < in->ve[g]; w++)
      if (s->n[w] > in->lo[w] && in->rate[w] > 0 &&
          sl_inst_frac(in, g, s->capg[g] - in->rate[w]) >= 1 - SL_INST_FEPS)
        return;
    dfs(e, i + 1);
    return;
  }
  int t = in->type[v], lo = in->lo[v];
  long room = in->cap[t] - s->use[t];
  long most = lo + room / in->gpus[v];
  if (most > in->hi[v]) most = in->hi[v];
  if (in->rate[v] <= 0) most = lo;  // extra replicas that serve nothing only cost
  for (long n = most; n >= lo && !e->aborted; n--) {
    sl_sol_set(in, s, v, (int)n);
    options(e, i, g, v + 1);
  }
  sl_sol_set(in, s, v, lo);
}

static void dfs(ex_t *e, int i) {
  sl_inst_t *in = e->in;
  if (++in->work > e->stop) {
    e->aborted = 1;
    return;
  }
  if (i == in->ng) {
    if (sl_inst_cmp(in, &e->cur, e->best) > 0) sl_sol_copy(in, e->best, &e->cur);
    return;
  }
  if (!promising(e, i)) return;
  int g = e->order[i];
  options(e, i, g, in->vb[g]);
}

int sl_exact_solve(sl_inst_t *in, sl_sol_t *best, long budget, int *proven) {
  ex_t e;
  memset(&e, 0, sizeof e);
  e.in = in;
  e.best = best;
  *proven = 0;
  if (sl_knap_init(in, &e.kn) || sl_sol_init(in, &e.cur)) return SL_ENOMEM;
  e.order = sl_inst_calloc(in, (size_t)in->ng, sizeof *e.order);
  e.ubc = sl_inst_calloc(in, (size_t)in->ng, sizeof *e.ubc);
  e.nb = sl_inst_calloc(in, (size_t)in->nv, sizeof *e.nb);
  e.av = sl_inst_calloc(in, (size_t)(in->nt ? in->nt : 1), sizeof *e.av);
  if (in->oom) return SL_ENOMEM;
  // Highest priority first, so the bound on the levels that decide most is tight early.
  int m = 0;
  for (int l = 0; l < in->nl; l++)
    for (int g = 0; g < in->ng; g++)
      if (in->lvl[g] == l) e.order[m++] = g;
  e.stop = in->work + budget;
  dfs(&e, 0);
  *proven = !e.aborted;
  return SL_OK;
}
