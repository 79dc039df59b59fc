// Telemetry. See telemetry.h.
#include "core/runtime/telemetry.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/serve/http.h"
#include "core/util/log.h"
#include "core/util/map.h"

#define TICK_NB 12
static const double tick_bounds[TICK_NB] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,   0.25,   0.5,   1,    2.5,   5};

typedef struct {
  char *id, *ns, *name, *accel, *policy;
  int desired, current; // -1 before the first outcome
  long up, down, holds, actuation_errors;
} var_t;

enum { FK_ERROR, FK_BUDGET, FK_TIME, FK_MEMORY, FK_MALFORMED, FK_STATE, FK__N };
static const char *const fk_names[FK__N] = {"error",  "budget",    "time",
                                            "memory", "malformed", "state"};

typedef struct {
  char *file;
  long failures[FK__N];
  long reloaded, rejected, restored;
} pol_t;

typedef struct {
  char *variant, *ns, *name, *policy;
  int wants, current; // wants -1: no opinion or failed at its last run
} shadow_t;

typedef struct {
  sl_telemetry_render_fn fn;
  void *ud;
} renderer_t;

struct sl_telemetry {
  sl_http_server_t *http;
  sl_controller_t *c;
  sl_observer_t obs;
  sl_actuator_t metric, keda;
  sl_map_t vars;    // id -> var_t
  sl_map_t pols;    // file -> pol_t
  sl_map_t shadows; // "policy\x1fvariant" -> shadow_t
  double tick_cum[TICK_NB + 1], tick_sum;
  long ticks, metric_writes, keda_writes;
  int ready, ticked, leader;
  renderer_t *renderers;
  int nrenderers;
};

// ---- what it hears ------------------------------------------------------------------------------

static var_t *var_of(sl_telemetry_t *t, const sl_variant_t *v) {
  var_t *x = sl_map_get(&t->vars, v->id);
  if (x) return x;
  if (!(x = calloc(1, sizeof *x))) return NULL;
  x->id = strdup(v->id);
  x->ns = strdup(v->ns ? v->ns : "");
  x->name = strdup(v->name ? v->name : v->id);
  x->accel =
      strdup(v->accelerator && strcmp(v->accelerator, "unknown") ? v->accelerator : "unknown");
  x->desired = x->current = -1;
  if (!x->id || !x->ns || !x->name || !x->accel || sl_map_put(&t->vars, v->id, x) < 0) {
    free(x->id), free(x->ns), free(x->name), free(x->accel), free(x);
    return NULL;
  }
  return x;
}

static void on_outcome(sl_observer_t *ob, double now, const sl_outcome_t *o) {
  sl_telemetry_t *t = ob->ud;
  var_t *x = var_of(t, o->variant);
  if (!x) return;
  x->current = o->current;
  x->desired = o->target;
  if (o->policy) {
    free(x->policy);
    x->policy = strdup(o->policy);
  }
  if (o->actuated && o->target > o->current)
    x->up++;
  else if (o->actuated && o->target < o->current)
    x->down++;
  else if (!o->change)
    x->holds++;
  if (!strncmp(o->reason, "actuation failed", 16)) x->actuation_errors++;
}

static void on_shadow(sl_observer_t *ob, double now, const sl_shadow_t *s) {
  sl_telemetry_t *t = ob->ud;
  char key[512];
  snprintf(key, sizeof key, "%s\x1f%s", s->policy, s->variant->id);
  shadow_t *x = sl_map_get(&t->shadows, key);
  if (!x) {
    if (!(x = calloc(1, sizeof *x))) return;
    const sl_variant_t *v = s->variant;
    x->variant = strdup(v->id);
    x->ns = strdup(v->ns ? v->ns : "");
    x->name = strdup(v->name ? v->name : v->id);
    x->policy = strdup(s->policy);
    if (!x->variant || !x->ns || !x->name || !x->policy || sl_map_put(&t->shadows, key, x) < 0) {
      free(x->variant), free(x->ns), free(x->name), free(x->policy), free(x);
      return;
    }
  }
  x->wants = s->requested >= 0 ? s->requested : -1;
  x->current = s->current;
}

