// sluice's emulated Kubernetes API server: a subset of the API on loopback that the real
// kubectl and client-go work against (discovery, OpenAPI, CRUD, patches, watches, Tables,
// scale and status subresources, CRDs), plus a backend that makes workloads behave (pods
// scheduled onto emulated GPU nodes, started after a delay) and switchable faults.
//
// Everything runs on the caller's libuv loop. The backend is behind sl_emu_backend_t so a
// simulator-driven one can replace the default (backend.c); backends act through the C API
// below, whose writes watchers see exactly as they see a client's.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/util/err.h"
#include "core/util/json.h"

typedef struct sl_emu sl_emu_t;
typedef struct sl_emu_faults sl_emu_faults_t;

// ---- the backend interface --------------------------------------------------------------------
// Callbacks run on the loop, never inside a write (they are queued and delivered on the next
// turn), so a backend may read and write freely from them. `resource` names the type as
// "deployments.apps" or "leaderworkersets.leaderworkerset.x-k8s.io"; `obj` is the version that
// triggered the call (the current one may already be newer: read it with sl_emu_get).
// A workload is a Deployment or a custom resource whose CRD declares a scale subresource.

typedef struct {
  void *ud;
  // The emulator is listening: create nodes, start timers.
  int (*start)(void *ud, sl_emu_t *emu, sl_err_t *err);
  // A workload was created, or its spec changed other than in replicas.
  void (*workload_changed)(void *ud, sl_emu_t *emu, const char *resource, const sl_json_t *obj);
  // A workload's desired replicas changed (scale subresource, patch, apply...).
  void (*workload_scaled)(void *ud, sl_emu_t *emu, const char *resource, const sl_json_t *obj,
                          long from, long to);
  // A workload was deleted (its pods are deleted by owner references before this runs).
  void (*workload_deleted)(void *ud, sl_emu_t *emu, const char *resource, const sl_json_t *obj);
  // A client deleted a pod (deletions made through this API by the backend are not reported).
  void (*pod_deleted)(void *ud, sl_emu_t *emu, const sl_json_t *pod);
  // The emulator is stopping: release everything (timers must be closed by the time the loop
  // has run once more).
  void (*stop)(void *ud);
  // An admin request under /_emu/ that the API does not serve itself (the simulation backend's
  // /_emu/load). body is the parsed JSON of a POST/PUT/PATCH, NULL otherwise. Fill *reply for a
  // 200; SL_ENOTFOUND answers 404, another error 400, both with err's message. Optional.
  int (*admin)(void *ud, sl_emu_t *emu, const char *method, const char *path, const sl_json_t *body,
               sl_json_t **reply, sl_err_t *err);
} sl_emu_backend_t;

// What a layer on top of the default backend (the simulator, sim.h) adds to its pods.
typedef struct {
  void *ud;
  // Wall-clock seconds from scheduled to Ready for this pod; < 0: the backend's start delay.
  double (*start_delay)(void *ud, const sl_json_t *pod);
  // The pod is turning Ready: `pod` is the version about to be written, which the hook may
  // change (annotations, container ports). `deployment` is its Deployment, or NULL.
  void (*pod_ready)(void *ud, sl_json_t *pod, const sl_json_t *deployment);
} sl_emu_pod_hooks_t;

// The default backend (backend.c): deployments reconciled into pods on emulated nodes.
typedef struct {
  double start_delay_s; // scheduled -> Running/Ready after this many seconds (0: at once)
  const char *nodes;    // "PRODUCT:COUNT:GPUS,..." (default NVIDIA-H100-80GB-HBM3:2:8)
  const sl_emu_pod_hooks_t *hooks; // copied; NULL for none
} sl_emu_backend_opts_t;

int sl_emu_default_backend(uv_loop_t *loop, const sl_emu_backend_opts_t *o, sl_emu_backend_t *out,
                           sl_err_t *err);
// The nvidia.com/gpu.product label the default backend gives nodes of a --nodes product
// ("H100" -> "NVIDIA-H100-80GB-HBM3"; other names as they are), into buf.
const char *sl_emu_gpu_product(const char *product, char *buf, size_t n);

// ---- the emulator -------------------------------------------------------------------------------

