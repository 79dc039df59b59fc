// The emulator's TLS (tls.c): a self-signed certificate for --tls, made at start.
#pragma once

#include "core/emu/emu_priv.h"

int emu_tls_make(sl_emu_t *e, sl_err_t *err);
