// The emulator's HTTP API (api.c): the routes, watches, and replies.
#pragma once

#include "core/emu/emu_priv.h"

int emu_api_init(sl_emu_t *e, sl_err_t *err);
void emu_api_close_watches(sl_emu_t *e);
// Cuts every open watch in the middle of an event (the watch-drop fault).
void emu_api_drop_watches(sl_emu_t *e);
// Writes the Status JSON of a failure as the reply.
void emu_reply_fail(sl_http_req_t *r, const sl_emu_fail_t *f);
void emu_reply_json(sl_http_req_t *r, int code, sl_json_t *j);