static pol_t *pol_of(sl_telemetry_t *t, const char *file) {
  pol_t *p = sl_map_get(&t->pols, file);
  if (p) return p;
  if (!(p = calloc(1, sizeof *p)) || !(p->file = strdup(file)) ||
      sl_map_put(&t->pols, file, p) < 0) {
    if (p) free(p->file);
    free(p);
    return NULL;
  }
  return p;
}

// What kind of failure a policy's error message describes.
static int failure_kind(const char *msg) {
  if (!msg) return FK_ERROR;
  if (strstr(msg, "instruction budget")) return FK_BUDGET;
  if (strstr(msg, "time limit")) return FK_TIME;
  if (strstr(msg, "memory cap") || strstr(msg, "out of memory")) return FK_MEMORY;
  if (strstr(msg, "malformed decision")) return FK_MALFORMED;
  if (strstr(msg, "cannot be kept in state")) return FK_STATE;
  return FK_ERROR;
}

static void on_decider_event(sl_observer_t *ob, const sl_decider_event_t *e) {
  sl_telemetry_t *t = ob->ud;
  pol_t *p = pol_of(t, e->file);
  if (!p) return;
  switch (e->kind) {
  case SL_DECIDER_FAILED:
    p->failures[failure_kind(e->message)]++;
    break;
  case SL_DECIDER_RELOADED:
    p->reloaded++;
    break;
  case SL_DECIDER_REJECTED:
    p->rejected++;
    break;
  case SL_DECIDER_RESTORED:
    p->restored++;
    break;
  default:
    break;
  }
}

static void on_tick_done(void *ud, double seconds, int deciders) {
  sl_telemetry_t *t = ud;
  t->ticks++;
  t->ticked = 1;
  t->tick_sum += seconds;
  for (int i = 0; i < TICK_NB; i++)
    if (seconds <= tick_bounds[i]) t->tick_cum[i]++;
  t->tick_cum[TICK_NB]++;
}

static int publish_only(sl_actuator_t *a, const sl_variant_t *v, int from, int to,
                        const char *reason, double now, sl_err_t *err) {
  long *count = a->ud;
  (*count)++;
  return SL_OK; // the desired count on /metrics (or /keda) is what acts
}

// ---- rendering ----------------------------------------------------------------------------------

static void add(sl_json_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(sl_json_buf_t *b, const char *fmt, ...) {
  char line[1024];
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n < sizeof line) {
    sl_json_buf_add(b, line, (size_t)n);
  } else if (n > 0) {
    // A long label value (a target's URL): never cut a line, which would break the page.
    char *big = malloc((size_t)n + 1);
    if (big && vsnprintf(big, (size_t)n + 1, fmt, again) == n) sl_json_buf_add(b, big, (size_t)n);
    free(big);
  }
  va_end(again);
}

// A label value in the exposition format's escaping.
static const char *lv(const char *s, char *buf, size_t n) {
  size_t o = 0;
  for (; s && *s && o + 3 < n; s++) {
    if (*s == '\\' || *s == '"')
      buf[o++] = '\\', buf[o++] = *s;
    else if (*s == '\n')
      buf[o++] = '\\', buf[o++] = 'n';
    else
      buf[o++] = *s;
  }
  buf[o] = '\0';
  return buf;
}

