// The C modules policies may `require`: the kernels' bindings and the log. One list, so every
// policy VM (controller, sluice check, simulator) offers the same set.
#pragma once

#include "core/lua/vm.h"

void sl_lua_preload_kernels(sl_vm_t *vm);
