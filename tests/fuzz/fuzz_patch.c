// libFuzzer: bytes as a document and a patch, applied as a JSON merge patch, a JSON patch and a
// strategic merge patch with the Deployment schema. Input: [kind][split][document...patch...].
// Any input must apply or fail with a message, and what applies must serialize and parse back.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/emu/kinds.h"
#include "core/emu/patch.h"
#include "core/emu/store.h"

static const sl_smp_type_t *deployment_schema(void) {
  static sl_emu_store_t *s;
  static const sl_smp_type_t *smp;
  if (!s) {
    sl_err_t err;
    s = sl_emu_store_new(16);
    if (!s || sl_emu_kinds_register(s, &err) < 0) __builtin_trap();
    smp = sl_emu_store_type(s, "apps", "deployments")->smp;
  }
  return smp;
}

static void check(int rc, sl_json_t *out, const sl_err_t *err) {
  if (rc < 0) {
    if (out || err->msg[0] == '\0') __builtin_trap(); // failures say why and return nothing
    return;
  }
  char *bytes;
  size_t len;
  sl_err_t e2;
  if (sl_json_write(out, &bytes, &len, &e2) == 0) {
    sl_json_t *back = sl_json_parse(bytes, len, NULL, &e2);
    if (!back || !sl_json_equal(out, back)) __builtin_trap();
    sl_json_free(back);
    free(bytes);
  }
  sl_json_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  int kind = data[0] % 4;
  const char *s = (const char *)data + 2;
  size_t n = size - 2, cut = n ? (size_t)data[1] * n / 255 : 0;
  sl_json_limits_t lim = {64, 1 << 16};
  sl_err_t err = {0};
  sl_json_t *doc = sl_json_parse(s, cut, &lim, &err);
  sl_json_t *patch = sl_json_parse(s + cut, n - cut, &lim, &err);
  if (patch) {
    sl_json_t *out = NULL;
    int rc;
    err.msg[0] = '\0';
    switch (kind) {
    case 0:
      rc = sl_patch_merge(doc, patch, &out, &err);
      break;
    case 1:
      rc = sl_patch_json(doc, patch, &out, &err);
      break;
    case 2:
      rc = sl_patch_strategic(doc, patch, deployment_schema(), &out, &err);
      break;
    default:
      rc = sl_patch_strategic(doc, patch, NULL, &out, &err);
      break;
    }
    check(rc, out, &err);
  }
  sl_json_free(doc);
  sl_json_free(patch);
  return 0;
}
