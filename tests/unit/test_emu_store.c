// The emulator's store (resourceVersion, versions, history and 410, watchers) and the label and
// field selector parser and matcher.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/emu/select.h"
#include "core/emu/store.h"
#include "tests/unit/tap.h"

static sl_json_t *J(const char *s) {
  sl_err_t err;
  sl_json_t *j = sl_json_parse(s, strlen(s), NULL, &err);
  if (!j) {
    fprintf(stderr, "bad test JSON %s: %s\n", s, err.msg);
    abort();
  }
  return j;
}

static sl_emu_rtype_t *add_pods(sl_emu_store_t *s) {
  sl_emu_rtype_t t = {0};
  t.group = strdup("");
  t.version = strdup("v1");
  t.versions = calloc(1, sizeof *t.versions);
  t.versions[0] = strdup("v1");
  t.n_versions = 1;
  t.resource = strdup("pods");
  t.singular = strdup("pod");
  t.kind = strdup("Pod");
  t.list_kind = strdup("PodList");
  t.short_names = calloc(1, sizeof *t.short_names);
  t.short_names[0] = strdup("po");
  t.n_short = 1;
  t.namespaced = 1;
  t.served = 1;
  return sl_emu_store_add_type(s, &t);
}

static sl_json_t *pod(const char *ns, const char *name, const char *app) {
  char buf[512];
  snprintf(buf, sizeof buf,
           "{\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\","
           "\"labels\":{\"app\":\"%s\"}},\"status\":{\"phase\":\"Pending\"}}",
           name, ns, app);
  return J(buf);
}

typedef struct {
  int n;
  char seen[32][64];
  sl_emu_store_t *s;
  sl_emu_watcher_t *self;
  int unwatch_after;
} rec_t;

static void record(void *ud, const sl_emu_change_t *c) {
  rec_t *r = ud;
  if (r->n < 32)
    snprintf(r->seen[r->n], 64, "%s %s %llu", sl_emu_event_name(c->type),
             sl_json_str_or(sl_json_at(c->obj->json, "metadata.name"), "?"),
             (unsigned long long)c->obj->rv);
  r->n++;
  if (r->unwatch_after && r->n == r->unwatch_after) sl_emu_store_unwatch(r->s, r->self);
}

