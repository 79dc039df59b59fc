// libFuzzer: arbitrary bytes as a kubeconfig (with a context named by the input's first line
// when it starts with "#ctx:"), through the loader. Any input must load or fail with a message;
// a load must yield a server URL and verification unless the file turned it off.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/kube/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char ctx[64] = {0};
  const char *buf = (const char *)data;
  size_t n = size;
  if (n > 5 && !memcmp(buf, "#ctx:", 5)) {
    size_t i = 5;
    while (i < n && buf[i] != '\n' && i - 5 < sizeof ctx - 1) {
      ctx[i - 5] = buf[i] ? buf[i] : '_';
      i++;
    }
  }
  sl_kube_config_t c;
  sl_err_t err = {0};
  // Relative paths resolve into a directory that does not exist: file reads fail cleanly.
  int rc = sl_kube_config_load_buffer(&c, buf, n, "fuzz.kubeconfig", "/nonexistent-fuzz-dir",
                                      ctx[0] ? ctx : NULL, &err);
  if (rc == 0) {
    if (!c.server || (strncmp(c.server, "https://", 8) && strncmp(c.server, "http://", 7)))
      __builtin_trap();
    if (!c.namespace || !c.context) __builtin_trap();
    if ((c.cert_data || c.cert_file) != (c.key_data || c.key_file)) __builtin_trap();
    sl_kube_config_deinit(&c);
  } else if (err.msg[0] == '\0') {
    __builtin_trap(); // every failure says why
  }
  char out[256];
  size_t bad;
  sl_kube_base64_decode(buf, n < 256 ? n : 256, out, &bad);
  return 0;
}
