// Policy host and hot reload. See host.h.
#include "core/lua/host.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util/log.h"

#define PROBATION_TICKS 3

struct sl_slot {
  sl_decider_t decider;
  sl_host_t *host;
  const sl_policy_cfg_t *pc;
  char *path; // resolved file path (or the canned policy's path)
  int canned; // built into the binary: never reloaded
  sl_policy_t *cur, *prev, *pending;
  int version, pending_version;
  int probation, probation_failures;
  uint64_t seen_hash; // hash of the file text last offered (accepted or not)
  uint64_t seen_err;  // hash of the last file error reported (0: none), so each is said once
  uint64_t tick;
  unsigned char *manages;
};

static void emit(sl_host_t *h, sl_slot_t *s, sl_decider_event_kind_t kind, int version,
                 const char *msg) {
  sl_decider_event_t e = {kind, s->pc->file, version, msg};
  if (kind == SL_DECIDER_FAILED)
    ; // the pipeline logs failed ticks, with the policy's name
  else if (kind == SL_DECIDER_REJECTED || kind == SL_DECIDER_RESTORED)
    sl_warn("policy %s: %s (version %d)%s%s", s->pc->file, sl_decider_event_name(kind), version,
            msg ? ": " : "", msg ? msg : "");
  else
    sl_info("policy %s: %s (version %d)%s%s", s->pc->file, sl_decider_event_name(kind), version,
            msg ? ": " : "", msg ? msg : "");
  if (h->on_event) h->on_event(h->on_event_ud, &e);
}

static int load_version(sl_host_t *h, sl_slot_t *s, const char *src, size_t len, sl_policy_t **out,
                        sl_err_t *err) {
  char chunk[1024];
  snprintf(chunk, sizeof chunk, "@%s", s->path);
  sl_policy_opts_t o = {src,      len,           chunk,         &h->cfg->doc,   s->pc->params,
                        h->clock, s->pc->memory, s->pc->budget, h->module_path, s->pc->time_limit};
  return sl_policy_load(&o, out, err);
}

static double effective_period(const sl_host_t *h, const sl_slot_t *s, const sl_policy_t *p) {
  if (s->pc->period > 0) return s->pc->period; // configuration wins
  if (p->period > 0) return p->period;
  return h->cfg->interval;
}

static void adopt(sl_slot_t *s, sl_policy_t *p) {
  s->decider.name = p->name;
  s->decider.scale_from_zero = p->scale_from_zero;
  s->decider.shadow = s->pc->shadow;
  s->decider.period = effective_period(s->host, s, p);
  p->lv.period = s->decider.period;
}

// Gives `to` the live version's state. State that cannot be copied (the live version left
// something other than plain data in it, which already failed that tick) must not block the
// new version: it starts from a fresh state instead, and says so.
static int take_state(sl_host_t *h, sl_slot_t *s, sl_policy_t *to, int version, sl_err_t *err) {
  sl_err_t cerr = {0};
  if (sl_policy_copy_state(to, s->cur, &cerr) == 0) return SL_OK;
  sl_warn("policy %s: version %d starts with a fresh state: the state of version %d cannot be "
          "kept (%s)",
          s->pc->file, version, s->version, cerr.msg);
  return sl_policy_init_state(to, err);
}

// Swaps a pending version in at a tick boundary, copying the live state as it is now.
static void swap_pending(sl_host_t *h, sl_slot_t *s) {
  sl_err_t err = {0};
  if (take_state(h, s, s->pending, s->pending_version, &err) < 0) {
    emit(h, s, SL_DECIDER_REJECTED, s->pending_version, err.msg);
    sl_policy_free(s->pending);
    s->pending = NULL;
    return;
  }
  sl_policy_free(s->prev);
  s->prev = s->cur;
  s->cur = s->pending;
  s->pending = NULL;
  s->version = s->pending_version;
  s->probation = PROBATION_TICKS;
  s->probation_failures = 0;
  adopt(s, s->cur);
  emit(h, s, SL_DECIDER_SWAPPED, s->version, NULL);
}

