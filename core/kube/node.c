// Node projection. See node.h.
#include "core/kube/node.h"

#include <stdlib.h>
#include <string.h>

#include "core/kube/pod.h"

void sl_kube_node_free(void *ud, void *rec) {
  (void)ud;
  sl_kube_node_t *n = rec;
  if (!n) return;
  free(n->name);
  free(n->accelerator);
  free(n);
}

void *sl_kube_node_project(void *ud, const sl_json_t *obj, size_t *bytes) {
  const sl_kube_node_proj_t *pj = ud;
  const char *label =
      pj && pj->accelerator_label ? pj->accelerator_label : "nvidia.com/gpu.product";
  sl_kube_node_t *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  const sl_json_t *meta = sl_json_get(obj, "metadata");
  n->name = strdup(sl_json_str_or(sl_json_get(meta, "name"), ""));
  n->accelerator = strdup(sl_json_str_or(sl_json_get(sl_json_get(meta, "labels"), label), ""));
  const sl_json_t *alloc = sl_json_at(obj, "status.allocatable");
  static const char *const gpus[] = {"nvidia.com/gpu", "amd.com/gpu", NULL};
  for (const char *const *g = gpus; *g; g++) {
    int64_t m = 0;
    const char *q = sl_json_str_or(sl_json_get(alloc, *g), NULL);
    if (q && sl_kube_quantity_milli(q, &m) == 0) n->gpu_milli += m;
  }
  n->schedulable = !sl_json_bool_or(sl_json_at(obj, "spec.unschedulable"), 0);
  if (!n->name || !n->accelerator) {
    sl_kube_node_free(NULL, n);
    return NULL;
  }
  n->size = sizeof *n + strlen(n->name) + strlen(n->accelerator) + 2;
  *bytes = n->size;
  return n;
}

int sl_kube_node_equal(void *ud, const void *a, const void *b) {
  (void)ud;
  const sl_kube_node_t *x = a, *y = b;
  return x->gpu_milli == y->gpu_milli && x->schedulable == y->schedulable &&
         !strcmp(x->accelerator, y->accelerator);
}
