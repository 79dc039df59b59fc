#include "core/alloc/group.h"

double sl_group_cost(const sl_inst_t *in, const sl_sol_t *s, int g) {
  double c = 0;
  for (int v = in->vb[g]; v < in->ve[g]; v++) c += sl_inst_vcost(in, v, s->n[v]);
  return c;
}

void sl_group_avail(const sl_inst_t *in, const sl_sol_t *s, int g, long *av) {
  for (int v = in->vb[g]; v < in->ve[g]; v++)
    av[in->type[v]] = in->cap[in->type[v]] - s->use[in->type[v]];
  for (int v = in->vb[g]; v < in->ve[g]; v++) av[in->type[v]] += (long)s->n[v] * in->gpus[v];
}

double sl_group_capof(const sl_inst_t *in, int g, const int *n) {
  double c = 0;
  for (int v = in->vb[g]; v < in->ve[g]; v++) c += n[v] * in->rate[v];
  return c;
}

double sl_group_costof(const sl_inst_t *in, int g, const int *n) {
  double c = 0;
  for (int v = in->vb[g]; v < in->ve[g]; v++) c += sl_inst_vcost(in, v, n[v]);
  return c;
}

void sl_group_apply(const sl_inst_t *in, sl_sol_t *s, int g, const int *n) {
  for (int v = in->vb[g]; v < in->ve[g]; v++) sl_sol_set(in, s, v, n[v]);
}

long sl_group_use_t(const sl_inst_t *in, const sl_sol_t *s, int g, int t) {
  long u = 0;
  for (int v = in->vb[g]; v < in->ve[g]; v++)
    if (in->type[v] == t) u += (long)s->n[v] * in->gpus[v];
  return u;
}

int sl_group_has_t(const sl_inst_t *in, int g, int t) {
  for (int v = in->vb[g]; v < in->ve[g]; v++)
    if (in->type[v] == t && in->rate[v] > 0 && in->hi[v] > in->lo[v]) return 1;
  return 0;
}

static double heap_key(const sl_inst_t *in, const sl_sol_t *s, int g) {
  return sl_inst_frac(in, g, s->capg[g]);
}

int sl_group_less(const sl_inst_t *in, const sl_sol_t *s, int a, int b) {
  double ka = heap_key(in, s, a), kb = heap_key(in, s, b);
  return ka < kb || (ka == kb && a < b);
}
