// Patches: RFC 7386 and RFC 6902 appendix examples, and strategic merge patch as the API
// server applies what kubectl apply/edit/patch send (merge by key, directives, ordering).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/emu/patch.h"
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

static char *W(const sl_json_t *j) {
  char *out;
  size_t len;
  sl_err_t err;
  if (!j) return strdup("(null)");
  if (sl_json_write(j, &out, &len, &err) < 0) return strdup("(unwritable)");
  return out;
}

// Applies and compares structurally; prints the result when it differs.
static void check(int kind, const char *doc, const char *patch, const char *want,
                  const void *schema, const char *what) {
  sl_json_t *d = J(doc), *p = J(patch), *w = want ? J(want) : NULL, *out = NULL;
  sl_err_t err = {0};
  int rc = kind == 0   ? sl_patch_merge(d, p, &out, &err)
           : kind == 1 ? sl_patch_json(d, p, &out, &err)
                       : sl_patch_strategic(d, p, schema, &out, &err);
  if (!want) {
    T_OK(rc < 0 && !out && err.msg[0], "%s: fails (%s)", what, err.msg);
  } else {
    char *got = W(out);
    T_OK(rc == 0 && sl_json_equal(out, w), "%s (got %s%s%s)", what, got, rc ? ", error " : "",
         rc ? err.msg : "");
    free(got);
  }
  // The inputs are untouched.
  sl_json_t *d2 = J(doc);
  T_OK(sl_json_equal(d, d2), "%s: document unchanged", what);
  sl_json_free(d2);
  sl_json_free(d);
  sl_json_free(p);
  sl_json_free(w);
  sl_json_free(out);
}

