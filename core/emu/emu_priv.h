// Internals shared by the emulator's modules: the sl_emu_t itself, API failures, and the write
// operations (create, update, delete) that both the HTTP handlers and the C API go through.
#pragma once

#include <stdarg.h>
#include <stdint.h>
#include <uv.h>

#include "core/emu/emu.h"
#include "core/emu/faults.h"
#include "core/emu/store.h"
#include "core/serve/http.h"
#include "core/util/rng.h"

typedef struct sl_emu_watch sl_emu_watch_t; // an open HTTP watch (api.c)

typedef struct {
  sl_emu_event_t type;
  char *resource; // "deployments.apps"
  sl_emu_obj_t *obj, *old;
} sl_emu_note_t;

// A client's change of a workload's desired replicas, as it was stored (GET /_emu/scales).
typedef struct {
  char resource[64], ns[64], name[254];
  long from, to;
  double time; // Unix seconds
} sl_emu_scale_rec_t;

#define EMU_SCALES 256 // the most recent ones kept

struct sl_emu {
  uv_loop_t *loop;
  sl_emu_opts_t o;
  sl_emu_store_t *store;
  sl_http_server_t *http;
  sl_rng_t rng;
  sl_emu_faults_t faults;
  char url[160];
  char *cert_pem, *key_pem;
  sl_emu_watch_t *watches; // open watches, for cutting them all and for shutdown
  size_t n_watches;
  sl_emu_backend_t backend;
  int has_backend;
  sl_emu_watcher_t *dispatcher;
  sl_emu_note_t *notes; // backend notifications waiting for the next loop turn
  size_t n_notes, cap_notes;
  uv_timer_t notify, drop;
  int handles_open;
  unsigned next_ip;
  int closing;
  sl_emu_scale_rec_t scales[EMU_SCALES]; // a ring: scales[(n_scales - 1) % EMU_SCALES] is the last
  uint64_t n_scales;
};

// An API failure, rendered as a Status object by the HTTP layer.
typedef struct {
  int code;           // HTTP status
  const char *reason; // NotFound, AlreadyExists, Conflict, Invalid, BadRequest, ...
  char msg[768];
  const sl_emu_rtype_t *t; // for details.kind/group
  char name[254];          // for details.name
} sl_emu_fail_t;

int emu_fail(sl_emu_fail_t *f, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// "pods", "deployments.apps": how messages name a type.
const char *emu_qualified(const sl_emu_rtype_t *t, char *buf, size_t n);
// "deployments.apps" (or a bare core plural) to its type; NULL when unknown or unserved.
sl_emu_rtype_t *emu_type(sl_emu_t *e, const char *resource);
// The Status object for a failure.
sl_json_t *emu_status(const sl_emu_fail_t *f);

enum {
  EMU_INTERNAL = 1,    // made by the emulator (not a client): no faults, not reported back
  EMU_DRY_RUN = 2,     // validate and answer, store nothing
  EMU_KEEP_STATUS = 4, // create: keep the given status (clients' is dropped when a subresource)
};

enum { EMU_MAIN, EMU_STATUS, EMU_ALL }; // what an update may change

int emu_create(sl_emu_t *e, sl_emu_rtype_t *t, const char *ns, sl_json_t *body, int flags,
               sl_emu_obj_t **out, sl_emu_fail_t *f);
// Replaces ns/name with body (taken). A non-empty metadata.resourceVersion in body must be the
// current one (409 otherwise). A no-op update stores nothing and returns the current version.
int emu_update(sl_emu_t *e, sl_emu_rtype_t *t, const char *ns, const char *name, sl_json_t *body,
               int part, int flags, sl_emu_obj_t **out, sl_emu_fail_t *f);
// Deletes ns/name; `opts` is a DeleteOptions (preconditions, propagationPolicy) or NULL.
// *out is a new reference to the last version.
int emu_delete(sl_emu_t *e, sl_emu_rtype_t *t, const char *ns, const char *name,
               const sl_json_t *opts, int flags, sl_emu_obj_t **out, sl_emu_fail_t *f);

// Re-arms the periodic watch drop after the fault switches changed.
void emu_faults_changed(sl_emu_t *e);
