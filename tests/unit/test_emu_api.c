// The emulated API server over real sockets (libcurl and raw sockets on a client thread, the
// emulator's loop on the main thread): request semantics (404/409/410/413/415/422 as Status
// objects, generateName, limit/continue, selectors, Tables, scale and status subresources,
// preconditions, server-side apply, namespace cascades), watches (replay, expiry, bookmarks,
// timeouts, selection changes, a client leaving mid-watch, a thousand at once), hostile
// bodies, faults (deterministic given the seed), and the backend interface.
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/emu/emu.h"
#include "core/emu/faults.h"
#include "tests/unit/tap.h"

// ---- the test backend: records what the emulator tells it -------------------------------------

typedef struct {
  int changed, scaled, deleted, pod_deleted, started, stopped;
  long last_from, last_to;
} rec_t;

static int rb_start(void *ud, sl_emu_t *e, sl_err_t *err) {
  __atomic_add_fetch(&((rec_t *)ud)->started, 1, __ATOMIC_SEQ_CST);
  return 0;
}
static void rb_changed(void *ud, sl_emu_t *e, const char *res, const sl_json_t *o) {
  __atomic_add_fetch(&((rec_t *)ud)->changed, 1, __ATOMIC_SEQ_CST);
}
static void rb_scaled(void *ud, sl_emu_t *e, const char *res, const sl_json_t *o, long from,
                      long to) {
  rec_t *r = ud;
  r->last_from = from;
  r->last_to = to;
  __atomic_add_fetch(&r->scaled, 1, __ATOMIC_SEQ_CST);
}
static void rb_deleted(void *ud, sl_emu_t *e, const char *res, const sl_json_t *o) {
  __atomic_add_fetch(&((rec_t *)ud)->deleted, 1, __ATOMIC_SEQ_CST);
}
static void rb_pod_deleted(void *ud, sl_emu_t *e, const sl_json_t *pod) {
  __atomic_add_fetch(&((rec_t *)ud)->pod_deleted, 1, __ATOMIC_SEQ_CST);
}
static void rb_stop(void *ud) {
  __atomic_add_fetch(&((rec_t *)ud)->stopped, 1, __ATOMIC_SEQ_CST);
}

static int get_int(int *p) {
  return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

// ---- running things on the loop from the client thread ----------------------------------------

typedef struct {
  uv_loop_t loop;
  uv_async_t call;
  uv_sem_t done;
  void (*fn)(void *);
  void *arg;
  sl_emu_t *emu;
  int port;
  rec_t rec;
  int quit;
} env_t;

static void on_call(uv_async_t *a) {
  env_t *env = a->data;
  if (env->fn) env->fn(env->arg);
  env->fn = NULL;
  if (env->quit) {
    sl_emu_free(env->emu);
    env->emu = NULL;
    uv_close((uv_handle_t *)&env->call, NULL);
  }
  uv_sem_post(&env->done);
}

static void on_loop(env_t *env, void (*fn)(void *), void *arg) {
  env->fn = fn;
  env->arg = arg;
  uv_async_send(&env->call);
  uv_sem_wait(&env->done);
}

// ---- HTTP helpers -------------------------------------------------------------------------------

typedef struct {
  char *buf;
  size_t len;
} buf_t;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  buf_t *b = ud;
  size_t k = size * n;
  b->buf = realloc(b->buf, b->len + k + 1);
  memcpy(b->buf + b->len, p, k);
  b->len += k;
  b->buf[b->len] = '\0';
  return k;
}

typedef struct {
  long status;
  sl_json_t *json; // the body parsed, when it is JSON
  char *body;
  size_t len;
  char retry_after[16];
  CURLcode rc;
} resp_t;

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  resp_t *r = ud;
  if (!strncasecmp(p, "Retry-After: ", 13)) sscanf(p + 13, "%15s", r->retry_after);
  return size * n;
}

static int g_port;

static resp_t req(const char *method, const char *path, const char *ctype, const char *body,
                  size_t blen, const char *accept) {
  resp_t r = {0};
  buf_t b = {0};
  char url[2048];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", g_port, path);
  CURL *c = curl_easy_init();
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  struct curl_slist *hs = curl_slist_append(NULL, "Expect:");
  char h[256];
  if (ctype) {
    snprintf(h, sizeof h, "Content-Type: %s", ctype);
    hs = curl_slist_append(hs, h);
  }
  if (accept) {
    snprintf(h, sizeof h, "Accept: %s", accept);
    hs = curl_slist_append(hs, h);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
  }
  r.rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(hs);
  curl_easy_cleanup(c);
  r.body = b.buf;
  r.len = b.len;
  sl_err_t err;
  if (b.buf) r.json = sl_json_parse(b.buf, b.len, NULL, &err);
  return r;
}

static resp_t reqs(const char *method, const char *path, const char *ctype, const char *body) {
  return req(method, path, ctype, body, body ? strlen(body) : 0, NULL);
}

static void resp_free(resp_t *r) {
  sl_json_free(r->json);
  free(r->body);
}

static const char *jstr(const resp_t *r, const char *path) {
  return sl_json_str_or(sl_json_at(r->json, path), "");
}

static double jnum(const resp_t *r, const char *path) {
  return sl_json_num_or(sl_json_at(r->json, path), -1);
}

// A Status object with this code and reason.
static int is_status(const resp_t *r, int code, const char *reason) {
  return r->status == code && !strcmp(jstr(r, "kind"), "Status") &&
         !strcmp(jstr(r, "reason"), reason) && jnum(r, "code") == code;
}

static int stat_of(const char *field) {
  resp_t r = reqs("GET", "/_emu/stats", NULL, NULL);
  int v = (int)jnum(&r, field);
  resp_free(&r);
  return v;
}

// Polls /_emu/stats until field == want (bounded); returns the last value.
static int wait_stat(const char *field, int want) {
  int v = -1;
  for (int i = 0; i < 1000; i++) {
    if ((v = stat_of(field)) == want) break;
    usleep(10000);
  }
  return v;
}

static const char *CM = "application/json";

static void make_cm(const char *ns, const char *name, const char *labels) {
  char body[512], path[256];
  snprintf(body, sizeof body,
           "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s\","
           "\"labels\":%s},\"data\":{\"k\":\"v\"}}",
           name, labels ? labels : "{}");
  snprintf(path, sizeof path, "/api/v1/namespaces/%s/configmaps", ns);
  resp_t r = reqs("POST", path, CM, body);
  if (r.status != 201) fprintf(stderr, "# create %s: %ld %s\n", name, r.status, r.body);
  resp_free(&r);
}

// ---- raw watch sockets ----------------------------------------------------------------------