static int slot_decide(sl_decider_t *d, sl_view_t *view, sl_decision_t *out, sl_err_t *err) {
  sl_slot_t *s = d->ud;
  sl_host_t *h = s->host;
  if (s->pending) swap_pending(h, s);
  s->tick++;
  int rc = sl_policy_decide(s->cur, view, s->manages, h->order, s->tick, out, err);
  if (s->probation > 0) {
    s->probation--;
    if (rc < 0) s->probation_failures++;
    if (s->probation == 0 && s->probation_failures == PROBATION_TICKS && s->prev) {
      // Failed every one of its first ticks: bring back the previous version and its state.
      char msg[SL_ERR_MAX + 64];
      snprintf(msg, sizeof msg, "version %d failed its first %d ticks; last error: %s", s->version,
               PROBATION_TICKS, err->msg);
      sl_policy_free(s->cur);
      s->cur = s->prev;
      s->prev = NULL;
      s->version--;
      adopt(s, s->cur);
      emit(h, s, SL_DECIDER_RESTORED, s->version, msg);
    } else if (s->probation == 0) {
      sl_policy_free(s->prev);
      s->prev = NULL;
    }
  }
  if (rc < 0) emit(h, s, SL_DECIDER_FAILED, s->version, err->msg);
  return rc;
}

// Offers new source text for a slot: load, contract, dry run on the current view.
static void offer(sl_host_t *h, sl_slot_t *s, const char *src, size_t len) {
  sl_err_t err = {0};
  sl_policy_t *np = NULL;
  int version = s->version + 1 + (s->pending != NULL);
  int rc = load_version(h, s, src, len, &np, &err);
  if (rc == 0) rc = take_state(h, s, np, version, &err);
  if (rc == 0 && h->view && h->view->nvariants > 0) {
    // Dry run: the new version decides once on the view the live one last saw, with a copy of
    // the live state; nothing is actuated and the copy is refreshed again at swap time.
    sl_decision_t *scratch = calloc(h->view->nvariants, sizeof *scratch);
    if (!scratch)
      rc = sl_err(&err, SL_ENOMEM, "out of memory");
    else {
      np->lv.period = effective_period(h, s, np);
      rc = sl_policy_decide(np, (sl_view_t *)h->view, s->manages, h->order, s->tick, scratch, &err);
      if (rc < 0) sl_err_wrap(&err, "dry run");
      free(scratch);
    }
  }
  if (rc < 0) {
    emit(h, s, SL_DECIDER_REJECTED, version, err.msg);
    sl_policy_free(np);
    return;
  }
  sl_policy_free(s->pending); // a newer edit supersedes one not yet swapped in
  s->pending = np;
  s->pending_version = version;
  emit(h, s, SL_DECIDER_RELOADED, version, NULL);
}

int sl_host_check_files(sl_host_t *h) {
  int changed = 0;
  for (int i = 0; i < h->nslots; i++) {
    sl_slot_t *s = h->slots[i];
    if (s->canned) continue;
    char *path = NULL, *src = NULL;
    size_t len = 0;
    int owned = 0;
    sl_err_t err = {0};
    if (sl_policy_source(h->cfg->policy_dir, s->pc->file, &path, &src, &len, &owned, &err) < 0) {
      // A file that cannot be read (gone, a FIFO, too large, ...) leaves the running version in
      // place; say so once per distinct problem, and look again at the next check.
      uint64_t eh = sl_hash64(err.msg, strlen(err.msg)) | 1;
      if (eh != s->seen_err) {
        s->seen_err = eh;
        char msg[SL_ERR_MAX + 64];
        snprintf(msg, sizeof msg, "%s; version %d keeps running", err.msg, s->version);
        emit(h, s, SL_DECIDER_REJECTED, s->version + 1, msg);
      }
      continue;
    }
    s->seen_err = 0;
    uint64_t hash = sl_hash64(src, len);
    if (hash != s->seen_hash && owned) {
      // Offered once per distinct text: a rejected file is not retried until it changes.
      s->seen_hash = hash;
      changed++;
      offer(h, s, src, len);
    }
    if (owned) free(src);
    free(path);
  }
  return changed;
}

static void slot_free(sl_slot_t *s) {
  if (!s) return;
  sl_policy_free(s->cur);
  sl_policy_free(s->prev);
  sl_policy_free(s->pending);
  free(s->path);
  free(s->manages);
  free(s);
}