static void test_merge(void) {
  static const char *cases[][3] = {
      {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
      {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
      {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
      {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
      {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
      {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
      {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
      {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
      {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
      {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
      {"{\"a\":\"foo\"}", "null", "null"},
      {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
      {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
      {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
      {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char what[64];
    snprintf(what, sizeof what, "RFC 7386 appendix A case %zu", i + 1);
    check(0, cases[i][0], cases[i][1], cases[i][2], NULL, what);
  }
}

static void test_json_patch(void) {
  check(1, "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\"}]",
        "{\"baz\":\"qux\",\"foo\":\"bar\"}", NULL, "A.1 add an object member");
  check(1, "{\"foo\":[\"bar\",\"baz\"]}",
        "[{\"op\":\"add\",\"path\":\"/foo/1\",\"value\":\"qux\"}]",
        "{\"foo\":[\"bar\",\"qux\",\"baz\"]}", NULL, "A.2 add an array element");
  check(1, "{\"baz\":\"qux\",\"foo\":\"bar\"}", "[{\"op\":\"remove\",\"path\":\"/baz\"}]",
        "{\"foo\":\"bar\"}", NULL, "A.3 remove an object member");
  check(1, "{\"foo\":[\"bar\",\"qux\",\"baz\"]}", "[{\"op\":\"remove\",\"path\":\"/foo/1\"}]",
        "{\"foo\":[\"bar\",\"baz\"]}", NULL, "A.4 remove an array element");
  check(1, "{\"baz\":\"qux\",\"foo\":\"bar\"}",
        "[{\"op\":\"replace\",\"path\":\"/baz\",\"value\":\"boo\"}]",
        "{\"baz\":\"boo\",\"foo\":\"bar\"}", NULL, "A.5 replace a value");
  check(1, "{\"foo\":{\"bar\":\"baz\",\"waldo\":\"fred\"},\"qux\":{\"corge\":\"grault\"}}",
        "[{\"op\":\"move\",\"from\":\"/foo/waldo\",\"path\":\"/qux/thud\"}]",
        "{\"foo\":{\"bar\":\"baz\"},\"qux\":{\"corge\":\"grault\",\"thud\":\"fred\"}}", NULL,
        "A.6 move a value");
  check(1, "{\"foo\":[\"all\",\"grass\",\"cows\",\"eat\"]}",
        "[{\"op\":\"move\",\"from\":\"/foo/1\",\"path\":\"/foo/3\"}]",
        "{\"foo\":[\"all\",\"cows\",\"eat\",\"grass\"]}", NULL, "A.7 move an array element");
  check(1, "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}",
        "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"qux\"},"
        "{\"op\":\"test\",\"path\":\"/foo/1\",\"value\":2}]",
        "{\"baz\":\"qux\",\"foo\":[\"a\",2,\"c\"]}", NULL, "A.8 test succeeds");
  check(1, "{\"baz\":\"qux\"}", "[{\"op\":\"test\",\"path\":\"/baz\",\"value\":\"bar\"}]", NULL,
        NULL, "A.9 test fails");
  check(1, "{\"foo\":\"bar\"}",
        "[{\"op\":\"add\",\"path\":\"/child\",\"value\":{\"grandchild\":{}}}]",
        "{\"foo\":\"bar\",\"child\":{\"grandchild\":{}}}", NULL, "A.10 add a nested member");
  check(1, "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz\",\"value\":\"qux\",\"xyz\":1}]",
        "{\"foo\":\"bar\",\"baz\":\"qux\"}", NULL, "A.11 unrecognized members ignored");
  check(1, "{\"foo\":\"bar\"}", "[{\"op\":\"add\",\"path\":\"/baz/bat\",\"value\":\"qux\"}]", NULL,
        NULL, "A.12 add to a missing parent fails");
  check(1, "{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":10}]",
        "{\"/\":9,\"~1\":10}", NULL, "A.14 ~ escapes decoded in order");
  check(1, "{\"/\":9,\"~1\":10}", "[{\"op\":\"test\",\"path\":\"/~01\",\"value\":\"10\"}]", NULL,
        NULL, "A.15 a string is not a number");
  check(1, "{\"foo\":[\"bar\"]}",
        "[{\"op\":\"add\",\"path\":\"/foo/-\",\"value\":[\"abc\",\"def\"]}]",
        "{\"foo\":[\"bar\",[\"abc\",\"def\"]]}", NULL, "A.16 append an array value");
  check(1, "{\"a\":{\"b\":1}}", "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"}]",
        "{\"a\":{\"b\":1},\"c\":{\"b\":1}}", NULL, "copy");
  check(1, "{\"a\":{\"b\":1}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b/c\"}]", NULL,
        NULL, "move into its own child fails");
  check(1, "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/b\",\"value\":2}]", NULL, NULL,
        "replace of a missing member fails");
  check(1, "{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/01\",\"value\":2}]", NULL, NULL,
        "leading zero index rejected");
  check(1, "{\"a\":1}",
        "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":2},{\"op\":\"test\",\"path\":\"/a\","
        "\"value\":3}]",
        NULL, NULL, "a failed test undoes the earlier operations (nothing returned)");
  check(1, "{\"a\":1}", "[{\"op\":\"frobnicate\",\"path\":\"/a\"}]", NULL, NULL, "unknown op");
  check(1, "{\"a\":1}", "{\"op\":\"remove\"}", NULL, NULL, "a patch that is not an array");
  check(1, "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"\",\"value\":[1]}]", "[1]", NULL,
        "add at the root replaces the document");
  check(1, "{\"metadata\":{\"labels\":{\"a/b\":\"x\"}}}",
        "[{\"op\":\"remove\",\"path\":\"/metadata/labels/a~1b\"}]",
        "{\"metadata\":{\"labels\":{}}}", NULL, "a label key with a slash, escaped as ~1");

  sl_err_t err;
  sl_json_t *d = J("{\"a\":[{\"b\":\"c\"}]}");
  const sl_json_t *v = sl_json_pointer(d, "/a/0/b");
  T_OK(v && !strcmp(v->str, "c"), "pointer lookup");
  T_OK(sl_json_pointer(d, "a") == NULL, "a pointer must start with /");
  T_OK(sl_json_pointer(d, "/a/1") == NULL, "index past the end");
  sl_json_free(d);
  (void)err;
}

// A schema shaped like the PodSpec parts kubectl's patches touch.
static const sl_smp_field_t port_f[] = {{NULL}};
static const sl_smp_type_t port_t = {port_f};
static const sl_smp_field_t container_f[] = {
    {"ports", SL_SMP_MERGE, "containerPort", &port_t},
    {"env", SL_SMP_MERGE, "name", NULL},
    {NULL},
};
static const sl_smp_type_t container_t = {container_f};
static const sl_smp_field_t podspec_f[] = {
    {"containers", SL_SMP_MERGE, "name", &container_t},
    {NULL},
};
static const sl_smp_type_t podspec_t = {podspec_f};
static const sl_smp_field_t meta_f[] = {{"finalizers", SL_SMP_MERGE, NULL, NULL}, {NULL}};
static const sl_smp_type_t meta_t = {meta_f};
static const sl_smp_field_t spec_f[] = {{"template", SL_SMP_ATOMIC, NULL, &podspec_t}, {NULL}};
static const sl_smp_type_t spec_t = {spec_f};
static const sl_smp_field_t root_f[] = {
    {"metadata", SL_SMP_ATOMIC, NULL, &meta_t},
    {"spec", SL_SMP_ATOMIC, NULL, &podspec_t},
    {"deploy", SL_SMP_ATOMIC, NULL, &spec_t},
    {NULL},
};
static const sl_smp_type_t root_t = {root_f};

static void smp(const char *doc, const char *patch, const char *want, const char *what) {
  check(2, doc, patch, want, &root_t, what);
}

static void test_strategic(void) {
  const char *two = "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},"
                    "{\"name\":\"b\",\"image\":\"1\",\"args\":[\"x\",\"y\"]}]}}";
  smp(two, "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"2\"}]}}",
      "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},"
      "{\"name\":\"b\",\"image\":\"2\",\"args\":[\"x\",\"y\"]}]}}",
      "containers merged by name: only b changes, a stays");
  smp(two, "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"3\"}]}}",
      "{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"3\"},{\"name\":\"a\",\"image\":"
      "\"1\"},{\"name\":\"b\",\"image\":\"1\",\"args\":[\"x\",\"y\"]}]}}",
      "a new container without $setElementOrder goes first, as the API server puts it");
  smp(two, "{\"spec\":{\"containers\":[{\"name\":\"a\",\"$patch\":\"delete\"}]}}",
      "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"1\",\"args\":[\"x\",\"y\"]}]}}",
      "$patch: delete removes the item with that key");
  smp(two, "{\"spec\":{\"containers\":[{\"$patch\":\"replace\"},{\"name\":\"c\"}]}}",
      "{\"spec\":{\"containers\":[{\"name\":\"c\"}]}}", "$patch: replace in a list replaces it");
  smp(two, "{\"spec\":{\"containers\":[{\"name\":\"b\",\"args\":[\"z\"]}]}}",
      "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\"},"
      "{\"name\":\"b\",\"image\":\"1\",\"args\":[\"z\"]}]}}",
      "a list without a strategy (args) is replaced");
  smp(two,
      "{\"spec\":{\"$setElementOrder/containers\":"
      "[{\"name\":\"b\"},{\"name\":\"a\"}]}}",
      "{\"spec\":{\"containers\":[{\"name\":\"b\",\"image\":\"1\",\"args\":[\"x\",\"y\"]},"
      "{\"name\":\"a\",\"image\":\"1\"}]}}",
      "$setElementOrder alone reorders");
  // What kubectl apply sends after changing one env var and adding another: server-only
  // entries (Z, set by someone else) stay where they were.
  smp("{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\",\"env\":[{\"name\":\"X\","
      "\"value\":\"1\"},{\"name\":\"Z\",\"value\":\"server\"}]}]}}",
      "{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"a\"}],\"containers\":[{\"$"
      "setElementOrder/env\":[{\"name\":\"X\"},{\"name\":\"Y\"}],\"env\":[{\"name\":\"X\","
      "\"value\":\"2\"},{\"name\":\"Y\",\"value\":\"3\"}],\"name\":\"a\"}]}}",
      "{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"1\",\"env\":[{\"name\":\"X\","
      "\"value\":\"2\"},{\"name\":\"Y\",\"value\":\"3\"},{\"name\":\"Z\",\"value\":\"server\"}]}]}"
      "}",
      "kubectl apply's patch: env merged by name in the set order, server-only entry kept after");
  smp("{\"spec\":{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":80,\"name\":"
      "\"http\"},{\"containerPort\":9090}]}]}}",
      "{\"spec\":{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":9090,"
      "\"name\":\"metrics\"},{\"containerPort\":80,\"$patch\":\"delete\"}]}]}}",
      "{\"spec\":{\"containers\":[{\"name\":\"a\",\"ports\":[{\"containerPort\":9090,"
      "\"name\":\"metrics\"}]}]}}",
      "ports merged by a numeric key, one deleted");
  smp("{\"metadata\":{\"finalizers\":[\"a\",\"b\"]}}",
      "{\"metadata\":{\"finalizers\":[\"c\",\"a\"]}}",
      "{\"metadata\":{\"finalizers\":[\"c\",\"a\",\"b\"]}}",
      "a primitive list with merge strategy is a set union, patch order first");
  smp("{\"metadata\":{\"finalizers\":[\"a\",\"b\",\"c\"]}}",
      "{\"metadata\":{\"$deleteFromPrimitiveList/finalizers\":[\"b\"]}}",
      "{\"metadata\":{\"finalizers\":[\"a\",\"c\"]}}", "$deleteFromPrimitiveList removes values");
  smp("{\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"maxSurge\":1}}}",
      "{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"}}",
      "{\"strategy\":{\"type\":\"Recreate\"}}", "$retainKeys clears the fields not listed");
  smp("{\"strategy\":{\"type\":\"RollingUpdate\"}}",
      "{\"strategy\":{\"$retainKeys\":[\"type\"],\"rollingUpdate\":{}}}", NULL,
      "a field outside $retainKeys is refused");
  smp("{\"a\":{\"b\":1,\"c\":2}}", "{\"a\":{\"$patch\":\"replace\",\"d\":3}}", "{\"a\":{\"d\":3}}",
      "$patch: replace on a map");
  smp("{\"a\":{\"b\":1},\"k\":1}", "{\"a\":{\"$patch\":\"delete\"}}", "{\"a\":{},\"k\":1}",
      "$patch: delete on a map empties it");
  smp("{\"a\":1,\"b\":2}", "{\"a\":null,\"c\":{\"d\":null,\"e\":1}}", "{\"b\":2,\"c\":{\"e\":1}}",
      "null deletes; nulls inside new values are dropped");
  smp("{\"deploy\":{\"template\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}}",
      "{\"deploy\":{\"template\":{\"containers\":[{\"name\":\"b\",\"image\":\"x\"}]}}}",
      "{\"deploy\":{\"template\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\",\"image\":"
      "\"x\"}]}}}",
      "the schema reaches nested types");
  smp("{\"other\":[{\"name\":\"a\"},{\"name\":\"b\"}]}", "{\"other\":[{\"name\":\"c\"}]}",
      "{\"other\":[{\"name\":\"c\"}]}", "a list the schema does not know is replaced");
  smp(two, "{\"spec\":{\"containers\":[{\"image\":\"2\"}]}}", NULL,
      "a list item without its merge key is refused");
  smp(two, "{\"spec\":{\"$patch\":\"sideways\"}}", NULL, "an unknown $patch directive is refused");
  smp(two, "[1]", NULL, "a patch that is not an object is refused");
  smp("{}", "{\"spec\":{\"containers\":[{\"name\":\"a\",\"$setElementOrder/env\":[]}]}}",
      "{\"spec\":{\"containers\":[{\"name\":\"a\"}]}}", "directives never land in a new subtree");
}

int main(void) {
  test_merge();
  test_json_patch();
  test_strategic();
  return tap_done();
}