static int watch_socket(const char *path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {0};
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)g_port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  char rq[1024];
  int n = snprintf(rq, sizeof rq,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n", path);
  if (write(fd, rq, (size_t)n) != n) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// Reads what is there (non-blocking) and appends it.
static void drain(int fd, buf_t *b) {
  char tmp[8192];
  for (;;) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) return;
    on_data(tmp, 1, (size_t)n, b);
  }
}

// The position after the next watch event of this type about this object name, or NULL.
static const char *next_event(const char *from, const char *type, const char *name) {
  char t[64], n[300];
  snprintf(t, sizeof t, "{\"type\":\"%s\"", type);
  snprintf(n, sizeof n, "\"name\":\"%s\"", name);
  for (const char *p = from ? strstr(from, t) : NULL; p; p = strstr(p + 1, t)) {
    const char *end = strstr(p + 1, "{\"type\":");
    const char *hit = strstr(p, n);
    if (hit && (!end || hit < end)) return end ? end : p + strlen(p);
  }
  return NULL;
}

// ---- the tests ----------------------------------------------------------------------------------

static void test_errors(void) {
  resp_t r = reqs("GET", "/api/v1/namespaces/default/configmaps/nope", NULL, NULL);
  T_OK(is_status(&r, 404, "NotFound"), "missing object: 404 NotFound Status");
  T_OK(!strcmp(jstr(&r, "message"), "configmaps \"nope\" not found"), "message (%s)",
       jstr(&r, "message"));
  T_OK(!strcmp(jstr(&r, "details.name"), "nope") && !strcmp(jstr(&r, "details.kind"), "configmaps"),
       "details name and kind");
  resp_free(&r);
  r = reqs("GET", "/api/v1/frobnicators", NULL, NULL);
  T_OK(is_status(&r, 404, "NotFound"), "unknown resource: 404");
  resp_free(&r);
  r = reqs("GET", "/apis/nope.example/v1/things", NULL, NULL);
  T_OK(is_status(&r, 404, "NotFound"), "unknown group: 404");
  resp_free(&r);
  r = reqs("GET", "/apis/apps/v9/deployments", NULL, NULL);
  T_OK(is_status(&r, 404, "NotFound"), "unknown version: 404");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/nodes/x", NULL, NULL);
  T_OK(r.status == 404, "a cluster-scoped type under a namespace: 404");
  resp_free(&r);

  const char *cm = "{\"metadata\":{\"name\":\"dup\"},\"data\":{\"a\":\"1\"}}";
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM, cm);
  T_EQ_INT(r.status, 201, "create");
  T_OK(!strcmp(jstr(&r, "kind"), "ConfigMap") && !strcmp(jstr(&r, "apiVersion"), "v1"),
       "kind and apiVersion filled in");
  T_OK(strlen(jstr(&r, "metadata.uid")) == 36, "uid assigned");
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM, cm);
  T_OK(is_status(&r, 409, "AlreadyExists"), "second create: 409 AlreadyExists");
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/nowhere/configmaps", CM, cm);
  T_OK(is_status(&r, 404, "NotFound") && strstr(jstr(&r, "message"), "namespaces \"nowhere\""),
       "create in a missing namespace: 404 naming the namespace");
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM,
           "{\"metadata\":{\"name\":\"x\",\"namespace\":\"other\"}}");
  T_OK(is_status(&r, 400, "BadRequest"), "namespace mismatch: 400");
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM,
           "{\"metadata\":{\"name\":\"Bad_Name\"}}");
  T_OK(is_status(&r, 422, "Invalid") && strstr(jstr(&r, "message"), "RFC 1123"),
       "invalid name: 422 Invalid (%s)", jstr(&r, "message"));
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM, "{\"metadata\":{}}");
  T_OK(is_status(&r, 422, "Invalid"), "no name and no generateName: 422");
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM,
           "{\"kind\":\"Secret\",\"metadata\":{\"name\":\"k\"}}");
  T_OK(is_status(&r, 400, "BadRequest"), "a kind that is not the resource's: 400");
  resp_free(&r);
  r = reqs("POST", "/apis/apps/v1/namespaces/default/deployments", CM,
           "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}},"
           "\"template\":{\"metadata\":{\"labels\":{\"a\":\"c\"}},\"spec\":{\"containers\":[{"
           "\"name\":\"c\",\"image\":\"i\"}]}}}}");
  T_OK(is_status(&r, 422, "Invalid") && strstr(jstr(&r, "message"), "selector"),
       "a selector that misses the template: 422");
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM,
           "{\"metadata\":{\"generateName\":\"gen-\"}}");
  T_OK(r.status == 201 && !strncmp(jstr(&r, "metadata.name"), "gen-", 4) &&
           strlen(jstr(&r, "metadata.name")) == 9,
       "generateName: prefix and 5 characters (%s)", jstr(&r, "metadata.name"));
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", CM,
           "{\"metadata\":{\"name\":\"dry\"}}");
  T_EQ_INT(r.status, 201, "dry-run create answers");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps/dry", NULL, NULL);
  T_EQ_INT(r.status, 404, "and stores nothing");
  resp_free(&r);
}

