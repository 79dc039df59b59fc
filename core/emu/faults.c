// Fault switches. See faults.h.
#include "core/emu/faults.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_emu_faults_init(sl_emu_faults_t *f, uint64_t seed) {
  memset(f, 0, sizeof *f);
  f->seed = seed;
  f->retry_after_s = 1;
  sl_rng_seed(&f->rng, seed ^ 0x6661756c7473ULL);
  sl_map_init(&f->pods);
}

static void clear_pods(sl_emu_faults_t *f) {
  for (size_t i = 0; i < f->pods.n_entries; i++)
    if (f->pods.entries[i].key) free(f->pods.entries[i].value);
  sl_map_deinit(&f->pods);
  sl_map_init(&f->pods);
}

void sl_emu_faults_deinit(sl_emu_faults_t *f) {
  clear_pods(f);
  sl_map_deinit(&f->pods);
}

void sl_emu_faults_reset(sl_emu_faults_t *f) {
  f->p500 = f->p429 = f->p409 = 0;
  f->retry_after_s = 1;
  f->expire_next = 0;
  f->drop_every_s = 0;
  clear_pods(f);
}

static int parse_double(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static int set_pod(sl_emu_faults_t *f, const char *key, sl_emu_pod_fault_kind_t kind,
                   double delay) {
  if (kind == SL_EMU_POD_OK) {
    free(sl_map_del(&f->pods, key));
    return SL_OK;
  }
  sl_emu_pod_fault_t *p = sl_map_get(&f->pods, key);
  if (!p) {
    if (!(p = calloc(1, sizeof *p))) return SL_ENOMEM;
    if (sl_map_put(&f->pods, key, p) < 0) {
      free(p);
      return SL_ENOMEM;
    }
  }
  p->kind = kind;
  p->delay_s = delay;
  return SL_OK;
}

// "slow:S", "dead", "garbage", "ok" for a pod.
static int parse_pod_mode(const char *m, sl_emu_pod_fault_kind_t *kind, double *delay) {
  *delay = 0;
  if (!strcmp(m, "dead"))
    *kind = SL_EMU_POD_DEAD;
  else if (!strcmp(m, "garbage"))
    *kind = SL_EMU_POD_GARBAGE;
  else if (!strcmp(m, "ok"))
    *kind = SL_EMU_POD_OK;
  else if (!strncmp(m, "slow:", 5) && !parse_double(m + 5, 0, 3600, delay))
    *kind = SL_EMU_POD_SLOW;
  else
    return -1;
  return 0;
}

int sl_emu_faults_parse(sl_emu_faults_t *f, const char *spec, sl_err_t *err) {
  const char *eq = strchr(spec, '=');
  if (!eq)
    return sl_err(err, SL_EINVAL,
                  "--fault %s: expected NAME=VALUE (500=P, 429=P, 409=P, "
                  "retry-after=S, expire=N, watch-drop=S, pod:NS/NAME=MODE)",
                  spec);
  size_t kl = (size_t)(eq - spec);
  const char *v = eq + 1;
  double x;
#define KEY(s) (kl == strlen(s) && !strncmp(spec, s, kl))
  if (KEY("500") || KEY("429") || KEY("409")) {
    if (parse_double(v, 0, 1, &x))
      return sl_err(err, SL_EINVAL, "--fault %s: the rate must be a number in [0, 1]", spec);
    if (spec[0] == '5')
      f->p500 = x;
    else if (spec[1] == '2')
      f->p429 = x;
    else
      f->p409 = x;
    return SL_OK;
  }
  if (KEY("retry-after")) {
    if (parse_double(v, 0, 3600, &x))
      return sl_err(err, SL_EINVAL, "--fault %s: seconds must be in [0, 3600]", spec);
    f->retry_after_s = x;
    return SL_OK;
  }
  if (KEY("expire")) {
    if (parse_double(v, 0, 1e6, &x) || x != floor(x))
      return sl_err(err, SL_EINVAL, "--fault %s: a count of requests (0 to 1000000)", spec);
    f->expire_next = (unsigned)x;
    return SL_OK;
  }
  if (KEY("watch-drop")) {
    if (parse_double(v, 0, 86400, &x) || (x > 0 && x < 0.01))
      return sl_err(err, SL_EINVAL, "--fault %s: seconds between drops, 0.01 to 86400 (0: off)",
                    spec);
    f->drop_every_s = x;
    return SL_OK;
  }
  if (kl > 4 && !strncmp(spec, "pod:", 4)) {
    char key[300];
    snprintf(key, sizeof key, "%.*s", (int)(kl - 4), spec + 4);
    if (!strchr(key, '/') || key[0] == '/' || key[strlen(key) - 1] == '/')
      return sl_err(err, SL_EINVAL, "--fault %s: name the pod as NAMESPACE/NAME", spec);
    sl_emu_pod_fault_kind_t kind;
    double delay;
    if (parse_pod_mode(v, &kind, &delay))
      return sl_err(err, SL_EINVAL, "--fault %s: the mode is slow:SECONDS, dead, garbage or ok",
                    spec);
    if (set_pod(f, key, kind, delay) < 0) return sl_err(err, SL_ENOMEM, "out of memory");
    return SL_OK;
  }
#undef KEY
  return sl_err(err, SL_EINVAL,
                "--fault %s: unknown fault (500, 429, 409, retry-after, expire, watch-drop, "
                "pod:NS/NAME)",
                spec);
}

static int num_field(const sl_json_t *j, const char *key, double lo, double hi, double *out,
                     sl_err_t *err) {
  const sl_json_t *v = sl_json_get(j, key);
  if (!v) return 0;
  if (v->type != SL_JSON_NUMBER || !isfinite(v->num) || v->num < lo || v->num > hi)
    return sl_err(err, SL_EINVAL, "%s must be a number in [%g, %g]", key, lo, hi);
  *out = v->num;
  return 1;
}

int sl_emu_faults_update(sl_emu_faults_t *f, const sl_json_t *j, int *drop_now, sl_err_t *err) {
  *drop_now = 0;
  if (!j || j->type != SL_JSON_OBJECT) return sl_err(err, SL_EINVAL, "expected a JSON object");
  static const char *const known[] = {
      "error500",   "error429",    "conflict409",           "retryAfterSeconds",
      "expireNext", "dropWatches", "watchDropEverySeconds", "pods",
      "reset",      NULL};
  for (size_t i = 0; i < j->n; i++) {
    int ok = 0;
    for (const char *const *k = known; *k && !ok; k++) ok = !strcmp(*k, j->keys[i]);
    if (!ok) return sl_err(err, SL_EINVAL, "unknown field '%s'", j->keys[i]);
  }
  // Validate everything before changing anything; with reset, what is not given is cleared.
  const sl_json_t *reset = sl_json_get(j, "reset");
  if (reset && reset->type != SL_JSON_BOOL)
    return sl_err(err, SL_EINVAL, "reset must be a boolean");
  int clear = reset && reset->b;
  double p500 = clear ? 0 : f->p500, p429 = clear ? 0 : f->p429, p409 = clear ? 0 : f->p409;
  double ra = clear ? 1 : f->retry_after_s, expire = clear ? 0 : f->expire_next;
  double every = clear ? 0 : f->drop_every_s;
  int rc;
  if ((rc = num_field(j, "error500", 0, 1, &p500, err)) < 0 ||
      (rc = num_field(j, "error429", 0, 1, &p429, err)) < 0 ||
      (rc = num_field(j, "conflict409", 0, 1, &p409, err)) < 0 ||
      (rc = num_field(j, "retryAfterSeconds", 0, 3600, &ra, err)) < 0 ||
      (rc = num_field(j, "expireNext", 0, 1e6, &expire, err)) < 0 ||
      (rc = num_field(j, "watchDropEverySeconds", 0, 86400, &every, err)) < 0)
    return rc;
  if (expire != floor(expire)) return sl_err(err, SL_EINVAL, "expireNext must be an integer");
  const sl_json_t *dw = sl_json_get(j, "dropWatches");
  if (dw && dw->type != SL_JSON_BOOL)
    return sl_err(err, SL_EINVAL, "dropWatches must be a boolean");
  const sl_json_t *pods = sl_json_get(j, "pods");
  if (pods && pods->type != SL_JSON_OBJECT)
    return sl_err(err, SL_EINVAL, "pods must map NAMESPACE/NAME to a fault");
  for (size_t i = 0; pods && i < pods->n; i++) {
    const sl_json_t *p = pods->items[i];
    if (!strchr(pods->keys[i], '/'))
      return sl_err(err, SL_EINVAL, "pods: '%s' is not NAMESPACE/NAME", pods->keys[i]);
    if (p->type == SL_JSON_NULL) continue;
    const char *mode = sl_json_str_or(sl_json_get(p, "mode"), NULL);
    if (!mode || (strcmp(mode, "slow") && strcmp(mode, "dead") && strcmp(mode, "garbage") &&
                  strcmp(mode, "ok")))
      return sl_err(err, SL_EINVAL, "pods.%s.mode must be slow, dead, garbage or ok",
                    pods->keys[i]);
  }
  if (clear) sl_emu_faults_reset(f);
  f->p500 = p500;
  f->p429 = p429;
  f->p409 = p409;
  f->retry_after_s = ra;
  f->expire_next = (unsigned)expire;
  f->drop_every_s = every;
  for (size_t i = 0; pods && i < pods->n; i++) {
    const sl_json_t *p = pods->items[i];
    sl_emu_pod_fault_kind_t kind = SL_EMU_POD_OK;
    const char *mode = sl_json_str_or(sl_json_get(p, "mode"), "ok");
    if (!strcmp(mode, "slow"))
      kind = SL_EMU_POD_SLOW;
    else if (!strcmp(mode, "dead"))
      kind = SL_EMU_POD_DEAD;
    else if (!strcmp(mode, "garbage"))
      kind = SL_EMU_POD_GARBAGE;
    if (set_pod(f, pods->keys[i], kind, sl_json_num_or(sl_json_get(p, "delaySeconds"), 1)) < 0)
      return sl_err(err, SL_ENOMEM, "out of memory");
  }
  *drop_now = dw && dw->b;
  return SL_OK;
}

sl_json_t *sl_emu_faults_json(const sl_emu_faults_t *f) {
  sl_json_t *j = sl_json_object(), *pods = sl_json_object();
  if (!j || !pods) {
    sl_json_free(j);
    sl_json_free(pods);
    return NULL;
  }
  int rc = sl_json_set(j, "error500", sl_json_number(f->p500));
  rc |= sl_json_set(j, "error429", sl_json_number(f->p429));
  rc |= sl_json_set(j, "conflict409", sl_json_number(f->p409));
  rc |= sl_json_set(j, "retryAfterSeconds", sl_json_number(f->retry_after_s));
  rc |= sl_json_set(j, "expireNext", sl_json_number(f->expire_next));
  rc |= sl_json_set(j, "watchDropEverySeconds", sl_json_number(f->drop_every_s));
  rc |= sl_json_set(j, "watchesDropped", sl_json_number(f->drops));
  rc |= sl_json_set(j, "seed", sl_json_number((double)f->seed));
  static const char *const modes[] = {"ok", "slow", "dead", "garbage"};
  for (size_t i = 0; i < f->pods.n_entries; i++) {
    if (!f->pods.entries[i].key) continue;
    const sl_emu_pod_fault_t *p = f->pods.entries[i].value;
    sl_json_t *o = sl_json_object();
    rc |= sl_json_set(o, "mode", sl_json_string(modes[p->kind]));
    if (p->kind == SL_EMU_POD_SLOW)
      rc |= sl_json_set(o, "delaySeconds", sl_json_number(p->delay_s));
    rc |= sl_json_set(pods, f->pods.entries[i].key, o);
  }
  rc |= sl_json_set(j, "pods", pods);
  if (rc < 0) {
    sl_json_free(j);
    return NULL;
  }
  return j;
}

int sl_emu_faults_draw(sl_emu_faults_t *f, int is_write) {
  // One draw per request whatever is switched on: which requests fail depends only on the seed
  // and the order of requests.
  double u = sl_rng_uniform(&f->rng);
  if (u < f->p500) return 500;
  if (u < f->p500 + f->p429) return 429;
  if (is_write && u < f->p500 + f->p429 + f->p409) return 409;
  return 0;
}

int sl_emu_faults_take_expire(sl_emu_faults_t *f) {
  if (!f->expire_next) return 0;
  f->expire_next--;
  return 1;
}

const sl_emu_pod_fault_t *sl_emu_faults_pod(const sl_emu_faults_t *f, const char *ns,
                                            const char *name) {
  char key[600];
  snprintf(key, sizeof key, "%s/%s", ns, name);
  return sl_map_get(&f->pods, key);
}
