// The simulator's session: options, the rate scale (--peak-replicas), the warm start and the
// clairvoyant reference. See sim.h; one run's world is in world.c.
#include "core/sim/sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/sim/trace.h"

void sl_sim_opts_init(sl_sim_opts_t *o) {
  memset(o, 0, sizeof *o);
  o->seed = 1;
  o->rate_scale = 1;
  o->time_scale = 1;
  o->bin_s = 60;
}

// ---- traces ---------------------------------------------------------------------------------

const char *sl_sim_model_trace(const sl_sim_opts_t *o, int m) {
  const char *t = o->cluster->models[m].trace;
  return t ? t : o->trace;
}

void sl_sim_trace_opts(const sl_sim_opts_t *o, int m, double rate_scale, sl_trace_opts_t *to) {
  sl_trace_opts_init(to);
  // Each model draws its own stream, so two models on the same generator are not copies.
  to->seed = o->seed + 0x9e3779b97f4a7c15ULL * (uint64_t)m;
  to->rate_scale = rate_scale * o->cluster->models[m].rate_scale;
  to->time_scale = o->time_scale;
  to->duration = o->duration > 0 ? o->duration / o->time_scale : 0;
  to->model = (uint16_t)m;
  to->tokens = o->tokens;
}

void sl_sim_result_deinit(sl_sim_result_t *r) {
  sl_record_deinit(&r->rec);
}

// ---- the session ------------------------------------------------------------------------------

static int init_warm(sl_sim_t *s, const sl_clair_bins_t *b, sl_err_t *err) {
  const sl_cluster_t *cl = s->o.cluster;
  int nm = cl->nmodels, nv = cl->cfg.nvariants;
  size_t n = (size_t)(nm > 0 ? nm : 1);
  sl_clair_mix_t *mix = calloc(n, sizeof *mix);
  int rc = SL_OK;
  if (!mix) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  for (int m = 0; m < nm; m++) sl_clair_bin_mix(b, 0, m, &mix[m]);
  rc = sl_clair_place(&s->clair, mix, s->warm, err);
  if (rc > 0) rc = SL_OK;
  for (int v = 0; v < nv && rc == 0; v++)
    if (s->warm[v] < cl->cfg.variants[v].min) s->warm[v] = cl->cfg.variants[v].min;
done:
  free(mix);
  return rc;
}

// Demand of the first bin, read from the head of each trace.
static int first_bin(sl_sim_t *s, sl_clair_bins_t *b, sl_err_t *err) {
  const sl_sim_opts_t *o = &s->o;
  int rc = sl_clair_bins_init(b, o->bin_s, o->cluster->nmodels, 1);
  if (rc < 0) return sl_err(err, rc, "out of memory");
  b->end = o->bin_s;
  for (int m = 0; m < o->cluster->nmodels; m++) {
    sl_trace_opts_t to;
    sl_sim_trace_opts(o, m, s->rate_scale, &to);
    sl_trace_t *t;
    if ((rc = sl_trace_open(sl_sim_model_trace(o, m), &to, &t, err)) < 0) return rc;
    sl_req_t r;
    while ((rc = sl_trace_next(t, &r, err)) > 0 && r.t < o->bin_s)
      sl_clair_bins_add(b, 0, m, r.in_tokens, r.out_tokens);
    sl_trace_free(t);
    if (rc < 0) return rc;
  }
  return SL_OK;
}