static void test_hostile(void) {
  resp_t r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM, "{\"metadata\":");
  T_OK(is_status(&r, 400, "BadRequest") && strstr(jstr(&r, "message"), "not valid JSON"),
       "truncated JSON: 400");
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM, "\xff\xfe garbage \x01");
  T_OK(is_status(&r, 400, "BadRequest"), "garbage bytes: 400");
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM, "[1,2,3]");
  T_OK(is_status(&r, 400, "BadRequest"), "an array for an object: 400");
  resp_free(&r);
  size_t deep = 20000;
  char *d = malloc(deep * 2 + 1);
  for (size_t i = 0; i < deep; i++) d[i] = '[', d[deep + i] = ']';
  d[2 * deep] = '\0';
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", CM, d);
  T_OK(is_status(&r, 400, "BadRequest") && strstr(jstr(&r, "message"), "nested too deeply"),
       "20000-deep nesting: 400 (%s)", jstr(&r, "message"));
  resp_free(&r);
  memset(d, '{', deep);
  r = reqs("PATCH", "/api/v1/namespaces/default/configmaps/dup", "application/merge-patch+json", d);
  T_OK(is_status(&r, 400, "BadRequest"), "deeply nested patch: 400");
  resp_free(&r);
  free(d);
  size_t big = 300 << 10; // over the 256 KiB cap the test server has
  char *b = malloc(big);
  memset(b, ' ', big);
  r = req("POST", "/api/v1/namespaces/default/configmaps", CM, b, big, NULL);
  T_EQ_INT(r.status, 413, "body over the cap: 413");
  resp_free(&r);
  free(b);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", "text/plain", "{}");
  T_OK(is_status(&r, 415, "UnsupportedMediaType"), "text/plain create: 415");
  resp_free(&r);
  r = reqs("POST", "/api/v1/namespaces/default/configmaps", "application/vnd.kubernetes.protobuf",
           "k8s");
  T_OK(is_status(&r, 400, "BadRequest"), "a protobuf body without the envelope: 400");
  resp_free(&r);
  static const char pb_deploy[] = "k8s\0\x0a\x15\x0a\x07"
                                  "apps/v1\x12\x0a"
                                  "Deployment\x12\x00";
  r = req("POST", "/apis/apps/v1/namespaces/default/deployments",
          "application/vnd.kubernetes.protobuf", pb_deploy, sizeof pb_deploy - 1, NULL);
  T_OK(is_status(&r, 415, "UnsupportedMediaType"), "a protobuf Deployment: 415 (%ld %s)", r.status,
       r.body);
  resp_free(&r);
  r = reqs("PATCH", "/api/v1/namespaces/default/configmaps/dup", "application/json", "{}");
  T_OK(is_status(&r, 415, "UnsupportedMediaType"), "PATCH with a non-patch type: 415");
  resp_free(&r);
  r = req("GET", "/api/v1/namespaces/default/configmaps", NULL, NULL, 0,
          "application/vnd.kubernetes.protobuf");
  T_OK(is_status(&r, 406, "NotAcceptable"), "accepting only protobuf: 406");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps?labelSelector=a%20in%20(", NULL, NULL);
  T_OK(is_status(&r, 400, "BadRequest"), "bad label selector: 400");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps?fieldSelector=nope", NULL, NULL);
  T_OK(is_status(&r, 400, "BadRequest"), "bad field selector: 400");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=abc", NULL, NULL);
  T_OK(is_status(&r, 400, "BadRequest"),
       "a watch from a resourceVersion that is not a number: 400");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps?continue=zz", NULL, NULL);
  T_OK(is_status(&r, 400, "BadRequest"), "bad continue token: 400");
  resp_free(&r);
  r = reqs("PUT", "/api/v1/namespaces/default/configmaps/dup", CM,
           "{\"metadata\":{\"name\":\"other\"}}");
  T_OK(is_status(&r, 400, "BadRequest"), "PUT naming another object: 400");
  resp_free(&r);
  r = reqs("DELETE", "/api/v1/namespaces/default/configmaps/dup", CM, "{oops");
  T_OK(is_status(&r, 400, "BadRequest"), "DELETE with garbage options: 400");
  resp_free(&r);
  r = reqs("GET", "/healthz", NULL, NULL);
  T_OK(r.status == 200 && r.body && !strcmp(r.body, "ok"), "still healthy after all that");
  resp_free(&r);
}

