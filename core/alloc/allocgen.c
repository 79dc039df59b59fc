// Seeded random allocator instances.
#include "core/alloc/allocgen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned long long sl_allocgen_next(sl_allocgen_rng_t *r) {
  unsigned long long z = (r->s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double sl_allocgen_uniform(sl_allocgen_rng_t *r) {
  return (double)(sl_allocgen_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

// Per GPU: memory, decode speed relative to an H100, list cost in cents per hour (WVA's sample
// costs where it has them). Cost per unit of speed spans about 2.4x.
static const struct {
  const char *name;
  double mem_gb, speed, cost;
} catalogue[] = {
    {"L4", 24, 0.14, 18},      {"L40S", 48, 0.40, 32},  {"Gaudi2", 96, 0.55, 23},
    {"A100-80", 80, 0.60, 40}, {"H100", 80, 1.00, 100}, {"MI300X", 192, 1.05, 65},
};

// Model sizes: weights in GB, req/s of one replica on one H100-equivalent, and how common.
static const struct {
  const char *name;
  double weights_gb, rate, weight;
} models[] = {
    {"1b", 2.5, 90, 0.10}, {"3b", 6.5, 55, 0.15}, {"8b", 16, 30, 0.30},     {"13b", 26, 18, 0.10},
    {"34b", 68, 8, 0.10},  {"70b", 140, 4, 0.20}, {"405b", 405, 0.9, 0.05},
};

void sl_allocgen_opts_init(sl_allocgen_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->ngroups = 20;
  o->ntypes = 6;
  o->gpus = 200;
  o->load = 0.65;
  o->levels = 1;
  o->current = 0.5;
  o->min_one = 0.2;
  o->seed = 1;
}

void sl_allocgen_deinit(sl_allocgen_t *g) {
  free(g->groups);
  free(g->variants);
  free(g->types);
  free(g->names);
  memset(g, 0, sizeof *g);
}

static double jitter(sl_allocgen_rng_t *r, double spread) {
  return 1.0 + spread * (2 * sl_allocgen_uniform(r) - 1);
}

// Inventory: every group's demand placed on its most GPU-efficient variant (whole replicas)
// gives the GPUs each type needs; load <= 1 gives each type at least that (so everything can be
// served) and spreads the rest in whole 8-GPU nodes at random; load > 1 gives each type that
// need / load (everything is short by about 1 - 1/load).
int sl_allocgen_make(const sl_allocgen_opts_t *o, sl_allocgen_t *out, sl_err_t *err) {
  memset(out, 0, sizeof *out);
  int ng = o->ngroups, nt = o->ntypes;
  if (ng < 1 || nt < 1 || nt > 6 || o->gpus < nt || !(o->load > 0) || o->levels < 1)
    return sl_err(err, SL_EINVAL, "allocgen: bad options");
  sl_allocgen_rng_t r = {o->seed * 0x2545f4914f6cdd1dULL + 7};
  out->groups = calloc((size_t)ng, sizeof *out->groups);
  out->variants = calloc((size_t)ng * nt + 1, sizeof *out->variants);
  out->types = calloc((size_t)nt, sizeof *out->types);
  out->names = calloc((size_t)(ng * (nt + 1) + nt), 32);
  double *speed = calloc((size_t)nt, sizeof *speed), *ucost = calloc((size_t)nt, sizeof *ucost);
  double *reps = calloc((size_t)ng, sizeof *reps);
  int *ref = calloc((size_t)ng, sizeof *ref);
  long *need = calloc((size_t)nt, sizeof *need);
  if (!out->groups || !out->variants || !out->types || !out->names || !speed || !ucost || !reps ||
      !ref || !need) {
    free(speed);
    free(ucost);
    free(reps);
    free(ref);
    free(need);
    sl_allocgen_deinit(out);
    return sl_err(err, SL_ENOMEM, "allocgen: out of memory");
  }
  char *nm = out->names;
  for (int t = 0; t < nt; t++) {
    snprintf(nm, 32, "%s", catalogue[t].name);
    out->types[t].name = nm;
    nm += 32;
    speed[t] = catalogue[t].speed * jitter(&r, 0.1);
    ucost[t] = catalogue[t].cost * jitter(&r, 0.1);
  }
  // Groups and their variants; demand in replicas of the most GPU-efficient variant.
  int nv = 0;
  double total = 0;
  for (int g = 0; g < ng; g++) {
    double u = sl_allocgen_uniform(&r), acc = 0;
    int m;
    for (m = 0; m < 6; m++) {
      acc += models[m].weight;
      if (u < acc) break;
    }
    sl_alloc_group_t *gr = &out->groups[g];
    snprintf(nm, 32, "g%03d-%s", g, models[m].name);
    gr->name = nm;
    nm += 32;
    gr->in_tokens = 1000;
    gr->out_tokens = 200;
    gr->priority = 100 * (1 + (int)(sl_allocgen_uniform(&r) * o->levels));
    gr->slo_class = "standard";
    int first = nv;
    for (int t = 0; t < nt; t++) {
      int k = 1;
      while (k <= 8 && k * catalogue[t].mem_gb < 1.25 * models[m].weights_gb) k *= 2;
      int offered = sl_allocgen_uniform(&r) >= 0.15; // not every type is offered
      if (k > 8 || (!offered && nv > first)) continue;
      sl_alloc_variant_t *v = &out->variants[nv++];
      snprintf(nm, 32, "%s-%s", gr->name, catalogue[t].name);
      v->id = nm;
      nm += 32;
      v->group = g;
      v->type = t;
      v->gpus = k;
      v->max_rate = models[m].rate * speed[t] * pow(k, 0.85) * jitter(&r, 0.1);
      v->cost = ucost[t] * k;
    }
    if (nv == first) { // no offered type has the memory: the roomiest one, 8 GPUs
      sl_alloc_variant_t *v = &out->variants[nv++];
      int t = nt - 1;
      snprintf(nm, 32, "%s-%s", gr->name, catalogue[t].name);
      v->id = nm;
      nm += 32;
      v->group = g;
      v->type = t;
      v->gpus = 8;
      v->max_rate = models[m].rate * speed[t] * pow(8, 0.85) * jitter(&r, 0.1);
      v->cost = ucost[t] * 8;
    }
    ref[g] = first;
    for (int i = first; i < nv; i++) {
      const sl_alloc_variant_t *a = &out->variants[i], *b = &out->variants[ref[g]];
      if (a->max_rate / a->gpus > b->max_rate / b->gpus) ref[g] = i;
    }
    reps[g] = 0.5 * pow(32.0, sl_allocgen_uniform(&r));
    total += reps[g] * out->variants[ref[g]].gpus;
  }
  // Scale demand to the load; whole replicas on the reference variants give each type's need.
  double want = (o->load <= 1 ? o->load : 1.0) * (double)o->gpus, z = want / total;
  long sum = 0;
  for (int tries = 0; tries < 200; tries++, z *= 0.98) {
    memset(need, 0, (size_t)nt * sizeof *need);
    sum = 0;
    for (int g = 0; g < ng; g++) {
      const sl_alloc_variant_t *v = &out->variants[ref[g]];
      long k = (long)ceil(reps[g] * z - 1e-9) * v->gpus;
      need[v->type] += k;
      sum += k;
    }
    if (sum <= want || o->load > 1) break;
  }
  for (int g = 0; g < ng; g++) {
    const sl_alloc_variant_t *v = &out->variants[ref[g]];
    out->groups[g].demand = reps[g] * z * v->max_rate;
  }
  if (o->load <= 1) {
    // At least the need, in whole nodes while the total allows; the rest in nodes at random.
    long given = 0;
    for (int t = 0; t < nt; t++) given += (out->types[t].gpus = need[t]);
    for (int t = 0; t < nt; t++) {
      long up = (need[t] + 7) / 8 * 8 - need[t];
      if (given + up <= o->gpus) {
        out->types[t].gpus += up;
        given += up;
      }
    }
    while (given + 8 <= o->gpus) {
      out->types[(int)(sl_allocgen_uniform(&r) * nt)].gpus += 8;
      given += 8;
    }
    out->types[(int)(sl_allocgen_uniform(&r) * nt)].gpus += o->gpus - given;
  } else {
    long given = 0;
    for (int t = 0; t < nt; t++) given += (out->types[t].gpus = (long)floor(need[t] / o->load));
    (void)given;
  }
  for (int i = 0; i < nv; i++) {
    sl_alloc_variant_t *v = &out->variants[i];
    double d = out->groups[v->group].demand;
    int mx = (int)ceil(2.5 * d / v->max_rate) + 2;
    v->max = mx > 64 ? 64 : mx;
  }
  // Minimums (one warm replica, on the reference variant when it needs two or more) and
  // current replicas (on one variant, sized for demand give or take 30%).
  for (int g = 0; g < ng; g++) {
    int vb = -1, cnt = 0;
    for (int i = 0; i < nv; i++)
      if (out->variants[i].group == g) {
        if (vb < 0) vb = i;
        cnt++;
      }
    sl_alloc_variant_t *rv = &out->variants[ref[g]];
    if (sl_allocgen_uniform(&r) < o->min_one && out->groups[g].demand >= 2 * rv->max_rate)
      rv->min = 1;
    if (sl_allocgen_uniform(&r) < o->current) {
      sl_alloc_variant_t *v = &out->variants[vb + (int)(sl_allocgen_uniform(&r) * cnt)];
      double d = out->groups[g].demand * (0.7 + 0.6 * sl_allocgen_uniform(&r));
      int c = (int)ceil(d / v->max_rate);
      v->current = c > v->max ? v->max : c;
    }
  }
  free(speed);
  free(ucost);
  free(reps);
  free(ref);
  free(need);
  out->p.groups = out->groups;
  out->p.ngroups = ng;
  out->p.variants = out->variants;
  out->p.nvariants = nv;
  out->p.types = out->types;
  out->p.ntypes = nt;
  return SL_OK;
}