static void test_store(void) {
  sl_emu_store_t *s = sl_emu_store_new(4);
  sl_emu_rtype_t *t = add_pods(s);
  sl_err_t err;
  T_OK(t && sl_emu_store_find(s, "", "v1", "po") == t, "short name finds the type");
  T_OK(sl_emu_store_find(s, "", "v2", "pods") == NULL, "unserved version finds nothing");

  rec_t all = {0}, once = {0};
  all.s = once.s = s;
  sl_emu_store_watch(s, t, record, &all);
  once.self = sl_emu_store_watch(s, NULL, record, &once);
  once.unwatch_after = 1;

  sl_emu_obj_t *a, *b;
  T_OK(sl_emu_store_put(s, t, pod("default", "a", "web"), 0, &a, &err) == 0, "put a");
  T_OK(sl_emu_store_put(s, t, pod("default", "b", "db"), 0, &b, &err) == 0, "put b");
  T_OK(b->rv > a->rv, "resourceVersion grows (%llu > %llu)", (unsigned long long)b->rv,
       (unsigned long long)a->rv);
  T_OK(!strcmp(sl_json_str_or(sl_json_at(b->json, "metadata.resourceVersion"), ""), "2"),
       "metadata.resourceVersion stamped as a string");
  sl_emu_obj_t *a1 = sl_emu_obj_ref(a);
  sl_emu_obj_t *a2;
  T_OK(sl_emu_store_put(s, t, pod("default", "a", "web2"), 0, &a2, &err) == 0, "replace a");
  T_OK(a1->rv == 1 && a2->rv == 3, "the old version keeps its resourceVersion");
  T_OK(!strcmp(sl_json_str_or(sl_json_at(a1->json, "metadata.labels.app"), ""), "web"),
       "an old version held by a reference is unchanged");
  sl_emu_obj_unref(a1);
  T_OK(sl_emu_store_put(s, t, J("{\"metadata\":{}}"), 0, NULL, &err) < 0,
       "a nameless object is refused");
  T_STR_HAS(err.msg, "metadata.name", "and the message says why");

  sl_emu_obj_t *gone;
  T_OK(sl_emu_store_remove(s, t, "default", "b", 0, &gone) == 0 && gone->rv == 4,
       "remove stamps the deletion's resourceVersion");
  sl_emu_obj_unref(gone);
  T_OK(sl_emu_store_remove(s, t, "default", "b", 0, NULL) == SL_ENOTFOUND, "second remove: absent");
  T_OK(sl_emu_store_get(s, t, "default", "b") == NULL, "removed object is gone");
  T_EQ_INT(all.n, 4, "the type watcher saw every change");
  T_OK(!strcmp(all.seen[2], "MODIFIED a 3") && !strcmp(all.seen[3], "DELETED b 4"),
       "in order, with types (%s, %s)", all.seen[2], all.seen[3]);
  T_EQ_INT(once.n, 1, "a watcher that unwatched inside its callback heard nothing more");

  // History holds 4 changes: rv 1..4. Resuming from 0 needs rv 1: still there.
  rec_t rp = {0};
  T_OK(sl_emu_store_replay(s, t, 0, record, &rp) == 0 && rp.n == 4, "replay from 0: all 4");
  rp.n = 0;
  T_OK(sl_emu_store_replay(s, t, 2, record, &rp) == 0 && rp.n == 2, "replay from 2: the 2 after");
  sl_emu_store_put(s, t, pod("default", "c", "web"), 0, NULL, &err); // rv 5 pushes rv 1 out
  T_EQ_INT(sl_emu_store_oldest_rv(s), 1, "the oldest dropped change is rv 1");
  T_OK(sl_emu_store_replay(s, t, 0, record, &rp) == SL_ERANGE, "replay from 0 now is too old");
  rp.n = 0;
  T_OK(sl_emu_store_replay(s, t, 1, record, &rp) == 0 && rp.n == 4, "replay from 1 still works");

  sl_emu_store_put(s, t, pod("kube-system", "a", "dns"), 0, NULL, &err);
  sl_emu_obj_t **objs;
  size_t n = sl_emu_store_list(s, t, NULL, &objs);
  T_EQ_INT(n, 3, "list across namespaces");
  T_OK(n == 3 && !strcmp(sl_json_str_or(sl_json_at(objs[0]->json, "metadata.name"), ""), "a") &&
           !strcmp(sl_json_str_or(sl_json_at(objs[0]->json, "metadata.namespace"), ""), "default"),
       "sorted by namespace then name");
  free(objs);
  n = sl_emu_store_list(s, t, "kube-system", &objs);
  T_EQ_INT(n, 1, "list in one namespace");
  free(objs);
  n = sl_emu_store_list(s, t, "kube", &objs);
  T_EQ_INT(n, 0, "a namespace prefix is not a namespace");
  free(objs);
  sl_emu_store_free(s);
}

static int sel_ok(const char *s, const char *labels_json) {
  sl_sel_t sel;
  sl_err_t err;
  if (sl_sel_parse_labels(s, &sel, &err) < 0) return -1;
  sl_json_t *l = labels_json ? J(labels_json) : NULL;
  int m = sl_sel_match_labels(&sel, l);
  sl_json_free(l);
  sl_sel_deinit(&sel);
  return m;
}

