// Registration of the C modules available inside policy VMs.
#include "core/lua/modules.h"

#include "core/lua/bind_alloc.h"
#include "core/lua/bind_log.h"
#include "core/lua/bind_model.h"

void sl_lua_preload_kernels(sl_vm_t *vm) {
  sl_vm_preload(vm, "sluice.model", luaopen_sluice_model);
  sl_vm_preload(vm, "sluice.log", luaopen_sluice_log);
  sl_vm_preload(vm, "sluice.alloc", luaopen_sluice_alloc);
}