// --peak-replicas: the rate scale at which the busiest bin needs that many replicas of each
// model's cheapest variant; the warm start uses the scaled expectation of the first bin.
static int peak_scale(sl_sim_t *s, sl_clair_bins_t *first, sl_err_t *err) {
  const sl_sim_opts_t *o = &s->o;
  const sl_cluster_t *cl = o->cluster;
  int nm = cl->nmodels, rc = SL_OK;
  sl_trace_bins_t *tb = calloc((size_t)nm, sizeof *tb);
  int *cheap = calloc((size_t)nm, sizeof *cheap);
  if (!tb || !cheap) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  size_t nb = 0;
  for (int m = 0; m < nm; m++) {
    sl_trace_opts_t to;
    sl_sim_trace_opts(o, m, 1, &to);
    if ((rc = sl_trace_bins(sl_sim_model_trace(o, m), &to, o->bin_s, &tb[m], err)) < 0) goto done;
    if (tb[m].n > nb) nb = tb[m].n;
    s->est_end = fmax(s->est_end, tb[m].last_t);
    cheap[m] = -1;
    for (int v = 0; v < cl->cfg.nvariants; v++)
      if (cl->vx[v].model == m &&
          (cheap[m] < 0 || cl->cfg.variants[v].cost < cl->cfg.variants[cheap[m]].cost))
        cheap[m] = v;
  }
  if (o->duration > 0) s->est_end = o->duration;
  double peak = 0;
  for (size_t i = 0; i < nb; i++) {
    double need = 0;
    for (int m = 0; m < nm; m++) {
      if (i >= tb[m].n || !tb[m].count[i]) continue;
      double n = (double)tb[m].count[i], r;
      double len = o->bin_s;
      if (i == tb[m].n - 1 && tb[m].last_t < (double)(i + 1) * o->bin_s && o->duration <= 0)
        len = fmax(tb[m].last_t - (double)i * o->bin_s, 1);
      sl_clair_mix_t mix = {.in = (double)tb[m].in_tokens[i] / n,
                            .out = (double)tb[m].out_tokens[i] / n};
      double vi = tb[m].in_sq[i] / n - mix.in * mix.in;
      double vo = tb[m].out_sq[i] / n - mix.out * mix.out;
      mix.in_cv = n > 1 && vi > 0 ? sqrt(vi) / mix.in : 0;
      mix.out_cv = n > 1 && vo > 0 ? sqrt(vo) / mix.out : 0;
      if ((rc = sl_clair_rate(&s->clair, cheap[m], &mix, &r, err)) < 0) goto done;
      need += n / len / r;
    }
    if (need > peak) peak = need;
  }
  if (!(peak > 0)) {
    rc = sl_err(err, SL_EINVAL, "--peak-replicas: the trace has no requests to scale");
    goto done;
  }
  s->rate_scale = o->peak_replicas / peak;
  if ((rc = sl_clair_bins_init(first, o->bin_s, nm, 1)) < 0) {
    rc = sl_err(err, rc, "out of memory");
    goto done;
  }
  first->end = o->bin_s;
  for (int m = 0; m < nm; m++) {
    if (!tb[m].n) continue;
    double k = s->rate_scale * cl->models[m].rate_scale;
    first->count[m] = (double)tb[m].count[0] * k;
    first->in_sum[m] = (double)tb[m].in_tokens[0] * k;
    first->out_sum[m] = (double)tb[m].out_tokens[0] * k;
    first->in_sq[m] = tb[m].in_sq[0] * k;
    first->out_sq[m] = tb[m].out_sq[0] * k;
  }
done:
  for (int m = 0; tb && m < nm; m++) sl_trace_bins_deinit(&tb[m]);
  free(tb);
  free(cheap);
  return rc;
}

int sl_sim_init(sl_sim_t *s, const sl_sim_opts_t *o, sl_err_t *err) {
  memset(s, 0, sizeof *s);
  s->o = *o;
  const sl_cluster_t *cl = o->cluster;
  if (!cl) return sl_err(err, SL_EINVAL, "no cluster");
  if (cl->cfg.nvariants > 64 || cl->nmodels > 64)
    return sl_err(err, SL_EINVAL, "the simulator takes at most 64 variants and 64 models");
  for (int m = 0; m < cl->nmodels; m++)
    if (!sl_sim_model_trace(o, m))
      return sl_err(err, SL_EINVAL, "model '%s' has no trace: give --trace or models[%d].trace",
                    cl->models[m].name, m);
  if (!(o->bin_s > 0)) return sl_err(err, SL_EINVAL, "bin_s must be > 0");
  if (!(o->time_scale > 0)) return sl_err(err, SL_EINVAL, "--time-scale must be > 0");
  if (!(o->rate_scale >= 0)) return sl_err(err, SL_EINVAL, "--rate-scale must be >= 0");
  if (o->tokens) {
    sl_trace_tokens_t tk;
    int rc = sl_trace_tokens_parse(o->tokens, &tk, err);
    if (rc < 0) return rc;
  }
  s->rate_scale = o->rate_scale;
  s->est_end = o->duration;
  s->warm = calloc((size_t)cl->cfg.nvariants, sizeof *s->warm);
  if (!s->warm) return sl_err(err, SL_ENOMEM, "out of memory");
  sl_clair_init(&s->clair, cl, o->slo_percentile);
  sl_clair_bins_t first = {0};
  int rc = o->peak_replicas > 0 ? peak_scale(s, &first, err) : first_bin(s, &first, err);
  if (rc == 0) rc = init_warm(s, &first, err);
  sl_clair_bins_deinit(&first);
  if (rc < 0) sl_sim_deinit(s);
  return rc;
}

void sl_sim_deinit(sl_sim_t *s) {
  free(s->warm);
  sl_clair_deinit(&s->clair);
  sl_clair_bins_deinit(&s->bins);
  memset(s, 0, sizeof *s);
}

int sl_sim_clairvoyant(sl_sim_t *s, sl_clair_result_t *out, sl_err_t *err) {
  if (!s->have_bins) return sl_err(err, SL_ESTATE, "the clairvoyant needs a run first");
  return sl_clair_run(&s->clair, &s->bins, out, err);
}

double sl_sim_rate(const sl_sim_t *s) {
  return s->total_wall > 0 ? (double)s->total_requests / s->total_wall : 0;
}
