// Kubernetes protobuf request bodies ("k8s\0" + runtime.Unknown) decoded to JSON for the few
// kinds whose typed clients send them: since client-go 1.32 typed clients send
// application/vnd.kubernetes.protobuf, as kubectl create namespace, configmap, secret and
// serviceaccount do, and a Go controller's leader election (Lease) and event recorder (Event).
// Other kinds are refused with 415; responses are always JSON, which every client accepts.
#pragma once

#include <stddef.h>

#include "core/util/err.h"
#include "core/util/json.h"

// The object as JSON (kind and apiVersion from the envelope). SL_EPARSE on malformed input,
// SL_ENOTFOUND for a kind this decoder has no schema for.
int sl_emu_proto_decode(const char *buf, size_t len, sl_json_t **out, sl_err_t *err);
