// JSON trees: parsing (whole and streamed in arbitrary splits), limits, building, writing.
#include <stdlib.h>
#include <string.h>

#include "core/util/json.h"
#include "tests/unit/tap.h"

typedef struct {
  sl_json_t *got[8];
  int n;
} sink_t;

static int on_value(void *ud, sl_json_t *v) {
  sink_t *s = ud;
  if (s->n < 8)
    s->got[s->n++] = v;
  else
    sl_json_free(v);
  return 0;
}

static void test_parse(void) {
  sl_err_t err = {0};
  const char *src = "{\"a\": {\"b\": [1, 2.5, \"x\\n\", true, null]}, \"rv\": 9007199254740993,"
                    " \"s\": \"\\u00e9\"}";
  sl_json_t *j = sl_json_parse(src, strlen(src), NULL, &err);
  T_OK(j && j->type == SL_JSON_OBJECT, "parses an object");
  sl_json_t *b = sl_json_at(j, "a.b");
  T_OK(b && b->type == SL_JSON_ARRAY && b->n == 5, "dotted path reaches the array");
  T_NEAR(sl_json_num_or(b->items[1], 0), 2.5, 0, "number value");
  T_OK(!strcmp(sl_json_str_or(b->items[2], ""), "x\n"), "string escapes decoded");
  T_OK(sl_json_bool_or(b->items[3], 0) == 1, "true");
  T_OK(b->items[4]->type == SL_JSON_NULL, "null");
  T_OK(!strcmp(sl_json_at(j, "rv")->str, "9007199254740993"), "number text kept exactly");
  T_OK(!strcmp(sl_json_str_or(sl_json_get(j, "s"), ""), "\xc3\xa9"), "unicode escape as UTF-8");
  T_OK(sl_json_at(j, "a.missing") == NULL, "missing path is NULL");
  char *out;
  size_t len;
  T_OK(sl_json_write(j, &out, &len, &err) == 0, "writes");
  T_OK(strstr(out, "9007199254740993") != NULL, "int64 written exactly");
  sl_json_t *back = sl_json_parse(out, len, NULL, &err);
  T_OK(sl_json_equal(j, back), "round trip is equal");
  free(out);
  sl_json_free(back);
  sl_json_t *c = sl_json_clone(j);
  T_OK(sl_json_equal(j, c), "clone is equal");
  sl_json_set(sl_json_get(c, "a"), "b", sl_json_number(3));
  T_OK(!sl_json_equal(j, c), "changed clone differs");
  T_OK(sl_json_del(c, "rv") == 1 && sl_json_get(c, "rv") == NULL, "del removes");
  sl_json_free(c);
  sl_json_free(j);

  T_OK(sl_json_parse("{\"a\":", 5, NULL, &err) == NULL && err.code == SL_EPARSE,
       "truncated input is an error");
  T_STR_HAS(err.msg, "offset", "error names the offset");
  T_OK(sl_json_parse("[1] [2]", 7, NULL, &err) == NULL, "two values where one is expected");
  T_OK(sl_json_parse("[1,]", 4, NULL, &err) == NULL, "trailing comma rejected");
  T_OK(sl_json_parse("\"\xff\"", 3, NULL, &err) == NULL, "invalid UTF-8 rejected");
  char deep[400];
  for (int i = 0; i < 200; i++) deep[i] = '[';
  for (int i = 0; i < 200; i++) deep[200 + i] = ']';
  sl_json_limits_t lim = {100, 0};
  T_OK(sl_json_parse(deep, sizeof deep, &lim, &err) == NULL, "depth limit enforced");
  T_STR_HAS(err.msg, "nested too deeply", "depth error says why");
  const char *big =
      "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]";
  lim = (sl_json_limits_t){0, 100};
  T_OK(sl_json_parse(big, strlen(big), &lim, &err) == NULL, "byte limit enforced");
  T_STR_HAS(err.msg, "larger than the limit", "byte limit says why");
}

