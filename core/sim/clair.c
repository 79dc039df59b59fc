// Clairvoyant reference. See clair.h.
#include "core/sim/clair.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/perf.h"
#include "core/model/queue.h"

int sl_clair_bins_init(sl_clair_bins_t *b, double bin_s, int nmodels, size_t n) {
  memset(b, 0, sizeof *b);
  b->bin_s = bin_s;
  b->nmodels = nmodels;
  return n ? sl_clair_bins_reserve(b, n - 1) : SL_OK;
}

int sl_clair_bins_reserve(sl_clair_bins_t *b, size_t i) {
  if (i < b->n) return SL_OK;
  size_t n = b->n ? b->n : 64;
  while (n <= i) n *= 2;
  size_t per = (size_t)b->nmodels;
  double **arr[5] = {&b->count, &b->in_sum, &b->out_sum, &b->in_sq, &b->out_sq};
  for (int k = 0; k < 5; k++) {
    double *p = realloc(*arr[k], sizeof *p * n * per);
    if (!p) return SL_ENOMEM;
    memset(p + b->n * per, 0, sizeof *p * (n - b->n) * per);
    *arr[k] = p;
  }
  b->n = n;
  return SL_OK;
}

void sl_clair_bins_deinit(sl_clair_bins_t *b) {
  free(b->count), free(b->in_sum), free(b->out_sum), free(b->in_sq), free(b->out_sq);
  memset(b, 0, sizeof *b);
}

void sl_clair_bins_add(sl_clair_bins_t *b, size_t i, int m, double in, double out) {
  size_t k = i * (size_t)b->nmodels + (size_t)m;
  b->count[k] += 1;
  b->in_sum[k] += in;
  b->out_sum[k] += out;
  b->in_sq[k] += in * in;
  b->out_sq[k] += out * out;
}

double sl_clair_bins_len(const sl_clair_bins_t *b, size_t i) {
  double start = (double)i * b->bin_s;
  double len = b->bin_s;
  if (b->end > start && b->end < start + b->bin_s) len = b->end - start;
  return len;
}

// Coefficient of variation from a count, a sum and a sum of squares.
static double cv(double n, double sum, double sq) {
  if (!(n > 1 && sum > 0)) return 0;
  double mean = sum / n, var = sq / n - mean * mean;
  return var > 0 ? sqrt(var) / mean : 0;
}

void sl_clair_bin_mix(const sl_clair_bins_t *b, size_t i, int m, sl_clair_mix_t *mix) {
  size_t k = i * (size_t)b->nmodels + (size_t)m;
  double n = i < b->n ? b->count[k] : 0;
  memset(mix, 0, sizeof *mix);
  mix->rate = n / sl_clair_bins_len(b, i);
  if (n > 0) {
    mix->in = b->in_sum[k] / n;
    mix->out = b->out_sum[k] / n;
    mix->in_cv = cv(n, b->in_sum[k], b->in_sq[k]);
    mix->out_cv = cv(n, b->out_sum[k], b->out_sq[k]);
  }
}

int sl_clair_init(sl_clair_t *c, const sl_cluster_t *cl, double percentile) {
  memset(c, 0, sizeof *c);
  c->cl = cl;
  c->percentile = percentile;
  sl_map_init(&c->memo);
  return SL_OK;
}

void sl_clair_deinit(sl_clair_t *c) {
  for (size_t i = 0; i < c->memo.n_entries; i++)
    if (c->memo.entries[i].key) free(c->memo.entries[i].value);
  sl_map_deinit(&c->memo);
}

// Token means within 1% and spreads within 0.05 share one kernel evaluation.
static long quant(double x) {
  return lround(log(x < 1 ? 1 : x) / log(1.01));
}
#define CV_STEP 0.05

