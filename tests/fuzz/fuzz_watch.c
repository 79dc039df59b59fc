// libFuzzer: arbitrary bytes as a watch stream (split where the input's first byte says) into
// an informer with the pod projection, then the same bytes as a list page. Whatever happens the
// cache must stay consistent with the callbacks: every ADD is for a key not cached, every
// UPDATE/DELETE for one that is, and the final size equals adds minus deletes.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/kube/informer.h"
#include "core/kube/pod.h"

typedef struct {
  long adds, deletes;
  sl_informer_t *inf;
  int bad;
} track_t;

static void on_event(void *ud, sl_informer_op_t op, const char *key, const void *old,
                     const void *new) {
  track_t *t = ud;
  if (op == SL_INFORMER_ADD) {
    t->adds++;
    if (old || !new) t->bad = 1;
  } else if (op == SL_INFORMER_DELETE) {
    t->deletes++;
    if (!old || new) t->bad = 1;
  } else if (!old || !new) {
    t->bad = 1;
  }
  const sl_kube_pod_t *p = new ? new : old;
  if (!p || !p->name || !p->name[0]) t->bad = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t cut = data[0] % size;
  const char *s = (const char *)data + 1;
  size_t n = size - 1;
  if (cut > n) cut = n;
  track_t t = {0};
  sl_informer_opts_t o = {0};
  o.resource = "pods";
  o.max_event_bytes = 1 << 16;
  o.h = (sl_informer_handlers_t){
      sl_kube_pod_project, sl_kube_pod_free, sl_kube_pod_equal, on_event, &t, NULL};
  sl_err_t err = {0};
  sl_informer_t *inf = sl_informer_new(NULL, NULL, &o, &err);
  if (!inf) return 0;
  t.inf = inf;
  int rc = sl_informer_feed_watch(inf, s, cut, &err);
  if (rc == 0) rc = sl_informer_feed_watch(inf, s + cut, n - cut, &err);
  if (rc < 0 && err.msg[0] == '\0') __builtin_trap();
  sl_informer_feed_watch_end(inf, &err);
  // The same bytes as a list page, twice: the second application must change nothing.
  sl_json_limits_t lim = {64, 1 << 16};
  sl_json_t *page = sl_json_parse(s, n, &lim, &err);
  if (page) {
    sl_informer_feed_list(inf, page, &err);
    long a = t.adds, d = t.deletes;
    sl_informer_feed_list(inf, page, &err);
    if (t.adds != a || t.deletes != d) __builtin_trap();
    sl_json_free(page);
  }
  if (t.bad || (long)sl_informer_len(inf) != t.adds - t.deletes) __builtin_trap();
  sl_informer_free(inf);
  return 0;
}