int sl_host_init(sl_host_t *h, const sl_config_t *cfg, sl_clock_t *clock, const sl_view_t *view,
                 const int *order, const char *module_path, sl_err_t *err) {
  memset(h, 0, sizeof *h);
  h->cfg = cfg;
  h->clock = clock;
  h->view = view;
  h->order = order;
  h->module_path = module_path;
  h->slots = calloc(cfg->npolicies ? cfg->npolicies : 1, sizeof *h->slots);
  if (!h->slots) return sl_err(err, SL_ENOMEM, "out of memory");
  for (int i = 0; i < cfg->npolicies; i++) {
    const sl_policy_cfg_t *pc = &cfg->policies[i];
    sl_slot_t *s = calloc(1, sizeof *s);
    if (!s || !(s->manages = calloc(cfg->nvariants ? cfg->nvariants : 1, 1))) {
      slot_free(s);
      sl_host_deinit(h);
      return sl_err(err, SL_ENOMEM, "out of memory");
    }
    h->slots[h->nslots++] = s;
    s->host = h;
    s->pc = pc;
    for (int v = 0; v < cfg->nvariants; v++) {
      int m = pc->nvariants == 0 && !pc->model;
      for (int k = 0; k < pc->nvariants && !m; k++)
        m = !strcmp(pc->variants[k], cfg->variants[v].id);
      if (pc->model) m = m || !strcmp(pc->model, cfg->variants[v].model);
      s->manages[v] = (unsigned char)m;
    }
    char *src;
    size_t len;
    int owned = 0,
        rc = sl_policy_source(cfg->policy_dir, pc->file, &s->path, &src, &len, &owned, err);
    if (rc == 0) {
      s->canned = !owned;
      rc = load_version(h, s, src, len, &s->cur, err);
      if (owned) free(src);
    }
    if (rc == 0) rc = sl_policy_init_state(s->cur, err);
    if (rc < 0) {
      // Errors name the configuration entry too, when there is a configuration file.
      if (cfg->path) sl_err_wrap(err, "%s:%d: policies[%d]", cfg->path, pc->line, i);
      sl_host_deinit(h);
      return rc;
    }
    s->version = 1;
    s->seen_hash = s->cur->src_hash;
    s->decider.decide = slot_decide;
    s->decider.ud = s;
    s->decider.manages = s->manages;
    adopt(s, s->cur);
    emit(h, s, SL_DECIDER_LOADED, 1, NULL);
  }
  return SL_OK;
}

static void on_close_noop(uv_handle_t *hd) {
  (void)hd;
}

void sl_host_unwatch(sl_host_t *h) {
  if (!h->watching) return;
  uv_fs_event_stop(&h->watch);
  uv_timer_stop(&h->poll);
  uv_timer_stop(&h->debounce);
  uv_close((uv_handle_t *)&h->watch, on_close_noop);
  uv_close((uv_handle_t *)&h->poll, on_close_noop);
  uv_close((uv_handle_t *)&h->debounce, on_close_noop);
  h->watching = 0;
}

void sl_host_deinit(sl_host_t *h) {
  sl_host_unwatch(h);
  for (int i = 0; i < h->nslots; i++) slot_free(h->slots[i]);
  free(h->slots);
  memset(h, 0, sizeof *h);
}

static void on_debounce(uv_timer_t *t) {
  sl_host_check_files(t->data);
}

static void on_fs_event(uv_fs_event_t *w, const char *filename, int events, int status) {
  sl_host_t *h = w->data;
  // Editors and ConfigMap updates touch files in bursts: settle for 100 ms, then look.
  uv_timer_start(&h->debounce, on_debounce, 100, 0);
}

static void on_poll(uv_timer_t *t) {
  sl_host_check_files(t->data);
}

