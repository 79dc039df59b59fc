// libFuzzer: the simulator's cluster-file reader (models, variants, accelerators, SLO classes,
// engine and profile settings). Any input loads or fails with a message naming where.
#include <stddef.h>
#include <stdint.h>

#include "core/sim/cluster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_cluster_t c;
  sl_err_t err = {0};
  if (sl_cluster_load_buffer(&c, (const char *)data, size, "cluster.yaml", &err) == 0)
    sl_cluster_deinit(&c);
  else if (!err.msg[0])
    __builtin_trap();
  return 0;
}