static void test_lists(void) {
  make_cm("default", "l-a", "{\"app\":\"x\",\"tier\":\"1\"}");
  make_cm("default", "l-b", "{\"app\":\"x\",\"tier\":\"2\"}");
  make_cm("default", "l-c", "{\"app\":\"y\"}");
  make_cm("kube-system", "l-d", "{\"app\":\"x\"}");
  resp_t r = reqs("GET", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx", NULL, NULL);
  const sl_json_t *items = sl_json_get(r.json, "items");
  T_OK(r.status == 200 && !strcmp(jstr(&r, "kind"), "ConfigMapList") && items && items->n == 2,
       "label selector in one namespace: 2 items");
  T_OK(strlen(jstr(&r, "metadata.resourceVersion")) > 0, "list carries a resourceVersion");
  resp_free(&r);
  r = reqs("GET", "/api/v1/configmaps?labelSelector=app%3Dx", NULL, NULL);
  items = sl_json_get(r.json, "items");
  T_OK(items && items->n == 3, "across namespaces: 3");
  resp_free(&r);
  r = reqs("GET", "/api/v1/configmaps?labelSelector=app+in+(x,y),tier+notin+(2)", NULL, NULL);
  items = sl_json_get(r.json, "items");
  T_OK(items && items->n == 3, "in / notin (a, c, d)");
  resp_free(&r);
  r = reqs("GET",
           "/api/v1/configmaps?fieldSelector=metadata.namespace%3Dkube-system,metadata.name%3Dl-d",
           NULL, NULL);
  items = sl_json_get(r.json, "items");
  T_OK(items && items->n == 1, "field selector on namespace and name");
  resp_free(&r);
  // Pages of 2 through the default namespace's l-* (and whatever else is there).
  int total = 0, pages = 0;
  char path[512] = "/api/v1/namespaces/default/configmaps?labelSelector=app&limit=2";
  for (;;) {
    r = reqs("GET", path, NULL, NULL);
    items = sl_json_get(r.json, "items");
    total += items ? (int)items->n : 0;
    pages++;
    const char *cont = jstr(&r, "metadata.continue");
    if (!*cont || pages > 5) {
      resp_free(&r);
      break;
    }
    T_OK(items && items->n == 2, "a full page before a continue token");
    snprintf(path, sizeof path,
             "/api/v1/namespaces/default/configmaps?labelSelector=app&limit=2&continue=%s", cont);
    resp_free(&r);
  }
  T_OK(total == 3 && pages == 2, "limit/continue: 3 items in 2 pages (%d in %d)", total, pages);
  r = req("GET", "/api/v1/namespaces/default/configmaps?labelSelector=app", NULL, NULL, 0,
          "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  T_OK(!strcmp(jstr(&r, "kind"), "Table") && sl_json_get(r.json, "rows") &&
           sl_json_get(r.json, "rows")->n == 3,
       "Table with 3 rows");
  const sl_json_t *cols = sl_json_get(r.json, "columnDefinitions");
  T_OK(cols && cols->n == 3 &&
           !strcmp(sl_json_str_or(sl_json_get(cols->items[1], "name"), ""), "Data"),
       "ConfigMap columns: Name, Data, Age");
  T_OK(!strcmp(sl_json_str_or(sl_json_at(sl_json_get(r.json, "rows")->items[0], "object.kind"), ""),
               "PartialObjectMetadata"),
       "rows carry metadata objects");
  resp_free(&r);
}

static void test_updates(void) {
  resp_t r = reqs("GET", "/api/v1/namespaces/default/configmaps/l-a", NULL, NULL);
  char rv[32];
  snprintf(rv, sizeof rv, "%s", jstr(&r, "metadata.resourceVersion"));
  resp_free(&r);
  char body[512];
  snprintf(body, sizeof body,
           "{\"metadata\":{\"name\":\"l-a\",\"resourceVersion\":\"%s\"},\"data\":{\"k\":\"2\"}}",
           rv);
  r = reqs("PUT", "/api/v1/namespaces/default/configmaps/l-a", CM, body);
  T_OK(r.status == 200 && strcmp(jstr(&r, "metadata.resourceVersion"), rv) &&
           !strcmp(jstr(&r, "data.k"), "2"),
       "update with the current resourceVersion");
  resp_free(&r);
  r = reqs("PUT", "/api/v1/namespaces/default/configmaps/l-a", CM, body);
  T_OK(is_status(&r, 409, "Conflict") &&
           strstr(jstr(&r, "message"), "the object has been modified"),
       "the same update again (now stale): 409 Conflict");
  resp_free(&r);
  r = reqs("PUT", "/api/v1/namespaces/default/configmaps/l-a", CM,
           "{\"metadata\":{\"name\":\"l-a\"},\"data\":{\"k\":\"2\"}}");
  char rv2[32];
  snprintf(rv2, sizeof rv2, "%s", jstr(&r, "metadata.resourceVersion"));
  resp_free(&r);
  r = reqs("PUT", "/api/v1/namespaces/default/configmaps/l-a", CM,
           "{\"metadata\":{\"name\":\"l-a\"},\"data\":{\"k\":\"2\"}}");
  T_OK(!strcmp(jstr(&r, "metadata.resourceVersion"), rv2),
       "a no-op update keeps the resourceVersion");
  char uid[64];
  snprintf(uid, sizeof uid, "%s", jstr(&r, "metadata.uid"));
  resp_free(&r);
  r = reqs("DELETE", "/api/v1/namespaces/default/configmaps/l-a", CM,
           "{\"preconditions\":{\"uid\":\"00000000-0000-4000-8000-000000000000\"}}");
  T_OK(is_status(&r, 409, "Conflict") && strstr(jstr(&r, "message"), "Precondition failed"),
       "delete with a wrong uid precondition: 409");
  resp_free(&r);
  snprintf(body, sizeof body,
           "{\"preconditions\":{\"uid\":\"%s\"},\"propagationPolicy\":\"Background\"}", uid);
  r = reqs("DELETE", "/api/v1/namespaces/default/configmaps/l-a", CM, body);
  T_OK(r.status == 200 && !strcmp(jstr(&r, "metadata.name"), "l-a"), "delete answers the object");
  resp_free(&r);

  // Server-side apply: creates, then merges.
  const char *yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: \"1\"\n";
  r = reqs("PATCH", "/api/v1/namespaces/default/configmaps/ssa?fieldManager=t",
           "application/apply-patch+yaml", yaml);
  T_OK(r.status == 201 && !strcmp(jstr(&r, "data.a"), "1"), "apply-patch creates (%ld)", r.status);
  resp_free(&r);
  r = reqs("PATCH", "/api/v1/namespaces/default/configmaps/ssa?fieldManager=t",
           "application/apply-patch+yaml",
           "{\"metadata\":{\"name\":\"ssa\"},\"data\":{\"b\":\"2\"}}");
  T_OK(r.status == 200 && !strcmp(jstr(&r, "data.a"), "1") && !strcmp(jstr(&r, "data.b"), "2"),
       "apply-patch merges into the live object");
  resp_free(&r);
  r = reqs("PATCH", "/api/v1/namespaces/default/configmaps/ssa", "application/apply-patch+yaml",
           "{}");
  T_OK(is_status(&r, 400, "BadRequest"), "apply-patch without a fieldManager: 400");
  resp_free(&r);

  r = reqs("DELETE", "/api/v1/namespaces/default", NULL, NULL);
  T_OK(is_status(&r, 403, "Forbidden"), "the default namespace may not be deleted");
  resp_free(&r);

  // Namespaces take their objects with them.
  r = reqs("POST", "/api/v1/namespaces", CM, "{\"metadata\":{\"name\":\"gone\"}}");
  T_OK(r.status == 201 && !strcmp(jstr(&r, "status.phase"), "Active"), "namespace created Active");
  resp_free(&r);
  make_cm("gone", "x", NULL);
  r = reqs("DELETE", "/api/v1/namespaces/gone", NULL, NULL);
  T_EQ_INT(r.status, 200, "namespace deleted");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/gone/configmaps/x", NULL, NULL);
  T_EQ_INT(r.status, 404, "its configmap went with it");
  resp_free(&r);
}

static const char *DEPLOY =
    "{\"metadata\":{\"name\":\"w\"},\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":"
    "{\"app\":\"w\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"w\"}},\"spec\":"
    "{\"containers\":[{\"name\":\"c\",\"image\":\"i:1\"}]}}}}";

static void test_subresources(env_t *env) {
  resp_t r = reqs("POST", "/apis/apps/v1/namespaces/default/deployments", CM, DEPLOY);
  T_OK(r.status == 201 && jnum(&r, "metadata.generation") == 1, "deployment created, generation 1");
  resp_free(&r);
  for (int i = 0; i < 500 && get_int(&env->rec.changed) < 1; i++) usleep(10000);
  T_EQ_INT(get_int(&env->rec.changed), 1, "the backend heard of the new workload");
  r = reqs("GET", "/apis/apps/v1/namespaces/default/deployments/w/scale", NULL, NULL);
  T_OK(r.status == 200 && !strcmp(jstr(&r, "kind"), "Scale") &&
           !strcmp(jstr(&r, "apiVersion"), "autoscaling/v1") && jnum(&r, "spec.replicas") == 2 &&
           !strcmp(jstr(&r, "status.selector"), "app=w"),
       "GET scale: autoscaling/v1 Scale with a string selector");
  resp_free(&r);
  r = reqs("PUT", "/apis/apps/v1/namespaces/default/deployments/w/scale", CM,
           "{\"metadata\":{\"name\":\"w\",\"resourceVersion\":\"1\"},\"spec\":{\"replicas\":5}}");
  T_OK(is_status(&r, 409, "Conflict"), "PUT scale with a stale resourceVersion: 409");
  resp_free(&r);
  r = reqs("PATCH", "/apis/apps/v1/namespaces/default/deployments/w/scale",
           "application/merge-patch+json", "{\"spec\":{\"replicas\":4}}");
  T_OK(r.status == 200 && jnum(&r, "spec.replicas") == 4, "PATCH scale");
  resp_free(&r);
  r = reqs("PATCH", "/apis/apps/v1/namespaces/default/deployments/w/scale",
           "application/merge-patch+json", "{\"spec\":{\"replicas\":-1}}");
  T_OK(is_status(&r, 422, "Invalid"), "negative replicas: 422");
  resp_free(&r);
  for (int i = 0; i < 500 && get_int(&env->rec.scaled) < 1; i++) usleep(10000);
  T_OK(get_int(&env->rec.scaled) == 1 && env->rec.last_from == 2 && env->rec.last_to == 4,
       "the backend heard the scale, 2 -> 4");
  r = reqs("GET", "/apis/apps/v1/namespaces/default/deployments/w", NULL, NULL);
  T_OK(jnum(&r, "spec.replicas") == 4 && jnum(&r, "metadata.generation") == 2,
       "scale changed spec.replicas and bumped the generation");
  resp_free(&r);
  r = reqs(
      "PUT", "/apis/apps/v1/namespaces/default/deployments/w/status", CM,
      "{\"metadata\":{\"name\":\"w\"},\"spec\":{\"replicas\":99},\"status\":{\"replicas\":7}}");
  T_OK(r.status == 200 && jnum(&r, "status.replicas") == 7 && jnum(&r, "spec.replicas") == 4 &&
           jnum(&r, "metadata.generation") == 2,
       "a status write changes only status");
  resp_free(&r);
  r = reqs("PATCH", "/apis/apps/v1/namespaces/default/deployments/w",
           "application/merge-patch+json",
           "{\"status\":{\"replicas\":1},\"metadata\":{\"labels\":{\"x\":\"y\"}}}");
  T_OK(r.status == 200 && jnum(&r, "status.replicas") == 7 &&
           !strcmp(jstr(&r, "metadata.labels.x"), "y"),
       "a main-resource patch leaves status alone");
  T_EQ_INT(jnum(&r, "metadata.generation"), 2, "and a metadata change keeps the generation");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps/dup/scale", NULL, NULL);
  T_EQ_INT(r.status, 404, "no scale subresource on a configmap");
  resp_free(&r);
  r = reqs("DELETE", "/apis/apps/v1/namespaces/default/deployments/w", NULL, NULL);
  T_EQ_INT(r.status, 200, "deployment deleted");
  resp_free(&r);
  for (int i = 0; i < 500 && get_int(&env->rec.deleted) < 1; i++) usleep(10000);
  T_EQ_INT(get_int(&env->rec.deleted), 1, "the backend heard of the deletion");
}

typedef struct {
  const char *name;
  int rc;
} capi_t;

static env_t *g_env;

static void capi_pod(void *ud) {
  capi_t *c = ud;
  sl_err_t err;
  char buf[512];
  snprintf(buf, sizeof buf,
           "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"default\"},\"spec\":{\"containers\":"
           "[{\"name\":\"c\",\"image\":\"i\"}]},\"status\":{\"phase\":\"Running\"}}",
           c->name);
  c->rc =
      sl_emu_create(g_env->emu, "pods", sl_json_parse(buf, strlen(buf), NULL, &err), NULL, &err);
}

static void capi_status(void *ud) {
  capi_t *c = ud;
  sl_err_t err;
  const char *js = "{\"podIP\":\"10.0.0.9\"}";
  sl_json_t *st = sl_json_parse(js, strlen(js), NULL, &err);
  c->rc = sl_emu_patch_status(g_env->emu, "pods", "default", c->name, st, &err);
  sl_json_free(st);
}

static void capi_delete(void *ud) {
  capi_t *c = ud;
  sl_err_t err;
  c->rc = sl_emu_delete(g_env->emu, "pods", "default", c->name, &err);
}

static void test_watch(env_t *env) {
  // A watch from now on, filtered by label: entering and leaving the selection.
  int fd = watch_socket("/api/v1/namespaces/default/configmaps?watch=1&labelSelector=w%3D1"
                        "&resourceVersion=999999");
  T_OK(fd >= 0, "watch opened");
  for (int i = 0; i < 500 && stat_of("watches") < 1; i++) usleep(10000);
  make_cm("default", "wa", "{\"w\":\"1\"}");
  make_cm("default", "wb", "{\"w\":\"2\"}");
  resp_t r = reqs("PATCH", "/api/v1/namespaces/default/configmaps/wb",
                  "application/merge-patch+json", "{\"metadata\":{\"labels\":{\"w\":\"1\"}}}");
  resp_free(&r);
  r = reqs("PATCH", "/api/v1/namespaces/default/configmaps/wa", "application/merge-patch+json",
           "{\"metadata\":{\"labels\":{\"w\":\"3\"}}}");
  resp_free(&r);
  r = reqs("DELETE", "/api/v1/namespaces/default/configmaps/wb", NULL, NULL);
  resp_free(&r);
  buf_t b = {0};
  for (int i = 0; i < 500 && !next_event(b.buf, "DELETED", "wb"); i++) {
    drain(fd, &b);
    usleep(10000);
  }
  const char *p1 = next_event(b.buf, "ADDED", "wa");
  const char *p2 = next_event(p1, "ADDED", "wb");
  const char *p3 = next_event(p2, "DELETED", "wa");
  const char *p4 = next_event(p3, "DELETED", "wb");
  T_OK(p1 && p2 && p3 && p4,
       "filtered watch: wa added, wb enters (ADDED), wa leaves (DELETED), wb deleted");
  T_OK(b.buf && strstr(b.buf, "Transfer-Encoding: chunked"), "the watch is chunked");
  // A client that leaves mid-watch is noticed, and the server goes on.
  close(fd);
  free(b.buf);
  T_EQ_INT(wait_stat("watches", 0), 0, "the watch of a client that left is closed");

  // Resuming from a resourceVersion replays what came after, in order.
  r = reqs("GET", "/api/v1/namespaces/default/configmaps/dup", NULL, NULL);
  char rv[32];
  snprintf(rv, sizeof rv, "%s", jstr(&r, "metadata.resourceVersion"));
  resp_free(&r);
  for (int i = 0; i < 3; i++) {
    char body[64];
    snprintf(body, sizeof body, "{\"data\":{\"n\":\"%d\"}}", i);
    r = reqs("PATCH", "/api/v1/namespaces/default/configmaps/dup", "application/merge-patch+json",
             body);
    resp_free(&r);
  }
  char path[256];
  snprintf(path, sizeof path,
           "/api/v1/namespaces/default/configmaps?watch=1&fieldSelector=metadata.name%%3Ddup"
           "&resourceVersion=%s&timeoutSeconds=1",
           rv);
  r = reqs("GET", path, NULL, NULL);
  T_OK(r.status == 200 && r.rc == CURLE_OK, "watch with timeoutSeconds ends cleanly");
  int mods = 0;
  for (const char *p = r.body; p && (p = strstr(p, "\"MODIFIED\"")); p++) mods++;
  T_EQ_INT(mods, 3, "replay from a resourceVersion: the 3 changes after it");
  T_OK(r.body && strstr(r.body, "\"n\":\"0\"") < strstr(r.body, "\"n\":\"2\""), "in order");
  resp_free(&r);

  // Too old: the history (64 changes here) no longer has it.
  for (int i = 0; i < 70; i++) {
    char body[64];
    snprintf(body, sizeof body, "{\"data\":{\"n\":\"x%d\"}}", i);
    r = reqs("PATCH", "/api/v1/namespaces/default/configmaps/dup", "application/merge-patch+json",
             body);
    resp_free(&r);
  }
  snprintf(path, sizeof path, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=%s",
           rv);
  r = reqs("GET", path, NULL, NULL);
  T_OK(r.status == 200 && r.body && strstr(r.body, "\"type\":\"ERROR\"") &&
           strstr(r.body, "\"reason\":\"Expired\"") && strstr(r.body, "\"code\":410"),
       "a watch from too old a resourceVersion: ERROR event, 410 Expired");
  resp_free(&r);

  // Initial state, then bookmarks (every 0.1 s here).
  r = reqs("GET",
           "/api/v1/namespaces/default/configmaps?watch=true&allowWatchBookmarks=true"
           "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
           NULL, NULL);
  T_OK(r.body && strstr(r.body, "\"ADDED\"") && strstr(r.body, "k8s.io/initial-events-end"),
       "sendInitialEvents: ADDED for what exists, then the initial-events-end bookmark");
  int bms = 0;
  for (const char *p = r.body; p && (p = strstr(p, "\"BOOKMARK\"")); p++) bms++;
  T_OK(bms >= 2, "periodic bookmarks too (%d)", bms);
  resp_free(&r);

  // Writes through the C API reach watchers like any other.
  fd = watch_socket("/api/v1/namespaces/default/pods?watch=1&resourceVersion=999999");
  for (int i = 0; i < 500 && stat_of("watches") < 1; i++) usleep(10000);
  capi_t c = {"capi-pod", -1};
  on_loop(env, capi_pod, &c);
  T_EQ_INT(c.rc, 0, "sl_emu_create a pod");
  on_loop(env, capi_status, &c);
  T_EQ_INT(c.rc, 0, "sl_emu_patch_status");
  on_loop(env, capi_delete, &c);
  T_EQ_INT(c.rc, 0, "sl_emu_delete");
  b = (buf_t){0};
  for (int i = 0; i < 500 && (!b.buf || !strstr(b.buf, "\"DELETED\"")); i++) {
    drain(fd, &b);
    usleep(10000);
  }
  T_OK(b.buf && strstr(b.buf, "\"ADDED\"") && strstr(b.buf, "\"podIP\":\"10.0.0.9\"") &&
           strstr(b.buf, "\"DELETED\""),
       "a watcher saw the C API's create, status and delete");
  free(b.buf);
  T_EQ_INT(get_int(&env->rec.pod_deleted), 0, "the emulator's own pod deletion is not reported");
  make_cm("default", "unused", NULL);
  r = reqs("POST", "/api/v1/namespaces/default/pods", CM,
           "{\"metadata\":{\"name\":\"client-pod\"},\"spec\":{\"containers\":[{\"name\":\"c\","
           "\"image\":\"i\"}]}}");
  T_OK(r.status == 201 && !strcmp(jstr(&r, "status.phase"), "Pending") &&
           !strcmp(jstr(&r, "spec.restartPolicy"), "Always"),
       "a client's pod starts Pending, with defaults");
  resp_free(&r);
  r = reqs("DELETE", "/api/v1/namespaces/default/pods/client-pod", NULL, NULL);
  resp_free(&r);
  for (int i = 0; i < 500 && get_int(&env->rec.pod_deleted) < 1; i++) usleep(10000);
  T_EQ_INT(get_int(&env->rec.pod_deleted), 1, "a client's pod deletion is reported");

  // Cut mid-event by the fault switch.
  b = (buf_t){0};
  r = reqs("POST", "/_emu/drop-watches", CM, "{}");
  T_OK(r.status == 200 && jnum(&r, "dropped") == 1, "drop-watches cut the open watch");
  resp_free(&r);
  for (int i = 0; i < 200; i++) {
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n == 0) break;
    if (n > 0) on_data(tmp, 1, (size_t)n, &b);
    usleep(5000);
  }
  T_OK(b.buf && strstr(b.buf, "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"") &&
           !strstr(b.buf, "\r\n0\r\n\r\n"),
       "the client got half an event and no final chunk");
  free(b.buf);
  close(fd);
  T_EQ_INT(wait_stat("watches", 0), 0, "no watch left open");
}

static void test_many_watches(void) {
  enum { N = 1000 };
  static int fds[N];
  static buf_t bufs[N];
  int opened = 0;
  for (int i = 0; i < N; i++) {
    fds[i] = watch_socket("/api/v1/namespaces/default/secrets?watch=1&resourceVersion=999999");
    opened += fds[i] >= 0;
    memset(&bufs[i], 0, sizeof bufs[i]);
  }
  T_EQ_INT(opened, N, "1000 watch connections opened");
  T_EQ_INT(wait_stat("watches", N), N, "1000 watches registered");
  resp_t r = reqs("POST", "/api/v1/namespaces/default/secrets", CM,
                  "{\"metadata\":{\"name\":\"fanout\"},\"stringData\":{\"a\":\"b\"}}");
  T_EQ_INT(r.status, 201, "one write while 1000 watch");
  resp_free(&r);
  int got = 0;
  for (int round = 0; round < 2000 && got < N; round++) {
    got = 0;
    for (int i = 0; i < N; i++) {
      if (fds[i] < 0) continue;
      if (!bufs[i].buf || !strstr(bufs[i].buf, "\"name\":\"fanout\"")) drain(fds[i], &bufs[i]);
      got += bufs[i].buf && strstr(bufs[i].buf, "\"name\":\"fanout\"") != NULL;
    }
    if (got < N) usleep(5000);
  }
  T_EQ_INT(got, N, "every one of the 1000 watches got the event");
  r = reqs("GET", "/healthz", NULL, NULL);
  T_EQ_INT(r.status, 200, "the server answers other requests meanwhile");
  resp_free(&r);
  for (int i = 0; i < N; i++) {
    if (fds[i] >= 0) close(fds[i]);
    free(bufs[i].buf);
  }
  T_EQ_INT(wait_stat("watches", 0), 0, "all 1000 closed once their clients left");
}

static void test_faults(void) {
  resp_t r = reqs("POST", "/_emu/faults", CM, "{\"expireNext\":1}");
  T_EQ_INT(r.status, 200, "set expire");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps?resourceVersion=5", NULL, NULL);
  T_OK(is_status(&r, 410, "Expired"), "forced 410 on a list with a resourceVersion");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps?resourceVersion=5", NULL, NULL);
  T_EQ_INT(r.status, 200, "only the next one");
  resp_free(&r);
  r = reqs("POST", "/_emu/faults", CM, "{\"expireNext\":1}");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=5", NULL, NULL);
  T_OK(r.status == 200 && r.body && strstr(r.body, "\"type\":\"ERROR\"") &&
           strstr(r.body, "\"code\":410"),
       "forced 410 on a watch: an ERROR event");
  resp_free(&r);
  // Periodic drops: an open watch is cut within a few periods, and counted.
  r = reqs("POST", "/_emu/faults", CM, "{\"watchDropEverySeconds\":0.05}");
  resp_free(&r);
  int fd = watch_socket("/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=999999");
  int cut = 0;
  for (int i = 0; i < 1000 && !cut; i++) {
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    cut = n == 0;
    if (!cut) usleep(5000);
  }
  close(fd);
  T_OK(cut, "watch-drop every 0.05 s cut the watch");
  r = reqs("POST", "/_emu/faults", CM, "{\"watchDropEverySeconds\":0}");
  T_OK(jnum(&r, "watchesDropped") >= 1, "and counted it (%g)", jnum(&r, "watchesDropped"));
  resp_free(&r);
  r = reqs("POST", "/_emu/faults", CM, "{\"conflict409\":1}");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps", NULL, NULL);
  T_EQ_INT(r.status, 200, "409 faults spare reads");
  resp_free(&r);
  r = reqs("PATCH", "/api/v1/namespaces/default/configmaps/dup", "application/merge-patch+json",
           "{}");
  T_OK(is_status(&r, 409, "Conflict"), "and hit writes");
  resp_free(&r);
  r = reqs("POST", "/_emu/faults", CM, "{\"reset\":true,\"error429\":1,\"retryAfterSeconds\":4}");
  resp_free(&r);
  r = reqs("GET", "/api/v1/namespaces/default/configmaps", NULL, NULL);
  T_OK(is_status(&r, 429, "TooManyRequests") && !strcmp(r.retry_after, "4") &&
           jnum(&r, "details.retryAfterSeconds") == 4,
       "429 with Retry-After");
  resp_free(&r);
  r = reqs("GET", "/version", NULL, NULL);
  T_EQ_INT(r.status, 200, "discovery is spared");
  resp_free(&r);
  r = reqs("POST", "/_emu/faults", CM, "{\"bogus\":1}");
  T_EQ_INT(r.status, 400, "an unknown fault field is refused");
  resp_free(&r);
  r = reqs("POST", "/_emu/faults", CM,
           "{\"reset\":true,\"pods\":{\"default/p1\":{\"mode\":\"slow\",\"delaySeconds\":2.5},"
           "\"default/p2\":{\"mode\":\"garbage\"}}}");
  T_OK(r.status == 200 && !strcmp(jstr(&r, "pods.default/p1.mode"), "slow") &&
           jnum(&r, "pods.default/p1.delaySeconds") == 2.5,
       "pod faults set");
  const sl_json_t *pods = sl_json_get(r.json, "pods");
  T_OK(pods && pods->n == 2 && jnum(&r, "error429") == 0, "reset cleared the 429s; two pod faults");
  resp_free(&r);
  r = reqs("DELETE", "/_emu/faults", NULL, NULL);
  resp_free(&r);
}

// The same seed, the same requests: the same ones fail.
static void fault_pattern(int port, char *out, int n) {
  int save = g_port;
  g_port = port;
  resp_t r = reqs("POST", "/_emu/faults", CM, "{\"error500\":0.5}");
  resp_free(&r);
  for (int i = 0; i < n; i++) {
    r = reqs("GET", "/api/v1/namespaces", NULL, NULL);
    out[i] = r.status == 500 ? 'x' : '.';
    resp_free(&r);
  }
  out[n] = '\0';
  r = reqs("DELETE", "/_emu/faults", NULL, NULL);
  resp_free(&r);
  g_port = save;
}

typedef struct {
  env_t *env;
  sl_emu_t *second;
  int port;
} second_t;

static void start_second(void *ud) {
  second_t *s = ud;
  sl_emu_opts_t o = {.seed = 42};
  sl_err_t err;
  if (sl_emu_new(&s->env->loop, &o, NULL, &s->second, &err) == 0) s->port = sl_emu_port(s->second);
}

static void stop_second(void *ud) {
  second_t *s = ud;
  sl_emu_free(s->second);
}

static void test_determinism(env_t *env) {
  second_t a = {env, NULL, 0}, b = {env, NULL, 0};
  on_loop(env, start_second, &a);
  on_loop(env, start_second, &b);
  T_OK(a.port > 0 && b.port > 0, "two more emulators with seed 42");
  char pa[41], pb[41];
  fault_pattern(a.port, pa, 40);
  fault_pattern(b.port, pb, 40);
  int fails = 0;
  for (int i = 0; i < 40; i++) fails += pa[i] == 'x';
  T_OK(!strcmp(pa, pb), "the same 500s for the same requests (%s vs %s)", pa, pb);
  T_OK(fails > 5 && fails < 35, "about half fail at rate 0.5 (%d of 40)", fails);
  on_loop(env, stop_second, &a);
  on_loop(env, stop_second, &b);
}

static void test_crd(void) {
  const char *crd =
      "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
      "\"metadata\":{\"name\":\"widgets.example.com\"},\"spec\":{\"group\":\"example.com\","
      "\"names\":{\"kind\":\"Widget\",\"plural\":\"widgets\"},\"scope\":\"%s\",\"versions\":["
      "{\"name\":\"v1beta1\",\"served\":true,\"storage\":false},{\"name\":\"v1\",\"served\":"
      "true,\"storage\":true}]}}";
  char body[1024];
  snprintf(body, sizeof body, crd, "Namespaced");
  resp_t r = reqs("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CM, body);
  T_EQ_INT(r.status, 201, "CRD created");
  resp_free(&r);
  r = reqs("GET", "/apis/example.com", NULL, NULL);
  T_OK(r.status == 200 && !strcmp(jstr(&r, "preferredVersion.version"), "v1"),
       "the preferred version is the highest by Kubernetes' order (v1 over v1beta1)");
  resp_free(&r);
  r = reqs("POST", "/apis/example.com/v1beta1/namespaces/default/widgets", CM,
           "{\"metadata\":{\"name\":\"w1\"},\"spec\":{\"size\":3}}");
  T_OK(r.status == 201 && !strcmp(jstr(&r, "apiVersion"), "example.com/v1beta1"),
       "a custom resource created at v1beta1");
  resp_free(&r);
  r = reqs("GET", "/apis/example.com/v1/namespaces/default/widgets/w1", NULL, NULL);
  T_OK(r.status == 200 && !strcmp(jstr(&r, "apiVersion"), "example.com/v1") &&
           jnum(&r, "spec.size") == 3,
       "read at v1, relabelled");
  resp_free(&r);
  snprintf(body, sizeof body, crd, "Cluster");
  r = reqs("PUT", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com", CM,
           body);
  T_OK(is_status(&r, 422, "Invalid") && strstr(jstr(&r, "message"), "spec.scope"),
       "a CRD's scope cannot change");
  resp_free(&r);
  r = reqs("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CM,
           "{\"metadata\":{\"name\":\"wrong.example.com\"},\"spec\":{\"group\":\"example.com\","
           "\"names\":{\"kind\":\"Gadget\",\"plural\":\"gadgets\"},\"scope\":\"Cluster\","
           "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true}]}}");
  T_OK(is_status(&r, 422, "Invalid") && strstr(jstr(&r, "message"), "spec.names.plural"),
       "a CRD named other than plural.group is refused");
  resp_free(&r);
  r = reqs("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
           NULL, NULL);
  T_EQ_INT(r.status, 200, "CRD deleted");
  resp_free(&r);
  r = reqs("GET", "/apis/example.com/v1/namespaces/default/widgets", NULL, NULL);
  T_EQ_INT(r.status, 404, "its resource is no longer served");
  resp_free(&r);
  snprintf(body, sizeof body, crd, "Cluster");
  r = reqs("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CM, body);
  T_EQ_INT(r.status, 201, "recreated with another scope once gone");
  resp_free(&r);
  r = reqs("GET", "/apis/example.com/v1/widgets", NULL, NULL);
  T_OK(r.status == 200 && sl_json_get(r.json, "items") && sl_json_get(r.json, "items")->n == 0,
       "and its old objects went with the old definition");
  resp_free(&r);
}

static void test_discovery(void) {
  resp_t r = reqs("GET", "/apis", NULL, NULL);
  T_OK(r.status == 200 && !strcmp(jstr(&r, "kind"), "APIGroupList"), "APIGroupList");
  resp_free(&r);
  r = reqs("GET", "/apis/apps/v1", NULL, NULL);
  const sl_json_t *res = sl_json_get(r.json, "resources");
  int scale = 0;
  for (size_t i = 0; res && i < res->n; i++)
    if (!strcmp(sl_json_str_or(sl_json_get(res->items[i], "name"), ""), "deployments/scale") &&
        !strcmp(sl_json_str_or(sl_json_get(res->items[i], "kind"), ""), "Scale") &&
        !strcmp(sl_json_str_or(sl_json_get(res->items[i], "group"), ""), "autoscaling"))
      scale = 1;
  T_OK(scale, "deployments/scale is listed as an autoscaling/v1 Scale");
  resp_free(&r);
  r = reqs("GET", "/openapi/v3", NULL, NULL);
  const char *url = jstr(&r, "paths.api/v1.serverRelativeURL");
  T_OK(r.status == 200 && sl_json_get(sl_json_get(r.json, "paths"), "apis/apps/v1"),
       "OpenAPI v3 root lists the group versions");
  (void)url;
  const sl_json_t *core = sl_json_get(sl_json_get(r.json, "paths"), "api/v1");
  char path[512];
  snprintf(path, sizeof path, "%s", sl_json_str_or(sl_json_get(core, "serverRelativeURL"), ""));
  resp_free(&r);
  r = reqs("GET", path, NULL, NULL);
  const sl_json_t *p = sl_json_get(sl_json_get(r.json, "paths"), "/api/v1/namespaces/{name}");
  const sl_json_t *patch = sl_json_get(p, "patch");
  int fv = 0;
  const sl_json_t *params = sl_json_get(patch, "parameters");
  for (size_t i = 0; params && i < params->n; i++)
    fv |= !strcmp(sl_json_str_or(sl_json_get(params->items[i], "name"), ""), "fieldValidation");
  T_OK(fv && !strcmp(sl_json_str_or(sl_json_at(patch, "x-kubernetes-group-version-kind.kind"), ""),
                     "Namespace"),
       "namespace PATCH takes fieldValidation (kubectl validates on the server)");
  T_OK(!sl_json_get(sl_json_at(patch, "requestBody.content"),
                    "application/strategic-merge-patch+json"),
       "no strategic merge in OpenAPI (kubectl uses its built-in types)");
  resp_free(&r);
  r = reqs("GET", "/openapi/v2", NULL, NULL);
  T_EQ_INT(r.status, 404, "no OpenAPI v2");
  resp_free(&r);
}

static void *client(void *ud) {
  env_t *env = ud;
  g_port = env->port;
  test_discovery();
  test_errors();
  test_hostile();
  test_lists();
  test_updates();
  test_subresources(env);
  test_crd();
  test_watch(env);
  test_many_watches();
  test_faults();
  test_determinism(env);
  env->quit = 1;
  on_loop(env, NULL, NULL);
  return NULL;
}

int main(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
    rl.rlim_cur = 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  static env_t env;
  g_env = &env;
  uv_loop_init(&env.loop);
  uv_sem_init(&env.done, 0);
  uv_async_init(&env.loop, &env.call, on_call);
  env.call.data = &env;
  sl_emu_backend_t be = {&env.rec,   rb_start,       rb_changed, rb_scaled,
                         rb_deleted, rb_pod_deleted, rb_stop};
  sl_emu_opts_t o = {.seed = 3, .history = 64, .bookmark_s = 0.1, .max_body = 256 << 10};
  sl_err_t err;
  T_OK(sl_emu_new(&env.loop, &o, &be, &env.emu, &err) == 0, "emulator starts (%s)", err.msg);
  env.port = sl_emu_port(env.emu);
  T_EQ_INT(env.rec.started, 1, "backend started");
  pthread_t th;
  pthread_create(&th, NULL, client, &env);
  uv_run(&env.loop, UV_RUN_DEFAULT);
  pthread_join(th, NULL);
  T_EQ_INT(env.rec.stopped, 1, "backend stopped");
  T_EQ_INT(uv_loop_close(&env.loop), 0, "every handle closed");
  uv_sem_destroy(&env.done);
  curl_global_cleanup();
  return tap_done();
}