int sl_host_watch(sl_host_t *h, uv_loop_t *loop, double poll_s, sl_err_t *err) {
  h->loop = loop;
  uv_timer_init(loop, &h->poll);
  uv_timer_init(loop, &h->debounce);
  h->poll.data = h->debounce.data = h;
  uv_fs_event_init(loop, &h->watch);
  h->watch.data = h;
  int rc = uv_fs_event_start(&h->watch, on_fs_event, h->cfg->policy_dir, 0);
  if (rc < 0)
    sl_warn("cannot watch %s (%s); polling every %.0fs", h->cfg->policy_dir, uv_strerror(rc),
            poll_s);
  uint64_t ms = (uint64_t)(poll_s * 1000);
  uv_timer_start(&h->poll, on_poll, ms, ms);
  h->watching = 1;
  return SL_OK;
}

int sl_host_adopt_state(sl_host_t *to, sl_host_t *from) {
  int carried = 0;
  for (int i = 0; i < to->nslots; i++) {
    sl_slot_t *t = to->slots[i];
    for (int k = 0; k < from->nslots; k++) {
      sl_slot_t *f = from->slots[k];
      if (strcmp(t->pc->file, f->pc->file)) continue;
      sl_err_t err = {0};
      if (sl_policy_copy_state(t->cur, f->cur, &err) == 0) {
        carried++;
        t->tick = f->tick;
      } else {
        sl_warn("policy %s: starts with a fresh state: %s", t->pc->file, err.msg);
      }
      break;
    }
  }
  return carried;
}

sl_decider_t *sl_host_decider(sl_host_t *h, int i) {
  return i >= 0 && i < h->nslots ? &h->slots[i]->decider : NULL;
}

int sl_host_slot_info(const sl_host_t *h, int i, sl_slot_info_t *out) {
  if (i < 0 || i >= h->nslots) return SL_ENOTFOUND;
  const sl_slot_t *s = h->slots[i];
  *out = (sl_slot_info_t){s->pc->file,       s->cur->name,     s->path,
                          s->version,        s->decider.runs,  s->decider.failures,
                          s->decider.period, s->probation > 0, s->cur->scrape_interval,
                          s->cur->lag,       s->cur->window,   s->cur->scale_from_zero};
  return SL_OK;
}

// ---- for the REPL -------------------------------------------------------------------------------

int sl_host_policy_data(sl_host_t *h, int i, const char *which, lua_State *to, sl_err_t *err) {
  if (i < 0 || i >= h->nslots) return sl_err(err, SL_ENOTFOUND, "no policy %d", i);
  return sl_policy_copy_data(h->slots[i]->cur, which, to, err);
}

#define SET_MAX_DEPTH 16

int sl_host_set_param(sl_host_t *h, int i, const char *path, const char *value, sl_err_t *err) {
  if (i < 0 || i >= h->nslots) return sl_err(err, SL_ENOTFOUND, "no policy %d", i);
  sl_slot_t *s = h->slots[i];
  // The override as `params:` would hold it: {a: {b: VALUE}} for "a.b".
  char keybuf[512];
  if (!*path || strlen(path) >= sizeof keybuf)
    return sl_err(err, SL_EINVAL, "expected a parameter name");
  snprintf(keybuf, sizeof keybuf, "%s", path);
  char *keys[SET_MAX_DEPTH];
  int n = 0;
  for (char *k = keybuf, *dot; k; k = dot ? dot + 1 : NULL) {
    dot = strchr(k, '.');
    if (dot) *dot = '\0';
    if (!*k) return sl_err(err, SL_EINVAL, "'%s': empty parameter name", path);
    if (n == SET_MAX_DEPTH)
      return sl_err(err, SL_EINVAL, "'%s': nested more than %d deep", path, SET_MAX_DEPTH);
    keys[n++] = k;
  }
  char valbuf[1024];
  size_t vl = strlen(value);
  if (vl >= sizeof valbuf)
    return sl_err(err, SL_EINVAL, "value longer than %zu bytes", sizeof valbuf);
  int quoted = vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0];
  snprintf(valbuf, sizeof valbuf, "%.*s", (int)(quoted ? vl - 2 : vl), value + quoted);
  sl_yval_t nodes[SET_MAX_DEPTH + 1];
  sl_yval_t *items[SET_MAX_DEPTH];
  memset(nodes, 0, sizeof nodes);
  for (int k = 0; k < n; k++) {
    nodes[k].type = SL_Y_MAP;
    nodes[k].line = 1;
    nodes[k].n = 1;
    nodes[k].keys = &keys[k];
    items[k] = &nodes[k + 1];
    nodes[k].items = &items[k];
  }
  nodes[n] = (sl_yval_t){.type = SL_Y_SCALAR, .line = 1, .str = valbuf, .quoted = quoted};
  int rc = sl_policy_override_params(s->cur, &nodes[0], err);
  if (rc < 0) return rc;
  if (s->pending) {
    sl_err_t perr = {0};
    if (sl_policy_override_params(s->pending, &nodes[0], &perr) < 0)
      sl_warn("policy %s: version %d, waiting to swap in, keeps its params: %s", s->pc->file,
              s->pending_version, perr.msg);
  }
  return SL_OK;
}