int sl_clair_rate(sl_clair_t *c, int v, const sl_clair_mix_t *mix, double *rate, sl_err_t *err) {
  long qi = quant(mix->in), qo = quant(mix->out);
  long ci = lround(mix->in_cv / CV_STEP), co = lround(mix->out_cv / CV_STEP);
  char key[96];
  snprintf(key, sizeof key, "%d/%ld/%ld/%ld/%ld", v, qi, qo, ci, co);
  double *hit = sl_map_get(&c->memo, key);
  if (hit) {
    *rate = *hit;
    return SL_OK;
  }
  const sl_variant_t *d = &c->cl->cfg.variants[v];
  const sl_replica_cfg_t *e = &c->cl->vx[v].engine;
  double in = pow(1.01, (double)qi), out = pow(1.01, (double)qo);
  if (out < 1) out = 1;
  sl_perf_t p;
  sl_perf_from_step(&e->step, &p);
  // The engine as the simulated server runs it: its seats, the KV cache (which may hold fewer
  // requests than that) and the per-step token budget.
  sl_shape_t shape = {.max_batch = e->max_num_seqs,
                      .max_queue = -1,
                      .in_tokens = in,
                      .out_tokens = out,
                      .in_cv = ci * CV_STEP,
                      .out_cv = co * CV_STEP,
                      .max_batched_tokens = e->max_num_batched_tokens,
                      .kv_tokens = e->kv_capacity};
  sl_queue_t *q = sl_queue_new(&p, &shape, err);
  if (!q) return err ? err->code : SL_ENOMEM;
  sl_slo_t slo = {0, 0, c->percentile};
  if (d->slo) {
    // A long-context class's allowance, at the mix's mean prompt.
    if (isfinite(d->slo->ttft_ms)) slo.ttft_ms = sl_slo_ttft_ms(d->slo, in);
    if (isfinite(d->slo->itl_ms)) slo.itl_ms = d->slo->itl_ms;
  }
  sl_err_t e2;
  double r = 0;
  int rc = sl_queue_max_rate(q, &slo, &r, NULL, &e2);
  if (rc == SL_ERANGE) r = sl_queue_rate_limit(q), rc = SL_OK;
  sl_queue_free(q);
  if (rc < 0) return sl_err(err, rc, "%s: %s", d->id, e2.msg);
  double *val = malloc(sizeof *val);
  if (!val) return sl_err(err, SL_ENOMEM, "out of memory");
  *val = r;
  if (sl_map_put(&c->memo, key, val) < 0) {
    free(val);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  *rate = r;
  return SL_OK;
}

typedef struct {
  int v, acc; // variant, index into the inventory (-1: unlimited)
  double rate, ratio;
} cand_t;

static int cmp_cand(const void *a, const void *b) {
  const cand_t *x = a, *y = b;
  if (x->ratio != y->ratio) return x->ratio < y->ratio ? -1 : 1;
  return x->v - y->v;
}

#define MAXN 64

// Placement state of one bin: free GPUs per accelerator type (-1 = unlimited) and replicas so far.
typedef struct {
  const sl_config_t *cfg;
  int free_gpus[MAXN];
  int *replicas;
} place_t;

// More replicas of a candidate that fit the inventory and the variant's max.
static int room(const place_t *s, const cand_t *c) {
  const sl_variant_t *d = &s->cfg->variants[c->v];
  int fit = c->acc >= 0 && s->free_gpus[c->acc] >= 0 ? s->free_gpus[c->acc] / d->gpus_per_replica
                                                     : 1 << 30;
  int left = d->max - s->replicas[c->v];
  return fit < left ? fit : left;
}

static double take(place_t *s, const cand_t *c, int n) {
  s->replicas[c->v] += n;
  if (c->acc >= 0 && s->free_gpus[c->acc] >= 0)
    s->free_gpus[c->acc] -= n * s->cfg->variants[c->v].gpus_per_replica;
  return n * c->rate;
}

int sl_clair_place(sl_clair_t *c, const sl_clair_mix_t *mix, int *replicas, sl_err_t *err) {
  const sl_cluster_t *cl = c->cl;
  const sl_config_t *cfg = &cl->cfg;
  int nv = cfg->nvariants, nm = cl->nmodels < MAXN ? cl->nmodels : MAXN, shortfall = 0;
  int na = cfg->naccels < MAXN ? cfg->naccels : MAXN;
  place_t s = {cfg, {0}, replicas};
  for (int a = 0; a < na; a++)
    s.free_gpus[a] = cfg->accels[a].count > 0 ? cfg->accels[a].count : -1;
  memset(replicas, 0, sizeof *replicas * (size_t)nv);
  // Models in priority order (their variants' highest), then as listed.
  int order[MAXN], prio[MAXN];
  for (int m = 0; m < nm; m++) {
    order[m] = m;
    prio[m] = -2147483647;
    for (int v = 0; v < nv; v++)
      if (cl->vx[v].model == m && cfg->variants[v].priority > prio[m])
        prio[m] = cfg->variants[v].priority;
  }
  for (int i = 1; i < nm; i++)
    for (int k = i; k > 0 && prio[order[k]] > prio[order[k - 1]]; k--) {
      int t = order[k];
      order[k] = order[k - 1];
      order[k - 1] = t;
    }
  cand_t cands[MAXN];
  for (int oi = 0; oi < nm; oi++) {
    int m = order[oi];
    if (!(mix[m].rate > 0)) continue;
    int nc = 0;
    for (int v = 0; v < nv && nc < MAXN; v++) {
      if (cl->vx[v].model != m || cfg->variants[v].max == 0) continue;
      double r;
      int rc = sl_clair_rate(c, v, &mix[m], &r, err);
      if (rc < 0) return rc;
      if (!(r > 0)) continue;
      int acc = -1;
      for (int a = 0; a < na; a++)
        if (!strcmp(cfg->accels[a].type, cfg->variants[v].accelerator)) acc = a;
      cands[nc++] = (cand_t){v, acc, r, cfg->variants[v].cost / r};
    }
    qsort(cands, (size_t)nc, sizeof *cands, cmp_cand);
    double rem = mix[m].rate;
    // Whole replicas of the cheapest per unit of capacity first...
    for (int k = 0; k < nc && rem > 1e-9; k++) {
      int want = (int)floor(rem / cands[k].rate + 1e-9), r = room(&s, &cands[k]);
      if (want > r) want = r;
      if (want > 0) rem -= take(&s, &cands[k], want);
    }
    // ... then the remainder on the cheapest single replica that covers it, else on the best
    // ratio that still has room.
    while (rem > 1e-9) {
      int best = -1;
      for (int k = 0; k < nc; k++)
        if (room(&s, &cands[k]) > 0 && cands[k].rate >= rem - 1e-9 &&
            (best < 0 || cfg->variants[cands[k].v].cost < cfg->variants[cands[best].v].cost))
          best = k;
      for (int k = 0; k < nc && best < 0; k++)
        if (room(&s, &cands[k]) > 0) best = k;
      if (best < 0) {
        shortfall = 1;
        break;
      }
      rem -= take(&s, &cands[best], 1);
    }
  }
  return shortfall;
}

int sl_clair_run(sl_clair_t *c, const sl_clair_bins_t *b, sl_clair_result_t *out, sl_err_t *err) {
  memset(out, 0, sizeof *out);
  const sl_cluster_t *cl = c->cl;
  int nv = cl->cfg.nvariants, nm = cl->nmodels;
  size_t nb = b->bin_s > 0 ? (size_t)ceil(b->end / b->bin_s - 1e-9) : 0;
  if (nb > b->n) nb = b->n;
  out->nbins = nb;
  out->replicas = calloc(nb ? nb : 1, sizeof *out->replicas);
  sl_clair_mix_t *mix = calloc((size_t)nm + 1, sizeof *mix);
  int *rep = calloc((size_t)nv, sizeof *rep);
  int rc = SL_OK;
  if (!out->replicas || !mix || !rep) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t i = 0; i < nb; i++) {
    for (int m = 0; m < nm; m++) sl_clair_bin_mix(b, i, m, &mix[m]);
    int s = sl_clair_place(c, mix, rep, err);
    if (s < 0) {
      rc = s;
      goto done;
    }
    out->short_bins += (size_t)s;
    double hours = sl_clair_bins_len(b, i) / 3600.0;
    int total = 0;
    for (int v = 0; v < nv; v++) {
      total += rep[v];
      out->gpu_hours += rep[v] * cl->cfg.variants[v].gpus_per_replica * hours;
      out->cost += rep[v] * cl->cfg.variants[v].cost * hours;
    }
    out->replicas[i] = total;
    if (total > out->peak_replicas) out->peak_replicas = total;
  }
done:
  free(mix), free(rep);
  if (rc < 0) sl_clair_result_deinit(out);
  return rc;
}

void sl_clair_result_deinit(sl_clair_result_t *r) {
  free(r->replicas);
  memset(r, 0, sizeof *r);
}