typedef struct {
  const char *host;  // default 127.0.0.1
  int port;          // 0: chosen by the OS
  uint64_t seed;     // names, uids and fault draws are deterministic given it
  size_t history;    // changes kept for watches resuming from a resourceVersion (4096)
  double bookmark_s; // BOOKMARK interval for watches that allow them (default 30)
  size_t max_body;   // request body cap (default 8 MiB)
  int tls;           // HTTPS with a self-signed certificate made at start
} sl_emu_opts_t;

// Starts listening. `backend` is copied; NULL runs no backend (objects just sit in the store).
int sl_emu_new(uv_loop_t *loop, const sl_emu_opts_t *o, const sl_emu_backend_t *backend,
               sl_emu_t **out, sl_err_t *err);
// Stops the backend and the server; memory is released once the loop has run again.
void sl_emu_free(sl_emu_t *e);
int sl_emu_port(const sl_emu_t *e);
// "http://127.0.0.1:PORT" (https with --tls).
const char *sl_emu_url(const sl_emu_t *e);
// The CA (the self-signed certificate) clients must trust, PEM; NULL without TLS.
const char *sl_emu_ca_pem(const sl_emu_t *e);
// Writes a kubeconfig for the emulator to path atomically (temporary file, then rename).
int sl_emu_write_kubeconfig(const sl_emu_t *e, const char *path, sl_err_t *err);
sl_emu_faults_t *sl_emu_faults(sl_emu_t *e);
// Sets one fault switch from a --fault argument (see faults.h), or only checks it.
int sl_emu_set_fault(sl_emu_t *e, const char *spec, sl_err_t *err);
int sl_emu_fault_check(const char *spec, sl_err_t *err);
uv_loop_t *sl_emu_loop(const sl_emu_t *e);

// ---- objects, for backends and tests ------------------------------------------------------------
// Writes made here are the emulator's own: they skip faults and are not reported back to the
// backend as client actions. They otherwise follow the API's rules (defaults, resourceVersion,
// generation, owner-reference garbage collection) and watchers see them.

// The current object, borrowed until the next write; NULL when absent.
const sl_json_t *sl_emu_get(sl_emu_t *e, const char *resource, const char *ns, const char *name);
// Objects in a namespace (NULL: all), optionally filtered by a label selector; *items is a
// malloc'd array of borrowed objects.
int sl_emu_list(sl_emu_t *e, const char *resource, const char *ns, const char *label_selector,
                const sl_json_t ***items, size_t *n, sl_err_t *err);
// Creates obj (taken); a status in obj is kept. metadata.generateName works.
int sl_emu_create(sl_emu_t *e, const char *resource, sl_json_t *obj, const sl_json_t **out,
                  sl_err_t *err);
// Replaces the object obj names (taken), status included, whatever its resourceVersion.
int sl_emu_update(sl_emu_t *e, const char *resource, sl_json_t *obj, const sl_json_t **out,
                  sl_err_t *err);
// Merges `status` (RFC 7386) into the object's status.
int sl_emu_patch_status(sl_emu_t *e, const char *resource, const char *ns, const char *name,
                        const sl_json_t *status, sl_err_t *err);
int sl_emu_delete(sl_emu_t *e, const char *resource, const char *ns, const char *name,
                  sl_err_t *err);
// Records a core/v1 Event about obj (type "Normal" or "Warning").
int sl_emu_event(sl_emu_t *e, const sl_json_t *obj, const char *type, const char *reason,
                 const char *message, const char *component);
// A workload's scale subresource, as the HPA controller reads it: the workload's resource
// ("deployments.apps"), spec and status replicas, and the pods' label selector ("" if none).
typedef struct {
  char resource[200];
  long spec_replicas, status_replicas;
  char selector[1024];
} sl_emu_scale_t;
// The scale of the object of apiVersion/kind ns/name; SL_ENOTFOUND with err when the kind is
// unknown or has no scale subresource, or the object is absent.
int sl_emu_get_scale(sl_emu_t *e, const char *api_version, const char *kind, const char *ns,
                     const char *name, sl_emu_scale_t *out, sl_err_t *err);
// Writes the replica count through the scale subresource (an emulator's own write: no faults).
int sl_emu_set_scale(sl_emu_t *e, const char *resource, const char *ns, const char *name,
                     long replicas, sl_err_t *err);
// Random names and uids from the emulator's seeded generator.
void sl_emu_random_suffix(sl_emu_t *e, char *buf, size_t n);
// Now as RFC 3339 (seconds, UTC).
void sl_emu_timestamp(char buf[32]);