static const char *base_name(const char *p) {
  const char *b = strrchr(p, '/');
  return b ? b + 1 : p;
}

// The slot a dry-run file stands for: the same file name ("p.lua" for policies/p.lua), else the
// same policy name.
static int match_slot(const sl_host_t *h, const char *path, const char *name) {
  const char *b = base_name(path);
  for (int i = 0; i < h->nslots; i++) {
    const char *f = base_name(h->slots[i]->pc->file);
    size_t fl = strlen(f);
    if (!strcmp(f, b) || (!strncmp(f, b, fl) && !strcmp(b + fl, ".lua"))) return i;
  }
  for (int i = 0; name && i < h->nslots; i++)
    if (!strcmp(h->slots[i]->cur->name, name)) return i;
  return -1;
}

int sl_host_dry_run(sl_host_t *h, const char *src, size_t len, const char *path, sl_decision_t *out,
                    sl_host_dry_t *res, sl_err_t *err) {
  memset(res, 0, sizeof *res);
  if (!h->view || h->view->nvariants == 0)
    return sl_err(err, SL_ESTATE, "no view yet: the controller has not ticked");
  char chunk[1024];
  snprintf(chunk, sizeof chunk, "@%s", path);
  sl_policy_t *np = NULL;
  int rc = 0, si = match_slot(h, path, NULL);
  if (si < 0) {
    // Only the file's own name can match it to a running policy: load it as it stands.
    sl_policy_opts_t o = {src, len, chunk, NULL, NULL, h->clock, 0, 0, h->module_path, 0};
    if ((rc = sl_policy_load(&o, &np, err)) < 0) return rc;
    si = match_slot(h, "", np->name);
  }
  sl_slot_t *s = si >= 0 ? h->slots[si] : NULL;
  if (s) {
    // As a reload of that policy would be: its overrides and limits.
    sl_policy_free(np);
    np = NULL;
    sl_policy_opts_t o = {
        src,      len,           chunk,         &h->cfg->doc,   s->pc->params,
        h->clock, s->pc->memory, s->pc->budget, h->module_path, s->pc->time_limit};
    if ((rc = sl_policy_load(&o, &np, err)) < 0) return rc;
  }
  res->slot = si;
  snprintf(res->name, sizeof res->name, "%s", np->name);
  unsigned char *all = NULL;
  const unsigned char *manages = s ? s->manages : NULL;
  if (s && sl_policy_copy_state(np, s->cur, err) == 0) {
    res->fresh_state = 0;
  } else {
    if (s)
      snprintf(res->note, sizeof res->note, "the running state cannot be copied: %s", err->msg);
    res->fresh_state = 1;
    rc = sl_policy_init_state(np, err);
  }
  if (rc == 0 && !manages) {
    all = malloc(h->cfg->nvariants ? (size_t)h->cfg->nvariants : 1);
    if (!all)
      rc = sl_err(err, SL_ENOMEM, "out of memory");
    else
      memset(all, 1, h->cfg->nvariants ? (size_t)h->cfg->nvariants : 1), manages = all;
  }
  if (rc == 0) {
    np->lv.period =
        s ? effective_period(h, s, np) : (np->period > 0 ? np->period : h->cfg->interval);
    rc = sl_policy_decide(np, (sl_view_t *)h->view, manages, h->order, s ? s->tick + 1 : 1, out,
                          err);
  }
  free(all);
  sl_policy_free(np);
  return rc;
}
