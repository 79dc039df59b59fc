// The node projection: a node's name, the accelerator its label names, the GPUs it can hand
// out, and whether it takes new pods — what the inventory is made of.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "core/util/json.h"

typedef struct {
  char *name;
  char *accelerator; // the value of the accelerator label, "" when absent
  int64_t gpu_milli; // status.allocatable GPUs (nvidia.com/gpu, amd.com/gpu), thousandths
  int schedulable;   // not cordoned (spec.unschedulable)
  size_t size;
} sl_kube_node_t;

typedef struct {
  const char *accelerator_label; // default nvidia.com/gpu.product
} sl_kube_node_proj_t;

void *sl_kube_node_project(void *ud, const sl_json_t *obj, size_t *bytes);
void sl_kube_node_free(void *ud, void *rec);
int sl_kube_node_equal(void *ud, const void *a, const void *b);
