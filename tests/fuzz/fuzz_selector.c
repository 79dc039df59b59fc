// libFuzzer: bytes as a label selector and as a field selector. Parsing either succeeds and the
// selector can be matched, or fails with a message; a parsed label selector's requirements are
// well formed (one value for =, !=, >, <; at least one for in and notin; none for exists).
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/emu/select.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  static const char obj_json[] =
      "{\"metadata\":{\"name\":\"p\",\"namespace\":\"default\",\"labels\":{\"app\":\"web\","
      "\"tier\":\"1\",\"a.b/c\":\"\"}},\"status\":{\"phase\":\"Running\"}}";
  sl_err_t err = {0};
  sl_json_t *obj = sl_json_parse(obj_json, sizeof obj_json - 1, NULL, &err);
  sl_sel_t sel;
  if (sl_sel_parse_labels(s, &sel, &err) == 0) {
    for (size_t i = 0; i < sel.n; i++) {
      const sl_sel_req_t *r = &sel.reqs[i];
      size_t want_min = 0, want_max = 0;
      if (r->op == SL_SEL_EQ || r->op == SL_SEL_NEQ || r->op == SL_SEL_GT || r->op == SL_SEL_LT)
        want_min = want_max = 1;
      else if (r->op == SL_SEL_IN || r->op == SL_SEL_NOTIN)
        want_min = 1, want_max = (size_t)-1;
      if (!r->key || r->n_values < want_min || r->n_values > want_max) __builtin_trap();
    }
    (void)sl_sel_match_labels(&sel, sl_json_at(obj, "metadata.labels"));
    sl_sel_deinit(&sel);
  } else if (!err.msg[0]) {
    __builtin_trap();
  }
  err.msg[0] = '\0';
  if (sl_sel_parse_fields(s, &sel, &err) == 0) {
    (void)sl_sel_match_fields(&sel, obj);
    sl_sel_deinit(&sel);
  } else if (!err.msg[0]) {
    __builtin_trap();
  }
  sl_json_free(obj);
  free(s);
  return 0;
}
