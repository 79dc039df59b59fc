// Discovery (discovery.c): /api, /apis and the groups' resource lists, as kubectl reads them.
#pragma once

#include "core/emu/emu_priv.h"

void emu_discovery_route(sl_emu_t *e, sl_http_req_t *r, const char *path);
sl_json_t *emu_discovery_resources(sl_emu_t *e, const char *group, const char *version);