static void test_labels(void) {
  const char *L = "{\"app\":\"web\",\"tier\":\"gpu\",\"version\":\"3\",\"llm-d.ai/model\":\"x\"}";
  T_EQ_INT(sel_ok("", L), 1, "empty selector selects everything");
  T_EQ_INT(sel_ok(NULL, NULL), 1, "no selector, no labels");
  T_EQ_INT(sel_ok("app=web", L), 1, "equality");
  T_EQ_INT(sel_ok("app==web", L), 1, "double equals");
  T_EQ_INT(sel_ok("app=db", L), 0, "equality mismatch");
  T_EQ_INT(sel_ok("app!=db", L), 1, "inequality");
  T_EQ_INT(sel_ok("missing!=x", L), 1, "inequality holds for a missing label");
  T_EQ_INT(sel_ok("app in (db, web)", L), 1, "in, with spaces");
  T_EQ_INT(sel_ok("app notin (db,web)", L), 0, "notin");
  T_EQ_INT(sel_ok("missing notin (a)", L), 1, "notin holds for a missing label");
  T_EQ_INT(sel_ok("tier", L), 1, "exists");
  T_EQ_INT(sel_ok("!tier", L), 0, "does not exist");
  T_EQ_INT(sel_ok("!missing", L), 1, "does not exist, absent");
  T_EQ_INT(sel_ok("version>2", L), 1, "greater than");
  T_EQ_INT(sel_ok("version<2", L), 0, "less than");
  T_EQ_INT(sel_ok("app=web,tier=gpu", L), 1, "all requirements hold");
  T_EQ_INT(sel_ok("app=web,tier=cpu", L), 0, "one fails, all fail");
  T_EQ_INT(sel_ok("llm-d.ai/model=x", L), 1, "prefixed key");
  T_EQ_INT(sel_ok("app=", "{\"app\":\"\"}"), 1, "empty value");
  static const char *const bad[] = {"app in ()", "app in (a", "app=a b", "=x",
                                    "app=web,",  "app notin", "a>b",     "Bad_/x=y",
                                    "app=(x)",   "!app=x",    "a b",     "app in (a,,b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) T_EQ_INT(sel_ok(bad[i], L), -1, bad[i]);
  sl_sel_t sel;
  sl_err_t err;
  T_OK(sl_sel_parse_labels("app in ()", &sel, &err) < 0, "empty set refused");
  T_STR_HAS(err.msg, "values set can't be empty", "with the API server's reason");
}

static void test_fields(void) {
  sl_json_t *o = J("{\"metadata\":{\"name\":\"p1\",\"namespace\":\"default\"},"
                   "\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\"},"
                   "\"count\":3,\"involvedObject\":{\"name\":\"a,b\"}}");
  struct {
    const char *sel;
    int want;
  } cases[] = {
      {"metadata.name=p1", 1},
      {"metadata.name==p1,metadata.namespace=default", 1},
      {"metadata.name!=p1", 0},
      {"spec.nodeName=n1", 1},
      {"spec.nodeName=", 0},
      {"status.phase!=Pending", 1},
      {"spec.missing=", 1},
      {"count=3", 1},
      {"involvedObject.name=a\\,b", 1},
      {"", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_sel_t sel;
    sl_err_t err;
    int rc = sl_sel_parse_fields(cases[i].sel, &sel, &err);
    T_OK(rc == 0 && sl_sel_match_fields(&sel, o) == cases[i].want, "field selector '%s' -> %d",
         cases[i].sel, cases[i].want);
    sl_sel_deinit(&sel);
  }
  sl_sel_t sel;
  sl_err_t err;
  T_OK(sl_sel_parse_fields("metadata.name", &sel, &err) < 0, "a term without an operator");
  T_OK(sl_sel_parse_fields("=x", &sel, &err) < 0, "a term without a field");
  sl_json_free(o);

  sl_json_t *ls = J("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\","
                    "\"operator\":\"In\",\"values\":[\"a\",\"b\"]},{\"key\":\"x\",\"operator\":"
                    "\"DoesNotExist\"}]}");
  char *s = sl_sel_format(ls);
  T_OK(s && !strcmp(s, "app=web,tier in (a,b),!x"), "LabelSelector as a string (%s)", s);
  free(s);
  sl_json_t *yes = J("{\"app\":\"web\",\"tier\":\"b\"}"), *no = J("{\"app\":\"web\",\"x\":\"1\"}");
  T_OK(sl_sel_object_matches(ls, yes) && !sl_sel_object_matches(ls, no),
       "a LabelSelector object matches like its string");
  sl_json_free(yes);
  sl_json_free(no);
  sl_json_free(ls);
}

int main(void) {
  test_store();
  test_labels();
  test_fields();
  return tap_done();
}