static void test_stream(void) {
  const char *events =
      "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"p-1\"}}}\n"
      "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"p-2\"}}}\n"
      "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}\n";
  size_t n = strlen(events);
  int all_ok = 1;
  // Every split point: values must come out the same whatever the chunking.
  for (size_t cut = 0; cut <= n; cut++) {
    sink_t s = {0};
    sl_err_t err = {0};
    sl_json_stream_t *st = sl_json_stream_new(NULL, on_value, &s);
    int rc = sl_json_stream_feed(st, events, cut, &err);
    if (rc == 0) rc = sl_json_stream_feed(st, events + cut, n - cut, &err);
    if (rc == 0) rc = sl_json_stream_finish(st, &err);
    all_ok &= rc == 0 && s.n == 3 &&
              !strcmp(sl_json_str_or(sl_json_at(s.got[1], "object.metadata.name"), ""), "p-2") &&
              !strcmp(sl_json_str_or(sl_json_at(s.got[2], "type"), ""), "BOOKMARK");
    for (int i = 0; i < s.n; i++) sl_json_free(s.got[i]);
    sl_json_stream_free(st);
  }
  T_OK(all_ok, "a watch stream split anywhere yields the same three events");

  sink_t s = {0};
  sl_err_t err = {0};
  sl_json_stream_t *st = sl_json_stream_new(NULL, on_value, &s);
  const char *cut = "{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"MOD";
  int rc = sl_json_stream_feed(st, cut, strlen(cut), &err);
  T_OK(rc == 0 && s.n == 1, "the complete event is delivered before the stream ends");
  rc = sl_json_stream_finish(st, &err);
  T_OK(rc == SL_EPARSE, "a stream cut inside an event is an error at the end");
  for (int i = 0; i < s.n; i++) sl_json_free(s.got[i]);
  sl_json_stream_free(st);

  s.n = 0;
  st = sl_json_stream_new(NULL, on_value, &s);
  rc = sl_json_stream_feed(st, "{\"a\":1}{\"b\":", 12, &err);
  rc = rc ? rc : sl_json_stream_feed(st, "}}", 2, &err);
  T_OK(rc == SL_EPARSE && s.n == 1, "garbage after a good event fails the stream, keeps the event");
  T_OK(sl_json_stream_feed(st, "{}", 2, &err) == SL_ESTATE, "a failed stream refuses more input");
  for (int i = 0; i < s.n; i++) sl_json_free(s.got[i]);
  sl_json_stream_free(st);
}

static void test_build(void) {
  sl_json_t *o = sl_json_object();
  sl_json_set(o, "name", sl_json_string("a\"b"));
  sl_json_set(o, "n", sl_json_number(3));
  sl_json_set(o, "x", sl_json_number(0.25));
  sl_json_t *a = sl_json_array();
  sl_json_push(a, sl_json_bool(0));
  sl_json_set(o, "list", a);
  sl_json_set(o, "n", sl_json_number(4)); // replaces
  char *out;
  size_t len;
  sl_err_t err;
  T_OK(sl_json_write(o, &out, &len, &err) == 0, "writes a built object");
  T_OK(!strcmp(out, "{\"name\":\"a\\\"b\",\"n\":4,\"x\":0.25,\"list\":[false]}"),
       "compact output in insertion order, replaced value in place");
  free(out);
  sl_json_free(o);
  sl_json_buf_t b = {0};
  sl_json_buf_quote(&b, "tab\there", 8);
  T_OK(!strcmp(b.buf, "\"tab\\there\""), "quote escapes control characters");
  sl_json_buf_deinit(&b);
}

// Built numbers are written as the shortest text that reads back as the same double.
static void test_numbers(void) {
  const double xs[] = {0.1, 1.0 / 3, 2.5e-7, 1e300, -0.3, 1786.8000299699999687};
  const char *want[] = {"[0.1]", NULL, "[2.5e-07]", "[1e+300]", "[-0.3]", NULL};
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
    sl_json_t *a = sl_json_array();
    sl_json_push(a, sl_json_number(xs[i]));
    char *out;
    size_t len;
    sl_err_t err;
    T_OK(sl_json_write(a, &out, &len, &err) == 0, "writes %g", xs[i]);
    if (want[i]) T_OK(!strcmp(out, want[i]), "%g as %s (got %s)", xs[i], want[i], out);
    T_OK(strtod(out + 1, NULL) == xs[i], "%s reads back exactly", out);
    T_OK(len <= 26, "%s is short", out);
    free(out);
    sl_json_free(a);
  }
}

int main(void) {
  test_numbers();
  test_parse();
  test_stream();
  test_build();
  return tap_done();
}
