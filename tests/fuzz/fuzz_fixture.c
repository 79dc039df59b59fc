// libFuzzer: the fixture-views reader (recorded views replayed into the store) against a fixed
// configuration. Any input loads and applies every frame, or fails with a message.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/state/config.h"
#include "core/state/fixture.h"

static const char config[] = "interval: 1s\n"
                             "accelerators: {H100: {count: 8, cost: 4}}\n"
                             "variants:\n"
                             "  - {id: llm/a, model: m, accelerator: H100, min: 0, max: 8}\n"
                             "  - {id: llm/b, model: n, accelerator: H100, min: 1, max: 4}\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sl_config_t cfg;
  static int ready;
  sl_err_t err = {0};
  if (!ready) {
    if (sl_config_load_buffer(&cfg, config, sizeof config - 1, "fuzz.yaml", &err) < 0)
      __builtin_trap();
    ready = 1;
  }
  sl_fixture_t f;
  if (sl_fixture_load_buffer(&f, (const char *)data, size, "views.yaml", &cfg, &err) < 0) {
    if (!err.msg[0]) __builtin_trap();
    return 0;
  }
  sl_store_t *st = sl_store_new(16);
  for (int i = 0; st && i < f.nframes + 1 && i < 64; i++)
    if (sl_fixture_apply(&f, i, st, i, &err) < 0 && !err.msg[0]) __builtin_trap();
  sl_store_free(st);
  sl_fixture_deinit(&f);
  return 0;
}