static void family(sl_json_buf_t *b, const char *name, const char *type, const char *help) {
  add(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_variants(sl_telemetry_t *t, sl_json_buf_t *b) {
  char e1[512], e2[512], e3[512];
  struct {
    const char *name, *help;
  } gauges[] = {{"wva_desired_replicas", "Replicas sluice wants for the variant (WVA's name)."},
                {"wva_current_replicas", "Replicas the variant runs (WVA's name)."},
                {"wva_desired_ratio", "Desired over current replicas, desired when current is 0."}};
  for (int g = 0; g < 3; g++) {
    family(b, gauges[g].name, "gauge", gauges[g].help);
    for (size_t i = 0; i < t->vars.n_entries; i++) {
      var_t *x = t->vars.entries[i].value;
      if (!t->vars.entries[i].key || x->desired < 0) continue;
      double v = g == 0           ? x->desired
                 : g == 1         ? x->current
                 : x->current > 0 ? (double)x->desired / x->current
                                  : x->desired;
      add(b, "%s{variant_name=\"%s\",namespace=\"%s\",accelerator_type=\"%s\"} %.6g\n",
          gauges[g].name, lv(x->name, e1, sizeof e1), lv(x->ns, e2, sizeof e2),
          lv(x->accel, e3, sizeof e3), v);
    }
  }
  family(b, "sluice_desired_replicas", "gauge", "Replicas the guard settled on at the last tick.");
  for (size_t i = 0; i < t->vars.n_entries; i++) {
    var_t *x = t->vars.entries[i].value;
    if (t->vars.entries[i].key && x->desired >= 0)
      add(b, "sluice_desired_replicas{variant=\"%s\"} %d\n", lv(x->id, e1, sizeof e1), x->desired);
  }
  family(b, "sluice_current_replicas", "gauge", "Replicas the variant ran at the last tick.");
  for (size_t i = 0; i < t->vars.n_entries; i++) {
    var_t *x = t->vars.entries[i].value;
    if (t->vars.entries[i].key && x->current >= 0)
      add(b, "sluice_current_replicas{variant=\"%s\"} %d\n", lv(x->id, e1, sizeof e1), x->current);
  }
  family(b, "sluice_decisions_total", "counter", "Changes applied, by direction.");
  for (size_t i = 0; i < t->vars.n_entries; i++) {
    var_t *x = t->vars.entries[i].value;
    if (!t->vars.entries[i].key) continue;
    lv(x->id, e1, sizeof e1);
    add(b, "sluice_decisions_total{variant=\"%s\",direction=\"up\"} %ld\n", e1, x->up);
    add(b, "sluice_decisions_total{variant=\"%s\",direction=\"down\"} %ld\n", e1, x->down);
  }
  family(b, "sluice_holds_total", "counter", "Ticks that kept the variant's replicas.");
  for (size_t i = 0; i < t->vars.n_entries; i++) {
    var_t *x = t->vars.entries[i].value;
    if (t->vars.entries[i].key)
      add(b, "sluice_holds_total{variant=\"%s\"} %ld\n", lv(x->id, e1, sizeof e1), x->holds);
  }
  family(b, "sluice_actuation_errors_total", "counter", "Changes the actuator could not start.");
  for (size_t i = 0; i < t->vars.n_entries; i++) {
    var_t *x = t->vars.entries[i].value;
    if (t->vars.entries[i].key)
      add(b, "sluice_actuation_errors_total{variant=\"%s\"} %ld\n", lv(x->id, e1, sizeof e1),
          x->actuation_errors);
  }
}

// What the last tick's view showed of each variant: its pods by state, and how fresh its data
// was (the dashboard's ready replicas and signal health).
static void render_view(sl_telemetry_t *t, sl_json_buf_t *b) {
  char e1[512];
  const sl_view_t *v = t->c ? &t->c->pipeline.view : NULL;
  int n = v ? v->nvariants : 0;
  family(b, "sluice_replicas", "gauge",
         "The variant's replicas at the last tick: spec (the workload's), ready, starting "
         "(scheduled, not ready), pending (not scheduled).");
  for (int i = 0; i < n; i++) {
    const sl_view_variant_t *x = &v->variants[i];
    lv(x->desc->id, e1, sizeof e1);
    add(b, "sluice_replicas{variant=\"%s\",state=\"spec\"} %d\n", e1, x->spec);
    add(b, "sluice_replicas{variant=\"%s\",state=\"ready\"} %d\n", e1, x->ready);
    add(b, "sluice_replicas{variant=\"%s\",state=\"starting\"} %d\n", e1, x->starting);
    add(b, "sluice_replicas{variant=\"%s\",state=\"pending\"} %d\n", e1, x->pending);
  }
  family(b, "sluice_signal_age_seconds", "gauge",
         "Age of the variant's freshest sample at the last tick (+Inf: none yet).");
  for (int i = 0; i < n; i++) {
    const sl_view_variant_t *x = &v->variants[i];
    lv(x->desc->id, e1, sizeof e1);
    if (isfinite(x->age))
      add(b, "sluice_signal_age_seconds{variant=\"%s\"} %.6g\n", e1, x->age);
    else
      add(b, "sluice_signal_age_seconds{variant=\"%s\"} +Inf\n", e1);
  }
  family(b, "sluice_variant_stale", "gauge",
         "1 when the variant's signals or cluster state were older than guard.stale_after at "
         "the last tick (it held).");
  for (int i = 0; i < n; i++)
    add(b, "sluice_variant_stale{variant=\"%s\"} %d\n", lv(v->variants[i].desc->id, e1, sizeof e1),
        v->variants[i].stale);
}

static void render_shadows(sl_telemetry_t *t, sl_json_buf_t *b) {
  char e1[512], e2[512], e3[512], e4[512];
  family(b, "sluice_shadow_desired_replicas", "gauge",
         "Replicas a shadow policy wants for the variant (never actuated); absent while it has "
         "no opinion or fails.");
  for (size_t i = 0; i < t->shadows.n_entries; i++) {
    shadow_t *x = t->shadows.entries[i].value;
    if (!t->shadows.entries[i].key || x->wants < 0) continue;
    add(b,
        "sluice_shadow_desired_replicas{variant=\"%s\",variant_name=\"%s\",namespace=\"%s\","
        "policy=\"%s\"} %d\n",
        lv(x->variant, e1, sizeof e1), lv(x->name, e2, sizeof e2), lv(x->ns, e3, sizeof e3),
        lv(x->policy, e4, sizeof e4), x->wants);
  }
}

static void render_policies(sl_telemetry_t *t, sl_json_buf_t *b) {
  char e1[512], e2[512];
  sl_pipeline_t *p = t->c ? &t->c->pipeline : NULL;
  family(b, "sluice_policy_runs_total", "counter", "Ticks each policy decided on.");
  for (int k = 0; p && k < p->ndeciders; k++)
    add(b, "sluice_policy_runs_total{policy=\"%s\"} %llu\n",
        lv(p->deciders[k]->name, e1, sizeof e1), (unsigned long long)p->deciders[k]->runs);
  family(b, "sluice_policy_failures_total", "counter",
         "Ticks a policy failed (its variants held), by kind: error, budget (instructions), time "
         "(the wall-clock bound), memory, malformed (its result), state (not plain data).");
  for (size_t i = 0; i < t->pols.n_entries; i++) {
    pol_t *x = t->pols.entries[i].value;
    if (!t->pols.entries[i].key) continue;
    for (int k = 0; k < FK__N; k++)
      add(b, "sluice_policy_failures_total{file=\"%s\",kind=\"%s\"} %ld\n",
          lv(x->file, e1, sizeof e1), fk_names[k], x->failures[k]);
  }
  family(b, "sluice_policy_reloads_total", "counter",
         "New versions of a policy file: reloaded, rejected (the old one kept), restored (it "
         "failed its first ticks).");
  for (size_t i = 0; i < t->pols.n_entries; i++) {
    pol_t *x = t->pols.entries[i].value;
    if (!t->pols.entries[i].key) continue;
    lv(x->file, e2, sizeof e2);
    add(b, "sluice_policy_reloads_total{file=\"%s\",result=\"reloaded\"} %ld\n", e2, x->reloaded);
    add(b, "sluice_policy_reloads_total{file=\"%s\",result=\"rejected\"} %ld\n", e2, x->rejected);
    add(b, "sluice_policy_reloads_total{file=\"%s\",result=\"restored\"} %ld\n", e2, x->restored);
  }
}

static void render_ticks(sl_telemetry_t *t, sl_json_buf_t *b) {
  family(b, "sluice_tick_duration_seconds", "histogram",
         "Time one tick took: view, policies, vote, guard, actuators.");
  for (int i = 0; i < TICK_NB; i++)
    add(b, "sluice_tick_duration_seconds_bucket{le=\"%g\"} %.0f\n", tick_bounds[i], t->tick_cum[i]);
  add(b, "sluice_tick_duration_seconds_bucket{le=\"+Inf\"} %.0f\n", t->tick_cum[TICK_NB]);
  add(b, "sluice_tick_duration_seconds_sum %.9g\n", t->tick_sum);
  add(b, "sluice_tick_duration_seconds_count %ld\n", t->ticks);
  family(b, "sluice_leader", "gauge",
         "1 while this instance holds the leader lease (1 without leader election).");
  add(b, "sluice_leader %d\n", t->leader < 0 ? 1 : t->leader);
  family(b, "sluice_ready", "gauge", "1 once every source is ready and a tick has run.");
  add(b, "sluice_ready %d\n", t->ready && t->ticked);
  family(b, "sluice_publish_only_changes_total", "counter",
         "Changes handed to the publishing actuators (metric, keda-metrics-api).");
  add(b, "sluice_publish_only_changes_total{actuator=\"metric\"} %ld\n", t->metric_writes);
  add(b, "sluice_publish_only_changes_total{actuator=\"keda-metrics-api\"} %ld\n", t->keda_writes);
}

static void scrape_target_labels(const sl_scrape_info_t *i, char *out, size_t n) {
  char e1[600], e2[300], e3[300];
  if (i->kind == SL_SCRAPE_GATEWAY)
    snprintf(out, n, "target=\"%s\",kind=\"gateway\",model=\"%s\"", lv(i->url, e1, sizeof e1),
             lv(i->model, e2, sizeof e2));
  else
    snprintf(out, n, "target=\"%s\",kind=\"pod\",pod=\"%s\",variant=\"%s\"",
             lv(i->url, e1, sizeof e1), lv(i->pod, e2, sizeof e2), lv(i->variant, e3, sizeof e3));
}

// One family per target field: a family's lines stay together, as the text format requires.
static void render_scraper(void *ud, sl_json_buf_t *b) {
  sl_scraper_t *s = ud;
  size_t n = sl_scraper_count(s);
  char lab[1400];
  static const struct {
    const char *name, *type, *help;
  } per[] = {
      {"sluice_scrape_up", "gauge",
       "1 when the target's last scrape was committed (0 before one)."},
      {"sluice_scrape_last_duration_seconds", "gauge",
       "The target's last scrape: request, parse and commit."},
      {"sluice_scrape_samples", "gauge", "Store samples the target's last committed page gave."},
      {"sluice_scrape_scrapes_total", "counter", "Scrapes of the target that finished."},
      {"sluice_scrape_failures_total", "counter",
       "Scrapes of the target that failed (refused, timed out, HTTP errors, rejected pages); "
       "none of them wrote to the store."},
      {"sluice_scrape_rejected_total", "counter",
       "Pages of the target rejected whole: malformed, or over the size cap."},
  };
  for (size_t f = 0; f < sizeof per / sizeof per[0]; f++) {
    family(b, per[f].name, per[f].type, per[f].help);
    for (size_t k = 0; k < n; k++) {
      sl_scrape_info_t i;
      if (sl_scraper_target_at(s, k, &i) < 0) continue;
      scrape_target_labels(&i, lab, sizeof lab);
      switch (f) {
      case 0:
        add(b, "%s{%s} %d\n", per[f].name, lab, i.up);
        break;
      case 1:
        if (i.done) add(b, "%s{%s} %.6g\n", per[f].name, lab, i.last_duration_s);
        break;
      case 2:
        add(b, "%s{%s} %zu\n", per[f].name, lab, i.last_samples);
        break;
      default:
        add(b, "%s{%s} %llu\n", per[f].name, lab,
            (unsigned long long)(f == 3   ? i.scrapes
                                 : f == 4 ? i.failures
                                          : i.rejected));
      }
    }
  }
  sl_scraper_stats_t st;
  sl_scraper_stats(s, &st);
  family(b, "sluice_scrape_targets", "gauge",
         "Scrape targets by the state of their last scrape (pending: none finished yet).");
  add(b, "sluice_scrape_targets{state=\"up\"} %zu\n", st.up);
  add(b, "sluice_scrape_targets{state=\"down\"} %zu\n", st.down);
  add(b, "sluice_scrape_targets{state=\"pending\"} %zu\n", st.pending);
  family(b, "sluice_scrape_duration_seconds", "histogram",
         "Every finished scrape of every target, by duration.");
  uint64_t cum = 0;
  for (int k = 0; k < SL_SCRAPER_DURATION_BUCKETS - 1; k++) {
    cum += st.duration_count[k];
    add(b, "sluice_scrape_duration_seconds_bucket{le=\"%g\"} %llu\n", sl_scraper_duration_bounds[k],
        (unsigned long long)cum);
  }
  cum += st.duration_count[SL_SCRAPER_DURATION_BUCKETS - 1];
  add(b, "sluice_scrape_duration_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
  add(b, "sluice_scrape_duration_seconds_sum %.9g\n", st.duration_sum);
  add(b, "sluice_scrape_duration_seconds_count %llu\n", (unsigned long long)cum);
  family(b, "sluice_scrape_samples_total", "counter", "Store samples from committed pages.");
  add(b, "sluice_scrape_samples_total %llu\n", (unsigned long long)st.samples);
  family(b, "sluice_scrape_bytes_total", "counter", "Body bytes of finished scrapes.");
  add(b, "sluice_scrape_bytes_total %llu\n", (unsigned long long)st.bytes);
  family(b, "sluice_scrape_skipped_total", "counter",
         "Slots missed because the target's previous scrape was still running.");
  add(b, "sluice_scrape_skipped_total %llu\n", (unsigned long long)st.skipped);
}

int sl_telemetry_add_scraper(sl_telemetry_t *t, sl_scraper_t *s) {
  return sl_telemetry_add_renderer(t, render_scraper, s);
}

char *sl_telemetry_render(sl_telemetry_t *t, size_t *len) {
  sl_json_buf_t b = {0};
  render_variants(t, &b);
  render_view(t, &b);
  render_shadows(t, &b);
  render_policies(t, &b);
  render_ticks(t, &b);
  for (int i = 0; i < t->nrenderers; i++) t->renderers[i].fn(t->renderers[i].ud, &b);
  if (!b.buf) sl_json_buf_add(&b, "", 0);
  if (len) *len = b.len;
  return b.buf;
}

// ---- serving ------------------------------------------------------------------------------------

static void h_metrics(void *ud, sl_http_req_t *req) {
  size_t n;
  char *page = sl_telemetry_render(ud, &n);
  if (!page) {
    sl_http_reply(req, 500, "text/plain", "out of memory\n", 14);
    return;
  }
  sl_http_reply_owned(req, 200, "text/plain; version=0.0.4; charset=utf-8", page, n);
}

static void h_healthz(void *ud, sl_http_req_t *req) {
  sl_http_reply(req, 200, "text/plain", "ok\n", 3);
}

static void h_readyz(void *ud, sl_http_req_t *req) {
  sl_telemetry_t *t = ud;
  if (t->ready && t->ticked)
    sl_http_reply(req, 200, "text/plain", "ready\n", 6);
  else
    sl_http_reply(req, 503, "text/plain", t->ready ? "no tick yet\n" : "sources not ready\n",
                  t->ready ? 12 : 18);
}

static void h_keda(void *ud, sl_http_req_t *req) {
  sl_telemetry_t *t = ud;
  const char *path = sl_http_req_path(req) + 6; // after "/keda/"
  var_t *x = sl_map_get(&t->vars, path);
  if (!x || x->desired < 0) {
    sl_http_reply(req, 404, "application/json", "{\"error\":\"no such variant yet\"}", 31);
    return;
  }
  char body[768], e[600];
  sl_json_buf_t q = {0};
  sl_json_buf_quote(&q, x->id, strlen(x->id));
  snprintf(e, sizeof e, "%s", q.buf ? q.buf : "\"\"");
  sl_json_buf_deinit(&q);
  int n =
      snprintf(body, sizeof body, "{\"variant\":%s,\"desiredReplicas\":%d,\"currentReplicas\":%d}",
               e, x->desired, x->current);
  sl_http_reply(req, 200, "application/json", body, (size_t)n);
}

int sl_telemetry_listen(sl_telemetry_t *t, uv_loop_t *loop, const char *bind, sl_err_t *err) {
  char host[256] = "0.0.0.0";
  const char *colon = strrchr(bind, ':');
  if (!colon) return sl_err(err, SL_EINVAL, "metrics bind address '%s': want HOST:PORT", bind);
  if (colon > bind) snprintf(host, sizeof host, "%.*s", (int)(colon - bind), bind);
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535)
    return sl_err(err, SL_EINVAL, "metrics bind address '%s': '%s' is not a port", bind, colon + 1);
  sl_http_opts_t o = {.host = host, .port = (int)port};
  int rc = sl_http_server_new(loop, &o, &t->http, err);
  if (rc < 0) return sl_err_wrap(err, "metrics bind address %s", bind);
  sl_http_route(t->http, "GET", "/metrics", h_metrics, t);
  sl_http_route(t->http, "GET", "/healthz", h_healthz, t);
  sl_http_route(t->http, "GET", "/readyz", h_readyz, t);
  sl_http_route(t->http, "GET", "/keda/", h_keda, t);
  return SL_OK;
}

void sl_telemetry_close(sl_telemetry_t *t) {
  if (t->http) sl_http_server_free(t->http);
  t->http = NULL;
}

int sl_telemetry_port(const sl_telemetry_t *t) {
  return t->http ? sl_http_server_port(t->http) : -1;
}

// ---- lifecycle ----------------------------------------------------------------------------------

sl_telemetry_t *sl_telemetry_new(sl_err_t *err) {
  sl_telemetry_t *t = calloc(1, sizeof *t);
  if (!t) {
    sl_err(err, SL_ENOMEM, "out of memory");
    return NULL;
  }
  sl_map_init(&t->vars);
  sl_map_init(&t->pols);
  sl_map_init(&t->shadows);
  t->leader = -1;
  t->obs = (sl_observer_t){
      .outcome = on_outcome, .decider_event = on_decider_event, .ud = t, .shadow = on_shadow};
  t->metric = (sl_actuator_t){"metric", publish_only, NULL, &t->metric_writes};
  t->keda = (sl_actuator_t){"keda-metrics-api", publish_only, NULL, &t->keda_writes};
  return t;
}

void sl_telemetry_free(sl_telemetry_t *t) {
  if (!t) return;
  if (t->http) sl_http_server_free(t->http);
  for (size_t i = 0; i < t->vars.n_entries; i++) {
    var_t *x = t->vars.entries[i].value;
    if (!t->vars.entries[i].key) continue;
    free(x->id), free(x->ns), free(x->name), free(x->accel), free(x->policy), free(x);
  }
  for (size_t i = 0; i < t->pols.n_entries; i++) {
    pol_t *x = t->pols.entries[i].value;
    if (!t->pols.entries[i].key) continue;
    free(x->file), free(x);
  }
  for (size_t i = 0; i < t->shadows.n_entries; i++) {
    shadow_t *x = t->shadows.entries[i].value;
    if (!t->shadows.entries[i].key) continue;
    free(x->variant), free(x->ns), free(x->name), free(x->policy), free(x);
  }
  sl_map_deinit(&t->shadows);
  sl_map_deinit(&t->vars);
  sl_map_deinit(&t->pols);
  free(t->renderers);
  free(t);
}

int sl_telemetry_attach(sl_telemetry_t *t, sl_controller_t *c, sl_err_t *err) {
  t->c = c;
  c->on_tick_done = on_tick_done;
  c->on_tick_done_ud = t;
  return sl_controller_add_observer(c, &t->obs, err);
}

void sl_telemetry_set_ready(sl_telemetry_t *t, int ready) {
  t->ready = ready;
}

void sl_telemetry_set_leader(sl_telemetry_t *t, int leader) {
  t->leader = leader;
}

int sl_telemetry_add_renderer(sl_telemetry_t *t, sl_telemetry_render_fn fn, void *ud) {
  renderer_t *r = realloc(t->renderers, sizeof *r * (size_t)(t->nrenderers + 1));
  if (!r) return SL_ENOMEM;
  t->renderers = r;
  t->renderers[t->nrenderers++] = (renderer_t){fn, ud};
  return SL_OK;
}

sl_actuator_t *sl_telemetry_metric_actuator(sl_telemetry_t *t) {
  return &t->metric;
}

sl_actuator_t *sl_telemetry_keda_actuator(sl_telemetry_t *t) {
  return &t->keda;
}
