// The REPL's commands. See cmds.h; docs/repl.md shows what each prints.
#include "core/repl/cmds.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/repl/eval.h"
#include "core/scrape/prom.h"
#include "core/scrape/scraper.h"
#include "core/state/clock.h"
#include "core/state/signals.h"
#include "core/util/file.h"
#include "core/util/log.h"

static void outf(sl_json_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(sl_json_buf_t *b, const char *fmt, ...) {
  char tmp[2048];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0) sl_json_buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static const char *when(double t, char *buf, size_t n) {
  sl_clock_format(t, buf, n);
  return buf;
}

// A replica request as the vote sees it: a number, no opinion, or a failed run.
static const char *request_str(int r, char *buf, size_t n) {
  if (r == SL_VOTE_FAILED) return "failed";
  if (r < 0) return "-";
  snprintf(buf, n, "%d", r);
  return buf;
}

static const char *num_str(double x, char *buf, size_t n) {
  if (isnan(x)) return "-";
  snprintf(buf, n, "%.4g", x);
  return buf;
}

static int find_variant(const sl_config_t *cfg, const char *id) {
  for (int i = 0; i < cfg->nvariants; i++)
    if (!strcmp(cfg->variants[i].id, id)) return i;
  return -1;
}

static int no_such_variant(const sl_config_t *cfg, const char *id, sl_err_t *err) {
  char list[512] = "";
  size_t o = 0;
  for (int i = 0; i < cfg->nvariants && o + 4 < sizeof list; i++)
    o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", cfg->variants[i].id);
  return sl_err(err, SL_ENOTFOUND, "no variant '%s' (variants: %s)", id, list);
}

// "scaled 2 -> 3", "held at 2", "would scale 2 -> 3" (dry run, no actuator, failed actuation).
static void outcome_str(const sl_repl_last_t *l, char *buf, size_t n) {
  if (l->actuated)
    snprintf(buf, n, "scaled %d -> %d", l->current, l->target);
  else if (l->change)
    snprintf(buf, n, "would scale %d -> %d", l->current, l->target);
  else
    snprintf(buf, n, "held at %d", l->current);
}

// ---- help ---------------------------------------------------------------------------------------

static int cmd_help(sl_json_buf_t *out) {
  outf(out,
       "commands:\n"
       "  variants                each variant: replicas, key signals, the last decision and who "
       "made it\n"
       "  explain VARIANT         what decided it last tick: the signals seen, the policy's "
       "inputs,\n"
       "                          the vote and the guard's adjustment\n"
       "  dry-run FILE            run a policy file once on the live view, beside the running "
       "policy;\n"
       "                          nothing is actuated\n"
       "  reload                  re-read the policy files now\n"
       "  set POLICY.PARAM VALUE  change a parameter of a running policy (checked like "
       "sluice.yaml)\n"
       "  pause, resume           stop and restart actuation (every variant holds while paused)\n"
       "  errors                  recent load and run failures of the policies\n"
       "  targets                 where the metrics come from: each scrape target's health, or\n"
       "                          the Prometheus source's\n"
       "  help                    this text\n"
       "anything else is Lua, in a sandboxed VM of its own per line (an expression's value is "
       "shown):\n"
       "  view                    the live view (docs/view.md), read-only, every variant\n"
       "  policies                per policy: name, file, version, runs, params, state (copies)\n"
       "  decisions               decisions[variant][policy]: replicas, reason, inputs\n"
       "  outcomes                outcomes[variant]: what the guard did last\n"
       "  controller              ticks, paused, dry_run, interval\n"
       "  = EXPR                  shows EXPR, also when it starts with a command's name\n");
  return SL_OK;
}

// ---- variants -----------------------------------------------------------------------------------

static void policy_name(const sl_controller_t *c, int k, char *buf, size_t n) {
  if (k < 0)
    snprintf(buf, n, "no single policy");
  else
    sl_repl_eval_key(c, k, buf, n);
}

static int cmd_variants(sl_controller_t *c, sl_repl_record_t *rec, sl_json_buf_t *out,
                        sl_err_t *err) {
  const sl_view_t *v = &c->pipeline.view;
  const sl_config_t *cfg = c->o.cfg;
  char t[32], a[32], b[32], d[32], e[32];
  if (!sl_controller_ticks(c))
    return sl_err(err, SL_ESTATE, "no view yet: the controller has not ticked");
  outf(out, "tick %llu at %s%s%s; %d variants\n", (unsigned long long)sl_controller_ticks(c),
       when(v->time, t, sizeof t), sl_controller_paused(c) ? "; actuation PAUSED" : "",
       cfg->guard.dry_run ? "; dry run" : "", v->nvariants);
  for (int i = 0; i < v->nvariants; i++) {
    const sl_view_variant_t *vv = &v->variants[i];
    const sl_view_model_t *m =
        vv->model >= 0 && vv->model < v->nmodels ? &v->models[vv->model] : NULL;
    outf(out,
         "%s  replicas %d (ready %d, starting %d, pending %d)  running %s  waiting %s  "
         "kv_usage %s  arrival %s req/s%s\n",
         vv->desc->id, vv->spec, vv->ready, vv->starting, vv->pending,
         num_str(vv->sig[SL_V_RUNNING], a, sizeof a), num_str(vv->sig[SL_V_WAITING], b, sizeof b),
         num_str(vv->sig[SL_V_KV_USAGE], d, sizeof d),
         num_str(m ? m->sig[SL_G_ARRIVAL_RATE] : NAN, e, sizeof e), vv->stale ? "  STALE" : "");
    const sl_repl_last_t *l = sl_repl_record_last(rec, find_variant(cfg, vv->desc->id));
    if (!l) {
      outf(out, "  last: no decision yet\n");
      continue;
    }
    char what[64], who[192];
    outcome_str(l, what, sizeof what);
    policy_name(c, l->winner, who, sizeof who);
    outf(out, "  last: %s %s by %s: %s\n", when(l->at, t, sizeof t), what, who, l->reason);
    for (int k = 0; k < l->nballots; k++) {
      const sl_repl_ballot_t *bl = &l->ballots[k];
      if (!bl->shadow) continue;
      char key[192], r[32];
      sl_repl_eval_key(c, bl->decider, key, sizeof key);
      outf(out, "  shadow %s: wants %s: %s\n", key, request_str(bl->requested, r, sizeof r),
           bl->requested == -1 && !bl->reason[0] ? "(no opinion)" : bl->reason);
    }
  }
  return SL_OK;
}

// ---- explain ------------------------------------------------------------------------------------

static void signals_line(sl_json_buf_t *out, const char *label, const double *sig, int n,
                         const char *(*name)(int)) {
  outf(out, "  %-9s", label);
  int any = 0;
  for (int i = 0; i < n; i++) {
    if (isnan(sig[i])) continue;
    char x[32];
    outf(out, "%s%s %s", any ? ", " : " ", name(i), num_str(sig[i], x, sizeof x));
    any = 1;
  }
  outf(out, "%s\n", any ? "" : " none");
}

static const char *vname(int i) {
  return sl_signals_variant_name((sl_vsig_t)i);
}
static const char *gname(int i) {
  return sl_signals_gateway_name((sl_gsig_t)i);
}

// The inputs JSON as "name = value" lines.
static void inputs_lines(sl_json_buf_t *out, const char *inputs) {
  sl_err_t jerr;
  sl_json_t *j = inputs[0] ? sl_json_parse(inputs, strlen(inputs), NULL, &jerr) : NULL;
  if (!j || j->type != SL_JSON_OBJECT || !j->n) {
    outf(out, "  %s\n", j && j->type == SL_JSON_OBJECT ? "none" : inputs[0] ? inputs : "none");
    sl_json_free(j);
    return;
  }
  for (size_t i = 0; i < j->n; i++) {
    const sl_json_t *x = j->items[i];
    char v[160];
    if (x->type == SL_JSON_STRING)
      snprintf(v, sizeof v, "\"%s\"", x->str);
    else if (x->type == SL_JSON_BOOL)
      snprintf(v, sizeof v, "%s", x->b ? "true" : "false");
    else if (x->type == SL_JSON_NUMBER)
      snprintf(v, sizeof v, "%.6g", x->num);
    else
      snprintf(v, sizeof v, "nil");
    outf(out, "  %s = %s\n", j->keys[i], v);
  }
  sl_json_free(j);
}

static int cmd_explain(sl_controller_t *c, sl_repl_record_t *rec, const char *id,
                       sl_json_buf_t *out, sl_err_t *err) {
  const sl_config_t *cfg = c->o.cfg;
  if (!*id) return sl_err(err, SL_EINVAL, "usage: explain VARIANT");
  int ci = find_variant(cfg, id);
  if (ci < 0) return no_such_variant(cfg, id, err);
  const sl_repl_last_t *l = sl_repl_record_last(rec, ci);
  if (!l) return sl_err(err, SL_ESTATE, "%s has had no decision yet", id);
  const sl_variant_t *vd = &cfg->variants[ci];
  char t[32], who[192], r[32];
  outf(out, "%s (model %s) at %s, tick %llu\n", id, vd->model ? vd->model : "-",
       when(l->at, t, sizeof t), (unsigned long long)l->tick);
  policy_name(c, l->winner, who, sizeof who);
  int si = sl_repl_eval_slot(c, l->winner);
  sl_slot_info_t info;
  if (si >= 0 && sl_host_slot_info(&c->host, si, &info) == 0)
    outf(out, "decided by: %s (%s, version %d)\n", who, info.path, info.version);
  else
    outf(out, "decided by: %s\n", who);
  outf(out, "what it saw:\n");
  char age[32];
  outf(out, "  replicas  spec %d, ready %d, starting %d, pending %d; freshest sample %s s old%s\n",
       l->spec, l->ready, l->starting, l->pending,
       isinf(l->age) ? "(none)" : num_str(l->age, age, sizeof age), l->stale ? " (STALE)" : "");
  signals_line(out, "signals", l->sig, SL_V__COUNT, vname);
  if (l->have_model) {
    char label[160];
    snprintf(label, sizeof label, "gateway");
    signals_line(out, label, l->gsig, SL_G__COUNT, gname);
  }
  outf(out, "what it reported (inputs):\n");
  inputs_lines(out, l->inputs);
  int shadows = 0;
  outf(out, "the vote:\n");
  for (int pass = 0; pass < 2; pass++)
    for (int b = 0, any = 0; b < l->nballots; b++) {
      const sl_repl_ballot_t *bl = &l->ballots[b];
      if (bl->shadow != pass) continue;
      if (pass && !any) outf(out, "shadows (decided, not voting):\n");
      any = 1;
      shadows += pass;
      char key[192];
      sl_repl_eval_key(c, bl->decider, key, sizeof key);
      outf(out, "  %s %-16s wants %-6s %s\n", bl->won ? "*" : " ", key,
           request_str(bl->requested, r, sizeof r),
           bl->requested == -1 && !bl->reason[0] ? "(no opinion)" : bl->reason);
    }
  if (l->nballots == shadows) outf(out, "  no voter ran this tick\n");
  char what[64], req[32];
  outcome_str(l, what, sizeof what);
  outf(out, "the guard:\n  requested %s, current %d -> target %d%s: %s\n  %s\n",
       request_str(l->requested, req, sizeof req), l->current, l->target,
       l->held                                          ? " (held)"
       : l->requested >= 0 && l->target != l->requested ? " (adjusted)"
                                                        : "",
       l->reason, what);
  return SL_OK;
}

// ---- dry-run ------------------------------------------------------------------------------------

static int decider_of_slot(const sl_controller_t *c, int si) {
  for (int k = 0; k < c->pipeline.ndeciders; k++)
    if (sl_repl_eval_slot(c, k) == si) return k;
  return -1;
}

static int cmd_dry_run(sl_controller_t *c, sl_repl_record_t *rec, const char *file, const char *cwd,
                       sl_json_buf_t *out, sl_err_t *err) {
  if (!*file) return sl_err(err, SL_EINVAL, "usage: dry-run FILE");
  if (!c->have_host) return sl_err(err, SL_ESTATE, "this controller runs no policies");
  char path[4096];
  if (file[0] != '/' && cwd && *cwd)
    snprintf(path, sizeof path, "%s/%s", cwd, file);
  else
    snprintf(path, sizeof path, "%s", file);
  char *src = NULL;
  size_t len = 0;
  int rc = sl_file_read(path, SL_POLICY_MAX_BYTES, SL_FILE_REGULAR, &src, &len, err);
  if (rc < 0) return rc;
  const sl_pipeline_t *p = &c->pipeline;
  sl_decision_t *dec = calloc(p->view.nvariants ? (size_t)p->view.nvariants : 1, sizeof *dec);
  if (!dec) {
    free(src);
    return sl_err(err, SL_ENOMEM, "out of memory");
  }
  sl_host_dry_t res;
  rc = sl_host_dry_run(&c->host, src, len, path, dec, &res, err);
  free(src);
  if (rc < 0) {
    free(dec);
    return rc;
  }
  int k = res.slot >= 0 ? decider_of_slot(c, res.slot) : -1;
  char key[192] = "";
  if (k >= 0) sl_repl_eval_key(c, k, key, sizeof key);
  if (k >= 0)
    outf(out, "dry-run %s: policy '%s' as %s, with its params and %s; nothing is actuated\n", file,
         res.name, key, res.fresh_state ? "a fresh state" : "a copy of its state");
  else
    outf(out,
         "dry-run %s: policy '%s' matches no running policy: every variant, its default "
         "params, a fresh state; nothing is actuated\n",
         file, res.name);
  if (res.note[0]) outf(out, "  (%s)\n", res.note);
  int shown = 0;
  for (int vi = 0; vi < p->view.nvariants; vi++) {
    const sl_decision_t *run = k >= 0 ? sl_pipeline_decision(p, k, vi, NULL) : NULL;
    const sl_repl_last_t *l =
        k < 0 ? sl_repl_record_last(rec, find_variant(c->o.cfg, p->view.variants[vi].desc->id))
              : NULL;
    int rreq = run ? run->requested : l ? l->requested : -1;
    const char *rwhy =
        run ? (run->requested == SL_VOTE_FAILED ? p->deciders[k]->last_error : run->reason)
        : l ? l->reason
            : "";
    if (dec[vi].requested < 0 && rreq == -1) continue;
    char a[32], b[32];
    outf(out, "%s\n  running  %-6s %s\n  dry-run  %-6s %s%s\n", p->view.variants[vi].desc->id,
         request_str(rreq, a, sizeof a), rreq == -1 && !*rwhy ? "(no opinion)" : rwhy,
         request_str(dec[vi].requested, b, sizeof b),
         dec[vi].requested < 0 && !dec[vi].reason[0] ? "(no opinion)" : dec[vi].reason,
         dec[vi].requested != rreq ? "   <- differs" : "");
    shown++;
  }
  if (!shown) outf(out, "no decisions from either\n");
  free(dec);
  return SL_OK;
}

// ---- reload, set, pause, resume, errors ---------------------------------------------------------

static void event_line(sl_json_buf_t *out, const sl_repl_event_t *e, int first_line_only) {
  char t[32], t2[32];
  int n = (int)strlen(e->msg);
  const char *nl = first_line_only ? strchr(e->msg, '\n') : NULL;
  if (nl) n = (int)(nl - e->msg);
  outf(out, "%s  %s: %s (version %d)", when(e->first, t, sizeof t), e->file,
       sl_decider_event_name(e->kind), e->version);
  if (e->count > 1) outf(out, ", %u times until %s", e->count, when(e->last, t2, sizeof t2));
  outf(out, "%s%.*s\n", n ? ": " : "", n, e->msg);
}

static int cmd_reload(sl_controller_t *c, sl_repl_record_t *rec, sl_json_buf_t *out,
                      sl_err_t *err) {
  if (!c->have_host) return sl_err(err, SL_ESTATE, "this controller runs no policies");
  uint64_t before = rec->seq;
  int n = sl_host_check_files(&c->host);
  int failed = 0;
  for (int i = 0; sl_repl_record_event(rec, i); i++) {
    const sl_repl_event_t *e = sl_repl_record_event(rec, i);
    if (e->seq <= before) continue;
    event_line(out, e, 0);
    failed |= e->kind == SL_DECIDER_REJECTED;
  }
  if (n == 0) outf(out, "no policy file changed since it was last read\n");
  if (failed)
    return sl_err(err, SL_EINVAL, "a changed policy was rejected; the running version stays");
  return SL_OK;
}

// The decider `arg` ("POLICY.PARAM") names: the longest policy key or file that is a prefix.
static int split_param(const sl_controller_t *c, const char *arg, const char **param) {
  int best = -1;
  size_t best_len = 0;
  for (int k = 0; k < c->pipeline.ndeciders; k++) {
    char cand[3][256];
    int nc = 0;
    sl_repl_eval_key(c, k, cand[nc++], sizeof cand[0]);
    sl_slot_info_t info;
    int si = sl_repl_eval_slot(c, k);
    if (si >= 0 && sl_host_slot_info(&c->host, si, &info) == 0) {
      snprintf(cand[nc++], sizeof cand[0], "%s", info.file);
      size_t fl = strlen(info.file);
      if (fl > 4 && !strcmp(info.file + fl - 4, ".lua"))
        snprintf(cand[nc++], sizeof cand[0], "%.*s", (int)(fl - 4), info.file);
    }
    for (int j = 0; j < nc; j++) {
      size_t l = strlen(cand[j]);
      if (l > best_len && !strncmp(arg, cand[j], l) && arg[l] == '.') best = k, best_len = l;
    }
  }
  if (best >= 0) *param = arg + best_len + 1;
  return best;
}

static int cmd_set(sl_controller_t *c, const char *args, sl_json_buf_t *out, sl_err_t *err) {
  char target[512];
  const char *sp = args;
  while (*sp && !isspace((unsigned char)*sp)) sp++;
  snprintf(target, sizeof target, "%.*s", (int)(sp - args), args);
  while (isspace((unsigned char)*sp)) sp++;
  if (!target[0] || !*sp) return sl_err(err, SL_EINVAL, "usage: set POLICY.PARAM VALUE");
  const char *param = NULL;
  int k = split_param(c, target, &param);
  if (k < 0 || !*param) {
    char list[512] = "", key[192];
    size_t o = 0;
    for (int j = 0; j < c->pipeline.ndeciders && o + 4 < sizeof list; j++) {
      sl_repl_eval_key(c, j, key, sizeof key);
      o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", j ? ", " : "", key);
    }
    return sl_err(err, SL_ENOTFOUND, "'%s' is not POLICY.PARAM of a running policy (policies: %s)",
                  target, list);
  }
  int si = sl_repl_eval_slot(c, k);
  if (si < 0)
    return sl_err(err, SL_EINVAL, "%s is not a Lua policy", c->pipeline.deciders[k]->name);
  int rc = sl_host_set_param(&c->host, si, param, sp, err);
  char key[192];
  sl_repl_eval_key(c, k, key, sizeof key);
  if (rc < 0) return sl_err_wrap(err, "set %s.%s refused", key, param);
  sl_info("repl: policy %s: params.%s set to %s", key, param, sp);
  outf(out,
       "%s: params.%s = %s from the next tick (a reload of the policy goes back to its "
       "configured params)\n",
       key, param, sp);
  return SL_OK;
}

static int cmd_pause(sl_controller_t *c, int on, sl_json_buf_t *out) {
  if (sl_controller_paused(c) == on) {
    outf(out, "actuation is already %s\n", on ? "paused" : "running");
    return SL_OK;
  }
  sl_controller_set_paused(c, on);
  if (on) {
    sl_warn("repl: actuation paused: every variant holds until resumed");
    outf(out, "actuation paused: from the next tick every variant holds until `resume`\n");
  } else {
    sl_warn("repl: actuation resumed");
    outf(out, "actuation resumed from the next tick\n");
  }
  return SL_OK;
}

static int cmd_errors(sl_repl_record_t *rec, sl_json_buf_t *out) {
  int n = 0;
  for (int i = 0; sl_repl_record_event(rec, i); i++) {
    const sl_repl_event_t *e = sl_repl_record_event(rec, i);
    if (sl_repl_record_class(e->kind) == SL_REPL_EV_OTHER) continue;
    event_line(out, e, 1);
    n++;
  }
  if (!n) outf(out, "no load or run failures recorded\n");
  return SL_OK;
}

// ---- targets ------------------------------------------------------------------------------------

static int by_kind_pod(const void *a, const void *b) {
  const sl_scrape_info_t *x = a, *y = b;
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  const char *p = x->kind == SL_SCRAPE_POD ? x->pod : x->model;
  const char *q = y->kind == SL_SCRAPE_POD ? y->pod : y->model;
  int c = strcmp(p ? p : "", q ? q : "");
  return c ? c : strcmp(x->url, y->url);
}

static int cmd_targets(const sl_repl_record_t *rec, sl_json_buf_t *out) {
  if (rec->prom) {
    sl_prom_stats_t ps;
    sl_prom_stats(rec->prom, &ps);
    outf(out,
         "prometheus: %s, %ld polls (%ld failed), %ld queries (%ld failed), %ld series "
         "(%ld on no known pod), last poll %.0f ms%s%s\n",
         ps.up ? "up" : "DOWN", ps.polls, ps.polls_failed, ps.queries, ps.queries_failed, ps.series,
         ps.series_unmatched, ps.last_duration_s * 1e3, ps.last_error[0] ? ": " : "",
         ps.last_error);
  }
  if (!rec->scraper) {
    if (!rec->prom) outf(out, "no scraping here: targets are cluster mode's (sluice run)\n");
    return SL_OK;
  }
  sl_scraper_stats_t st;
  sl_scraper_stats(rec->scraper, &st);
  outf(out,
       "%zu targets: %zu up, %zu down, %zu pending; %llu scrapes, %llu failed, %llu rejected, "
       "%llu slots skipped\n",
       st.targets, st.up, st.down, st.pending, (unsigned long long)st.scrapes,
       (unsigned long long)st.failures, (unsigned long long)st.rejected,
       (unsigned long long)st.skipped);
  size_t n = sl_scraper_count(rec->scraper);
  sl_scrape_info_t *t = n ? calloc(n, sizeof *t) : NULL;
  if (n && !t) return SL_ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (sl_scraper_target_at(rec->scraper, i, &t[k]) == 0) k++;
  qsort(t, k, sizeof *t, by_kind_pod);
  sl_clock_t real;
  sl_clock_init_real(&real);
  double now = sl_clock_now(&real);
  for (size_t i = 0; i < k; i++) {
    const sl_scrape_info_t *x = &t[i];
    char age[32] = "never";
    if (isfinite(x->last_success)) snprintf(age, sizeof age, "%.1f s ago", now - x->last_success);
    const char *state = !x->done ? "pending" : x->up ? "up" : "DOWN";
    if (x->kind == SL_SCRAPE_POD)
      outf(out, "  pod %s (%s)", x->pod ? x->pod : "?", x->variant ? x->variant : "?");
    else
      outf(out, "  gateway %s", x->model ? x->model : "?");
    outf(out, ": %s, last page %s, %.1f ms, %zu samples; %llu scrapes, %llu failed", state, age,
         x->last_duration_s * 1e3, x->last_samples, (unsigned long long)x->scrapes,
         (unsigned long long)x->failures);
    if (!x->up && x->done)
      outf(out, " (%d in a row, next try in %.1f s): %s", x->consecutive_failures, x->backoff_s,
           x->last_error && *x->last_error ? x->last_error : "?");
    outf(out, "\n");
  }
  free(t);
  return SL_OK;
}

// ---- dispatch -----------------------------------------------------------------------------------

static const char *const COMMANDS[] = {"help",  "variants", "explain", "dry-run", "reload", "set",
                                       "pause", "resume",   "errors",  "targets", NULL};
static const char *const GLOBALS[] = {"view",     "policies",   "decisions",
                                      "outcomes", "controller", NULL};

int sl_repl_cmds_run(sl_controller_t *c, sl_repl_record_t *rec, const char *line, size_t len,
                     const char *cwd, sl_json_buf_t *out, sl_err_t *err) {
  size_t i = 0;
  while (i < len && isspace((unsigned char)line[i])) i++;
  if (i == len) return SL_OK;
  if (line[i] == '=') { // "= expr": Lua, whatever word follows
    i++;
    return sl_repl_eval_run(c, rec, line + i, len - i, out, err);
  }
  size_t w = i;
  while (w < len && !isspace((unsigned char)line[w])) w++;
  char word[16];
  int cmd = -1;
  if (w - i < sizeof word) {
    memcpy(word, line + i, w - i);
    word[w - i] = '\0';
    for (int k = 0; COMMANDS[k]; k++)
      if (!strcmp(COMMANDS[k], word)) cmd = k;
  }
  if (cmd < 0) return sl_repl_eval_run(c, rec, line, len, out, err);
  // The argument: the rest of the line, trimmed.
  char arg[SL_ERR_MAX];
  size_t a = w, e = len;
  while (a < e && isspace((unsigned char)line[a])) a++;
  while (e > a && isspace((unsigned char)line[e - 1])) e--;
  if (e - a >= sizeof arg) return sl_err(err, SL_EINVAL, "%s: argument too long", word);
  memcpy(arg, line + a, e - a);
  arg[e - a] = '\0';
  int takes_arg = !strcmp(word, "explain") || !strcmp(word, "dry-run") || !strcmp(word, "set");
  if (!takes_arg && arg[0]) return sl_err(err, SL_EINVAL, "%s takes no argument", word);
  switch (cmd) {
  case 0:
    return cmd_help(out);
  case 1:
    return cmd_variants(c, rec, out, err);
  case 2:
    return cmd_explain(c, rec, arg, out, err);
  case 3:
    return cmd_dry_run(c, rec, arg, cwd, out, err);
  case 4:
    return cmd_reload(c, rec, out, err);
  case 5:
    return cmd_set(c, arg, out, err);
  case 6:
    return cmd_pause(c, 1, out);
  case 7:
    return cmd_pause(c, 0, out);
  case 8:
    return cmd_errors(rec, out);
  default:
    return cmd_targets(rec, out);
  }
}

// ---- completion ---------------------------------------------------------------------------------

#define MAX_MATCHES 256

typedef struct {
  char **m;
  size_t n;
  const char *word;
  size_t wl;
  int failed;
} matches_t;

static void offer(matches_t *ms, const char *cand, const char *suffix) {
  if (ms->failed || ms->n >= MAX_MATCHES || strncmp(cand, ms->word, ms->wl)) return;
  char *s = malloc(strlen(cand) + strlen(suffix) + 1);
  if (!s) {
    ms->failed = 1;
    return;
  }
  strcpy(s, cand);
  strcat(s, suffix);
  for (size_t i = 0; i < ms->n; i++)
    if (!strcmp(ms->m[i], s)) {
      free(s);
      return;
    }
  ms->m[ms->n++] = s;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int sl_repl_cmds_complete(const sl_controller_t *c, const char *text, char ***matches, size_t *n) {
  *matches = NULL;
  *n = 0;
  size_t tl = strlen(text), ws = tl;
  while (ws > 0 && !strchr(SL_REPL_WORD_BREAKS, text[ws - 1])) ws--;
  matches_t ms = {calloc(MAX_MATCHES, sizeof(char *)), 0, text + ws, tl - ws, 0};
  if (!ms.m) return SL_ENOMEM;
  size_t f = 0;
  while (f < ws && isspace((unsigned char)text[f])) f++;
  size_t fe = f;
  while (fe < tl && !isspace((unsigned char)text[fe])) fe++;
  const sl_config_t *cfg = c->o.cfg;
  char key[192];
  if (f == ws) { // the first word: a command, or the start of a Lua line
    for (int k = 0; COMMANDS[k]; k++) offer(&ms, COMMANDS[k], "");
    for (int k = 0; GLOBALS[k]; k++) offer(&ms, GLOBALS[k], "");
  } else if (fe - f == 7 && !strncmp(text + f, "explain", 7)) {
    for (int i = 0; i < cfg->nvariants; i++) offer(&ms, cfg->variants[i].id, "");
  } else if (fe - f == 3 && !strncmp(text + f, "set", 3)) {
    for (int k = 0; k < c->pipeline.ndeciders; k++) {
      sl_repl_eval_key(c, k, key, sizeof key);
      offer(&ms, key, ".");
    }
  } else { // inside Lua: the names a line is likely to need
    for (int i = 0; i < cfg->nvariants; i++) {
      offer(&ms, cfg->variants[i].id, "");
      if (cfg->variants[i].model) offer(&ms, cfg->variants[i].model, "");
    }
    for (int k = 0; k < c->pipeline.ndeciders; k++) {
      sl_repl_eval_key(c, k, key, sizeof key);
      offer(&ms, key, "");
    }
    for (int k = 0; GLOBALS[k]; k++) offer(&ms, GLOBALS[k], "");
  }
  if (ms.failed) {
    sl_repl_cmds_free_matches(ms.m, ms.n);
    return SL_ENOMEM;
  }
  qsort(ms.m, ms.n, sizeof *ms.m, cmp_str);
  *matches = ms.m;
  *n = ms.n;
  return SL_OK;
}

void sl_repl_cmds_free_matches(char **matches, size_t n) {
  for (size_t i = 0; i < n; i++) free(matches[i]);
  free(matches);
}
