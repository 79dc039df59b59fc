// libFuzzer: arbitrary bytes through the YAML loader and the typed config reader. Any input must
// either load or fail with a message; never crash, leak or read out of bounds.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/state/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_config_t c;
  sl_err_t err;
  if (sl_config_load_buffer(&c, (const char *)data, size, "fuzz.yaml", &err) == 0) {
    sl_config_deinit(&c);
  } else if (err.msg[0] == '\0') {
    __builtin_trap(); // every failure must say why
  }
  return 0;
}
