// libFuzzer: the Prometheus source's reading of /api/v1/query answers. The first byte picks the
// query the answer is read as (gauge, histogram bucket, _sum, cache_config_info, ...); the rest
// is the body. Besides memory safety it checks that a refused answer, and a refused commit of
// what was staged, says why.
#include <stddef.h>
#include <stdint.h>

#include "core/scrape/prom.h"

static sl_prom_t *prom;
static sl_store_t *store;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sl_err_t err = {0};
  if (!prom) {
    sl_prom_opts_t o = {.url = "http://127.0.0.1:1"};
    prom = sl_prom_new(&o, &err);
    sl_prom_target_t t[] = {{"llm/p1", NULL}, {"llm/p2", NULL}, {"llm/epp", "m"}};
    if (!prom || sl_prom_set_targets(prom, t, 3, &err) < 0) __builtin_trap();
    store = sl_store_new(8);
    sl_store_set_pod(store, "llm/a", "llm/p1", SL_POD_READY);
    sl_store_set_pod(store, "llm/a", "llm/p2", SL_POD_READY);
  }
  if (size < 1) return 0;
  size_t nq = sl_prom_nqueries(prom);
  size_t qi = data[0] % nq;
  sl_prom_stage_reset(prom);
  int rc = sl_prom_stage(prom, qi, (const char *)data + 1, size - 1, &err);
  if (rc < 0 && !err.msg[0]) __builtin_trap();
  // Whatever was staged goes into the store, or is refused with a reason (a histogram whose
  // bounds changed between answers is the store's to refuse).
  static double t = 0;
  sl_err_t cerr = {0};
  if (sl_prom_commit(prom, store, t += 1, &cerr) < 0 && !cerr.msg[0]) __builtin_trap();
  return 0;
}
