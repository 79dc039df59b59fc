// The emulator's CustomResourceDefinitions (crd.c): the type a CRD defines, registered or
// updated after the CRD is stored, and unserved (its objects deleted) when the CRD goes.
#pragma once

#include "core/emu/emu_priv.h"

int emu_crd_validate(sl_emu_t *e, const sl_json_t *crd, sl_emu_fail_t *f);
int emu_crd_apply(sl_emu_t *e, const sl_json_t *crd, sl_err_t *err);
void emu_crd_remove(sl_emu_t *e, const sl_json_t *crd);
// Kubernetes version priority: whether a sorts before b (v1 > v2beta1 > v1beta1 > v1alpha1).
int emu_version_before(const char *a, const char *b);
