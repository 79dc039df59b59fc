// libFuzzer: bytes as a Kubernetes protobuf request body. Decoding succeeds with an object that
// serializes, or fails with a message.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/emu/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_json_t *j = NULL;
  sl_err_t err = {0};
  if (sl_emu_proto_decode((const char *)data, size, &j, &err) == 0) {
    char *out;
    size_t len;
    if (!j || sl_json_write(j, &out, &len, &err) < 0) __builtin_trap();
    free(out);
    sl_json_free(j);
  } else if (j || !err.msg[0]) {
    __builtin_trap();
  }
  return 0;
}
