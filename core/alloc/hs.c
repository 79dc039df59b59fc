#include "core/alloc/hs.h"

#include <math.h>
#include <string.h>

#include "core/alloc/group.h"

double sl_hs_best_response(sl_hs_t *h, int g, const long *av, int *nb) {
  sl_inst_t *in = h->in;
  double mc = sl_knap_maxcap(in, &h->kn, g, av);
  if (mc < 0) return -1;
  double need = mc < in->dem[g] ? mc : in->dem[g];
  double c = sl_knap_mincost(in, &h->kn, g, av, 1.0, NULL, need, nb);
  if (!isfinite(c)) return -1;
  return sl_group_capof(in, g, nb);
}

int sl_hs_init(sl_inst_t *in, sl_hs_t *h) {
  memset(h, 0, sizeof *h);
  h->in = in;
  h->rng = 0x5eed ^ ((unsigned long long)in->ng << 32) ^ (unsigned long long)in->nv;
  if (sl_knap_init(in, &h->kn) || sl_sol_init(in, &h->s) || sl_sol_init(in, &h->best) ||
      sl_sol_init(in, &h->keep))
    return SL_ENOMEM;
  for (int i = 0; i < SL_HS_NSTART; i++)
    if (sl_sol_init(in, &h->starts[i])) return SL_ENOMEM;
  size_t ng = (size_t)in->ng, nv = (size_t)in->nv, nt = (size_t)(in->nt ? in->nt : 1);
  h->req = sl_inst_calloc(in, ng, sizeof *h->req);
  h->av = sl_inst_calloc(in, nt, sizeof *h->av);
  h->nb = sl_inst_calloc(in, nv, sizeof *h->nb);
  h->nb2 = sl_inst_calloc(in, nv, sizeof *h->nb2);
  h->mu = sl_inst_calloc(in, nt, sizeof *h->mu);
  h->mu2 = sl_inst_calloc(in, nt, sizeof *h->mu2);
  h->mu3 = sl_inst_calloc(in, nt, sizeof *h->mu3);
  h->fu = sl_inst_calloc(in, nt, sizeof *h->fu);
  h->sg = sl_inst_calloc(in, nt, sizeof *h->sg);
  h->ord = sl_inst_calloc(in, ng, sizeof *h->ord);
  h->key = sl_inst_calloc(in, ng, sizeof *h->key);
  h->heap = sl_inst_calloc(in, ng, sizeof *h->heap);
  h->xgain = sl_inst_calloc(in, ng * SL_HS_XCHG_MAXQ, sizeof *h->xgain);
  h->xloss = sl_inst_calloc(in, ng * SL_HS_XCHG_MAXQ, sizeof *h->xloss);
  h->xextra = sl_inst_calloc(in, ng * SL_HS_XCHG_MAXQ, sizeof *h->xextra);
  h->xpick = sl_inst_calloc(in, ng * (SL_HS_XCHG_MAXQ * 2 + 1), sizeof *h->xpick);
  h->xdp = sl_inst_calloc(in, SL_HS_XCHG_MAXQ * 2 + 2, sizeof *h->xdp);
  h->sbeg = sl_inst_calloc(in, ng + 1, sizeof *h->sbeg);
  h->sp = sl_inst_calloc(in, nv, sizeof *h->sp);
  h->sr = sl_inst_calloc(in, nv, sizeof *h->sr);
  h->st = sl_inst_calloc(in, nv, sizeof *h->st);
  h->su = sl_inst_calloc(in, nv, sizeof *h->su);
  h->base = sl_inst_calloc(in, ng, sizeof *h->base);
  h->grow = sl_inst_calloc(in, ng, sizeof *h->grow);
  h->trow = sl_inst_calloc(in, nt, sizeof *h->trow);
  h->nstar = sl_inst_calloc(in, nv, sizeof *h->nstar);
  h->maxk = sl_inst_calloc(in, nt, sizeof *h->maxk);
  h->cov_need = sl_inst_calloc(in, ng, sizeof *h->cov_need);
  h->cov_mu = sl_inst_calloc(in, nt, sizeof *h->cov_mu);
  h->cov_lp = -INFINITY;
  h->tneed = sl_inst_calloc(in, ng, sizeof *h->tneed);
  if (in->oom) return SL_ENOMEM;
  for (int v = 0; v < in->nv; v++)
    if (in->gpus[v] > h->maxk[in->type[v]] && in->hi[v] > in->lo[v] && in->rate[v] > 0)
      h->maxk[in->type[v]] = in->gpus[v];
  int rows = in->ng + in->nt, cols = 2 * in->nv + rows + 1;
  if (rows <= SL_LP_MAX_ROWS) {
    h->colv = sl_inst_calloc(in, (size_t)cols, sizeof *h->colv);
    if (sl_lp_init(in, &h->lp, rows, cols, 4 * in->nv + 2 * rows + in->ng + 8)) return SL_ENOMEM;
    h->lp_ready = 1;
  }
  return in->oom ? SL_ENOMEM : SL_OK;
}

void sl_hs_set_req(sl_hs_t *h, const sl_sol_t *s) {
  sl_inst_t *in = h->in;
  for (int g = 0; g < in->ng; g++) h->req[g] = s->capg[g] >= in->dem[g] ? in->dem[g] : s->capg[g];
}

unsigned long long sl_hs_rand(sl_hs_t *h) {
  unsigned long long z = (h->rng += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

int sl_hs_rand_below(sl_hs_t *h, int n) {
  return (int)(sl_hs_rand(h) % (unsigned long long)n);
}
