// The policy VM and its sandbox: budgets that pcall cannot swallow, the memory cap, what the
// environment refuses, require, the pipeline clock, plain-data copies, and pattern functions that
// behave like LuaJIT's own (checked side by side against an unsandboxed LuaJIT state).
#include "core/lua/vm.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util/log.h"
#include "tests/unit/tap.h"

#define MiB ((size_t)1 << 20)

static sl_clock_t clk;

static sl_vm_t *new_vm(size_t mem, uint64_t budget, const char *module_path) {
  sl_vm_opts_t o = {
      .mem_limit = mem, .instr_budget = budget, .clock = &clk, .module_path = module_path};
  sl_err_t err;
  sl_vm_t *vm = sl_vm_new(&o, &err);
  if (!vm) fprintf(stderr, "sl_vm_new: %s\n", err.msg);
  return vm;
}

// Loads src as "@t.lua", calls it, and returns the code; the first result (if a string, number or
// boolean) is written to out. The stack is left as it was.
static int run(sl_vm_t *vm, const char *src, char *out, size_t outlen, sl_err_t *err) {
  lua_State *L = sl_vm_state(vm);
  int top = lua_gettop(L);
  if (out) out[0] = '\0';
  int rc = sl_vm_load(vm, src, strlen(src), "@t.lua", err);
  if (rc == 0) rc = sl_vm_pcall(vm, 0, 1, err);
  if (rc == 0) {
    if (out && lua_type(L, -1) == LUA_TBOOLEAN)
      snprintf(out, outlen, "%s", lua_toboolean(L, -1) ? "true" : "false");
    else if (out && lua_isstring(L, -1))
      snprintf(out, outlen, "%s", lua_tostring(L, -1));
    else if (out)
      snprintf(out, outlen, "<%s>", luaL_typename(L, -1));
  }
  lua_settop(L, top);
  return rc;
}

static void expect(sl_vm_t *vm, const char *src, int code, const char *needle, const char *what) {
  sl_err_t err = {0};
  char out[512];
  int rc = run(vm, src, out, sizeof out, &err);
  T_EQ_INT(rc, code, what);
  if (code != 0)
    T_STR_HAS(err.msg, needle, what);
  else
    T_STR_HAS(out, needle, what);
}

// ---- budget ------------------------------------------------------------------------------------

static void test_budget(void) {
  sl_vm_t *vm = new_vm(0, 0, NULL);
  sl_err_t err;
  char out[64];

  int rc = run(vm, "while true do end", NULL, 0, &err);
  T_EQ_INT(rc, SL_EBUDGET, "while true do end stops with the budget error");
  T_STR_HAS(err.msg, "t.lua:1: instruction budget exceeded (10000000 instructions)",
            "budget message names file:line and the budget");
  T_STR_HAS(err.msg, "\nstack traceback:\n\tt.lua:1:", "budget error carries a traceback");
  T_OK(sl_vm_instr_used(vm) >= 10000000 && sl_vm_instr_used(vm) < 10002000,
       "the loop ran for the budget and no more (%llu)", (unsigned long long)sl_vm_instr_used(vm));

  expect(vm, "return 6 * 7", 0, "42", "the VM answers the next call after an overrun");
  T_OK(sl_vm_instr_used(vm) < 100, "the next call starts with a fresh budget");

  expect(vm,
         "local n = 0\n"
         "while true do\n"
         "  n = n + 1\n"
         "  pcall(function() while true do end end)\n"
         "end",
         SL_EBUDGET, "instruction budget exceeded", "pcall in a loop cannot swallow the budget");
  expect(vm, "local ok = pcall(function() while true do end end)\nreturn ok", SL_EBUDGET,
         "t.lua:1: instruction budget exceeded", "pcall returning to policy code raises again");
  expect(vm,
         "while true do\n"
         "  xpcall(function() while true do end end, function(e) while true do end end)\n"
         "end",
         SL_EBUDGET, "instruction budget exceeded",
         "a looping xpcall error handler cannot swallow the budget");
  expect(vm, "return xpcall(function() error('x') end, function(e) while true do end end)",
         SL_EBUDGET, "instruction budget exceeded", "a handler that loops on an ordinary error");
  expect(vm,
         "return select(2, xpcall(function() error('x', 0) end, function(e) return 'h:' .. e end))",
         0, "h:x", "xpcall handlers still run for ordinary errors");
  expect(vm, "while true do coroutine.wrap(function() while true do end end)() end", SL_EBUDGET,
         "instruction budget exceeded", "a loop inside a coroutine is budgeted");
  expect(vm,
         "local co = coroutine.create(function() while true do end end)\n"
         "while true do coroutine.resume(co) end",
         SL_EBUDGET, "instruction budget exceeded", "resume cannot swallow the budget");
  expect(vm, "local function f() return f() end return f()", SL_EBUDGET,
         "instruction budget exceeded", "tail-call recursion is budgeted");
  expect(vm, "return ('x'):rep(100) .. 'y'", 0, "xxxy", "after all of that the VM still works");
  run(vm, "return 1", out, sizeof out, &err);
  T_STR_HAS(out, "1", "plain call after overruns");

  // Small budgets are exact to the instruction period.
  sl_vm_t *small = new_vm(0, 5000, NULL);
  expect(small, "local x = 0 for i = 1, 100 do x = x + i end return x", 0, "5050",
         "a small budget allows small work");
  expect(small, "local x = 0 for i = 1, 10000 do x = x + i end return x", SL_EBUDGET,
         "instruction budget exceeded (5000 instructions)", "and stops larger work");
  sl_vm_free(small);
  sl_vm_free(vm);
}

// A C function calling back into Lua through sl_vm_pcall, as the host's bindings will.
static sl_vm_t *g_nested_vm;
static int g_nested_rc;
static int nested_call(lua_State *L) {
  sl_err_t err;
  lua_pushvalue(L, 1);
  g_nested_rc = sl_vm_pcall(g_nested_vm, 0, 1, &err);
  if (g_nested_rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  return 1;
}
static int open_cb(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, nested_call);
  lua_setfield(L, -2, "call");
  return 1;
}

static void test_nested(void) {
  sl_vm_t *vm = g_nested_vm = new_vm(0, 100000, NULL);
  sl_vm_preload(vm, "cb", open_cb);
  expect(vm, "local cb = require 'sluice.cb' return cb.call(function() return 'inner' end)", 0,
         "inner", "a nested sl_vm_pcall returns its results");
  expect(vm,
         "local cb = require 'sluice.cb'\n"
         "local ok, e = cb.call(function() while true do end end)\n"
         "return 'went on'",
         SL_EBUDGET, "instruction budget exceeded (100000 instructions)",
         "a nested overrun still unwinds the outer call");
  T_EQ_INT(g_nested_rc, SL_EBUDGET, "the nested call reported the budget");
  expect(vm, "return require('sluice.cb').call(function() error('inner boom') end)", 0, "",
         "a nested runtime error returns nil, msg to the caller");
  expect(vm, "local _, e = require('sluice.cb').call(function() error('inner boom') end) return e",
         0, "t.lua:1: inner boom", "the nested error names file:line");
  sl_vm_free(vm);
}

// ---- memory ------------------------------------------------------------------------------------

static void test_memory(void) {
  size_t cap = 16 * MiB;
  sl_vm_t *vm = new_vm(cap, 1000000000ull, NULL);
  sl_err_t err;

  expect(vm, "local s = string.rep('x', 1e9) return #s", SL_EBUDGET,
         "t.lua:1: memory cap exceeded (string.rep of 1000000000 bytes; limit 16.0 MiB",
         "string.rep bomb is refused up front");
  expect(vm, "local s = ('abc'):rep(1e8, ',') return #s", SL_EBUDGET, "memory cap exceeded",
         "string.rep with a separator, method syntax");
  expect(vm, "local ok = pcall(string.rep, 'x', 1e9) return 'swallowed'", SL_EBUDGET,
         "memory cap exceeded", "pcall cannot swallow a string.rep bomb");
  expect(vm, "return #string.rep('ab', 1000, '-')", 0, "2999", "string.rep still works");

  expect(vm,
         "for k = 1, 100 do\n"
         "  pcall(function() local t = {} for i = 1, 1e9 do t[i] = {} end end)\n"
         "end\n"
         "return 'survived'",
         SL_EBUDGET, "memory cap exceeded (limit 16.0 MiB)",
         "a table-growth bomb inside pcall unwinds to the host");
  expect(vm, "local t = {} for i = 1, 1e9 do t[i] = i end", SL_EBUDGET,
         "t.lua:1: memory cap exceeded", "a table-growth bomb names the line");
  expect(vm, "local s = 'x' while true do s = s .. s end", SL_EBUDGET, "memory cap exceeded",
         "doubling a string by concatenation hits the cap");
  expect(vm,
         "local t = {}\n"
         "for i = 1, 1e7 do t[#t + 1] = { i, tostring(i) } end",
         SL_EBUDGET, "t.lua:2: memory cap exceeded", "many small tables hit the cap");
  T_OK(sl_vm_mem_peak(vm) <= cap, "memory never went over the cap (peak %zu <= %zu)",
       sl_vm_mem_peak(vm), cap);
  T_OK(sl_vm_mem_used(vm) < cap / 2, "garbage of the bombs is collected after the call (%zu)",
       sl_vm_mem_used(vm));
  expect(vm, "local t = {} for i = 1, 1000 do t[i] = i end return #t", 0, "1000",
         "the VM works after memory bombs");

  // Garbage does not count as live: churning far more than the cap in total is fine.
  expect(vm,
         "local keep = {}\n"
         "for i = 1, 200 do keep[i % 4] = string.rep('y', 1e6) end\n"
         "return 'ok'",
         0, "ok", "allocation churn beyond the cap succeeds (garbage is collected)");
  T_OK(sl_vm_mem_peak(vm) <= cap, "peak still within the cap");

  // Allocation in C counts against the instruction budget.
  sl_vm_t *tight = new_vm(64 * MiB, 200000, NULL);
  expect(tight,
         "local s = string.rep('z', 8e6)\n"
         "for i = 1, 1e6 do local t = s .. i end",
         SL_EBUDGET, "instruction budget exceeded",
         "copying large strings in a loop runs out of budget");
  sl_vm_free(tight);

  sl_vm_opts_t o = {.mem_limit = 1000, .clock = &clk};
  T_OK(sl_vm_new(&o, &err) == NULL && err.code == SL_EINVAL, "a cap below 1 MiB is refused");
  T_STR_HAS(err.msg, "mem_limit", "the error names the field");
  sl_vm_opts_t noclock = {0};
  T_OK(sl_vm_new(&noclock, &err) == NULL, "a VM needs a clock");
  sl_vm_free(vm);
}

// ---- environment -------------------------------------------------------------------------------

static void test_environment(void) {
  sl_vm_t *vm = new_vm(0, 0, NULL);
  sl_err_t err;

  expect(vm, "x = 1", SL_EINVAL, "t.lua:1: assignment to undeclared global 'x'",
         "writing a global raises with file:line");
  expect(vm, "local function f() y = 2 end\nf()", SL_EINVAL,
         "t.lua:1: assignment to undeclared global 'y'", "inside a function too");
  expect(vm, "return tostring(undefined_name)", 0, "nil", "reading an unknown global gives nil");
  expect(vm, "rawset(_G, 'declared', 5) return declared", 0, "5",
         "rawset on _G declares a global deliberately");
  expect(vm, "return load('while true do end')()", SL_EINVAL, "global 'load' (a nil value)",
         "load is not available");
  expect(vm, "jit.on()", SL_EINVAL, "global 'jit' (a nil value)", "jit is not available");
  expect(vm, "local f = io.open('/etc/passwd')", SL_EINVAL, "global 'io' (a nil value)",
         "io is not available");
  expect(vm, "os.execute('true')", SL_EINVAL, "field 'execute' (a nil value)",
         "os.execute is not available");
  expect(vm, "return debug.getinfo(1)", SL_EINVAL, "global 'debug' (a nil value)",
         "debug is not available");
  expect(vm, "return string.dump(function() end)", SL_EINVAL, "field 'dump' (a nil value)",
         "string.dump is not available");
  expect(vm, "return ('x').dump", 0, "<nil>", "nor through the string metatable");
  expect(vm, "return require('ffi')", SL_EINVAL, "module 'ffi' is not available in the sandbox",
         "require 'ffi' is refused");
  expect(vm, "return require('os')", SL_EINVAL, "module 'os' is not available in the sandbox",
         "require 'os' is refused");
  expect(vm, "return require('sluice/../x')", SL_EINVAL, "is not available in the sandbox",
         "module names with path characters are refused");
  const char *gone[] = {"loadstring", "dofile",   "loadfile", "getfenv", "setfenv",
                        "module",     "newproxy", "package",  "gcinfo",  "ffi",
                        "jit",        "debug",    "io",       NULL};
  for (const char **g = gone; *g; g++) {
    char src[96], what[96];
    snprintf(src, sizeof src, "return type(%s)", *g);
    snprintf(what, sizeof what, "%s is nil in the sandbox", *g);
    expect(vm, src, 0, "nil", what);
  }
  expect(vm, "local n = 0 for k in pairs(os) do n = n + 1 end return n", 0, "2",
         "os holds only time and clock");
  expect(vm, "return collectgarbage('stop')", SL_EINVAL, "option 'stop' is not available",
         "collectgarbage('stop') is refused");
  expect(vm, "return type(collectgarbage('count'))", 0, "number", "collectgarbage('count') works");

  // Bytecode is refused whether it arrives as a file or as text.
  const char bc[] = "\033LJ\002\000\000";
  T_EQ_INT(sl_vm_load(vm, bc, sizeof bc - 1, "@b.lua", &err), SL_EPARSE, "bytecode is refused");
  T_STR_HAS(err.msg, "b.lua: precompiled bytecode is not accepted", "and the message says why");
  T_EQ_INT(lua_gettop(sl_vm_state(vm)), 0, "nothing was pushed");
  T_EQ_INT(sl_vm_load(vm, "local x = \nend", 14, "@policies/p.lua", &err), SL_EPARSE,
           "a syntax error is SL_EPARSE");
  T_STR_HAS(err.msg, "policies/p.lua:2:", "syntax errors name file:line");
  expect(vm, "error('boom')", SL_EINVAL, "t.lua:1: boom\nstack traceback:\n",
         "runtime errors: file:line: msg, then a traceback after a newline");
  expect(vm, "local function inner() local t = nil; return t.x end\nlocal v = inner() return v",
         SL_EINVAL, "in function 'inner'", "the traceback names functions");
  expect(vm, "error({})", SL_EINVAL, "(error object is a table value)",
         "non-string errors are described");

  // The string metatable.
  expect(vm, "getmetatable('').__index = nil", SL_EINVAL,
         "t.lua:1: the string metatable is read-only in the sandbox",
         "replacing the string metatable's __index fails clearly");
  expect(vm, "getmetatable('').__index.upper = function() return 'pwned' end", SL_EINVAL,
         "the string library is read-only in the sandbox",
         "changing string methods through the metatable fails");
  expect(vm, "rawset(getmetatable(''), '__index', {})", SL_EINVAL, "read-only",
         "rawset cannot get around it");
  expect(vm, "rawset(getmetatable('').__index, 'upper', print)", SL_EINVAL, "read-only",
         "nor on the library view");
  expect(vm, "setmetatable(getmetatable(''), {})", SL_EINVAL, "protected metatable",
         "nor setmetatable");
  expect(vm, "string.upper = function() return 'pwned' end return ('abc'):upper()", 0, "ABC",
         "a policy's own string table is a copy; methods stay intact");
  expect(vm, "return ('abc'):upper() .. string.upper('d')", 0, "ABCD",
         "the next chunk sees an untouched string library");
  expect(vm, "return getmetatable('').__index.upper('q')", 0, "Q",
         "reading through the metatable view works");
  expect(vm, "math.pi = 3 return math.pi", 0, "3", "library copies are writable");
  expect(vm, "return math.pi", 0, "3.14159", "and private to the chunk");
  expect(vm, "setmetatable(_G, nil)", SL_EINVAL, "protected metatable",
         "the environment's metatable is protected");
  sl_vm_free(vm);
}

static void log_sink(void *ud, sl_log_level_t level, const char *msg) {
  snprintf(ud, 256, "%s", msg);
}

static void test_print_and_clock(void) {
  sl_clock_init_sim(&clk, 1700000000.75);
  sl_vm_t *vm = new_vm(0, 0, NULL);
  expect(vm, "return os.time()", 0, "1700000000", "os.time() is the floor of the pipeline clock");
  sl_clock_advance(&clk, 12.5);
  expect(vm, "return os.time()", 0, "1700000013", "and follows it");
  expect(vm, "return os.clock()", 0, "12.5", "os.clock() is seconds since the VM was created");
  expect(vm, "return os.time({year = 2020, month = 1, day = 1})", SL_EINVAL,
         "only os.time() without arguments", "os.time(t) is refused");
  char line[256] = "";
  sl_log_set_sink(log_sink, line);
  expect(vm, "print('hello', 1, nil, true) return 0", 0, "0", "print runs");
  sl_log_set_sink(NULL, NULL);
  T_STR_HAS(line, "t.lua:1: hello\t1\tnil\ttrue", "print goes to the log with file:line");
  sl_vm_free(vm);
  sl_clock_init_sim(&clk, 0);
}

// ---- require -----------------------------------------------------------------------------------

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static int open_answer(lua_State *L) {
  lua_newtable(L);
  lua_pushinteger(L, 42);
  lua_setfield(L, -2, "answer");
  lua_pushstring(L, lua_tostring(L, 1));
  lua_setfield(L, -2, "name");
  return 1;
}

static void test_require(void) {
  char dir[] = "/tmp/sluice-vm-XXXXXX";
  if (!mkdtemp(dir)) {
    T_OK(0, "mkdtemp");
    return;
  }
  char sub[256], path[300];
  snprintf(sub, sizeof sub, "%s/sluice", dir);
  mkdir(sub, 0700);
  snprintf(path, sizeof path, "%s/sluice/x.lua", dir);
  write_file(path, "local M = {}\n"
                   "M.loads = (M.loads or 0) + 1\n"
                   "function M.double(v) return 2 * v end\n"
                   "return M\n");
  snprintf(path, sizeof path, "%s/sluice/bad.lua", dir);
  write_file(path, "local M = {}\n\nerror('bad module')\n");
  snprintf(path, sizeof path, "%s/sluice/syn.lua", dir);
  write_file(path, "return {\n");
  snprintf(path, sizeof path, "%s/sluice/glob.lua", dir);
  write_file(path, "leak = true\n");
  snprintf(path, sizeof path, "%s/sluice/self.lua", dir);
  write_file(path, "return require('sluice.self')\n");

  sl_vm_t *vm = new_vm(0, 0, dir);
  expect(vm, "return require('sluice.x').double(21)", 0, "42",
         "require loads sluice.x from module_path");
  expect(vm, "local a = require('sluice.x') local b = require('sluice.x') return a == b", 0, "true",
         "modules are cached per VM");
  expect(vm, "local a = require('sluice.x') a.mark = 'kept' return require('sluice.x').mark", 0,
         "kept", "the cache survives across calls");
  char want[400];
  snprintf(want, sizeof want, "%s/sluice/bad.lua:3: bad module", dir);
  expect(vm, "return require('sluice.bad')", SL_EINVAL, want,
         "a module's runtime error names its file:line");
  expect(vm, "return require('sluice.bad')", SL_EINVAL,
         "loop or previous error loading module 'sluice.bad'", "and is remembered");
  snprintf(want, sizeof want, "%s/sluice/syn.lua:2:", dir);
  expect(vm, "return require('sluice.syn')", SL_EINVAL, want,
         "a module's syntax error names its file:line");
  expect(vm, "return require('sluice.glob')", SL_EINVAL, "assignment to undeclared global 'leak'",
         "modules run in the sandbox too");
  expect(vm, "return require('sluice.self')", SL_EINVAL, "loop or previous error",
         "a module requiring itself fails");
  snprintf(want, sizeof want, "searched: %s/sluice/nope.lua, the embedded modules", dir);
  expect(vm, "return require('sluice.nope')", SL_EINVAL, want,
         "a missing module names where it looked");
  sl_vm_preload(vm, "sluice.answer", open_answer);
  expect(vm, "local m = require('sluice.answer') return m.answer .. ' ' .. m.name", 0,
         "42 sluice.answer", "C openers registered with sl_vm_preload are found first");
  sl_vm_preload(vm, "x", open_answer);
  expect(vm, "return require('sluice.x').double(4)", 0, "8",
         "an already-loaded module is not replaced by a later preload");
  sl_vm_free(vm);

  sl_vm_t *emb = new_vm(0, 0, NULL);
  expect(emb, "return require('sluice.x')", SL_EINVAL,
         "module 'sluice.x' not found (searched: the embedded modules)",
         "without module_path only embedded modules are searched");
  sl_vm_free(emb);

  const char *files[] = {"x", "bad", "syn", "glob", "self", NULL};
  for (const char **f = files; *f; f++) {
    snprintf(path, sizeof path, "%s/sluice/%s.lua", dir, *f);
    unlink(path);
  }
  rmdir(sub);
  rmdir(dir);
}

// ---- independence ------------------------------------------------------------------------------

static void test_independent(void) {
  sl_vm_t *a = new_vm(0, 0, NULL), *b = new_vm(0, 0, NULL);
  sl_vm_preload(a, "answer", open_answer);
  sl_vm_preload(b, "answer", open_answer);
  expect(a, "rawset(_G, 'shared', 1) require('sluice.answer').answer = 7 return 1", 0, "1",
         "VM a changes its globals and a module");
  expect(b, "return tostring(rawget(_G, 'shared'))", 0, "nil", "VM b does not see a's global");
  expect(b, "return require('sluice.answer').answer", 0, "42", "nor a's module change");
  expect(a, "while true do end", SL_EBUDGET, "budget", "VM a overruns");
  expect(b, "return 'fine'", 0, "fine", "VM b is unaffected");
  sl_vm_free(a);
  sl_vm_free(b);
}

// ---- copy_plain --------------------------------------------------------------------------------

static const char *CHECKER =
    "local t = ...\n"
    "assert(t.name == 'w' and t.n == 3 and t.flag == false)\n"
    "assert(#t.window == 3 and t.window[1] == 1.5 and t.window[3] == 'three')\n"
    "assert(t.nested.deeper.x == 'y' and t[10] == 'ten' and t[2.5] == 'frac')\n"
    "assert(t['key with spaces'] == true)\n"
    "assert(getmetatable(t) == nil)\n"
    "return 'ok'";

static const char *SOURCE =
    "return { name = 'w', n = 3, flag = false, window = { 1.5, 2, 'three' },\n"
    "  nested = { deeper = { x = 'y' } }, [10] = 'ten', [2.5] = 'frac',\n"
    "  ['key with spaces'] = true }";

// Evaluates src in vm (1 result left on the stack).
static int eval(sl_vm_t *vm, const char *src) {
  sl_err_t err;
  if (sl_vm_load(vm, src, strlen(src), "=eval", &err) != 0) return -1;
  return sl_vm_pcall(vm, 0, 1, &err);
}

static void expect_copy_refused(sl_vm_t *from, sl_vm_t *to, const char *src, size_t max,
                                const char *needle, const char *what) {
  lua_State *F = sl_vm_state(from), *T = sl_vm_state(to);
  sl_err_t err = {0};
  T_EQ_INT(eval(from, src), 0, what);
  int ttop = lua_gettop(T);
  int rc = sl_vm_copy_plain(F, -1, T, max, &err);
  T_EQ_INT(rc, SL_EINVAL, what);
  T_STR_HAS(err.msg, needle, what);
  T_EQ_INT(lua_gettop(T), ttop, "nothing pushed on refusal");
  lua_settop(F, 0);
}

static void test_copy(void) {
  sl_vm_t *a = new_vm(0, 0, NULL), *b = new_vm(0, 0, NULL);
  lua_State *A = sl_vm_state(a), *B = sl_vm_state(b);
  sl_err_t err;

  T_EQ_INT(eval(a, SOURCE), 0, "source table built");
  T_EQ_INT(sl_vm_copy_plain(A, -1, B, 0, &err), 0, "plain state copies across VMs");
  T_EQ_INT(lua_gettop(A), 1, "the source stays on its stack");
  T_EQ_INT(lua_gettop(B), 1, "the copy is on the destination's top");
  sl_vm_load(b, CHECKER, strlen(CHECKER), "=checker", &err);
  lua_insert(B, 1);
  T_EQ_INT(sl_vm_pcall(b, 1, 1, &err), 0, "the copy has every field, key and value");
  T_STR_HAS(lua_tostring(B, -1), "ok", "checker passed");
  lua_settop(B, 0);

  // Within one VM (from == to) and by positive index.
  T_EQ_INT(sl_vm_copy_plain(A, 1, A, 0, &err), 0, "copying within a VM");
  T_OK(lua_gettop(A) == 2 && !lua_rawequal(A, 1, 2), "gives a distinct table");
  sl_vm_load(a, CHECKER, strlen(CHECKER), "=checker", &err);
  lua_insert(A, 2);
  T_EQ_INT(sl_vm_pcall(a, 1, 1, &err), 0, "and the same content");
  lua_settop(A, 0);

  lua_pushnumber(A, 2.5);
  T_EQ_INT(sl_vm_copy_plain(A, -1, B, 0, &err), 0, "scalars copy");
  T_OK(lua_tonumber(B, -1) == 2.5, "scalar value kept");
  lua_pushnil(A);
  T_EQ_INT(sl_vm_copy_plain(A, -1, B, 0, &err), 0, "nil copies");
  T_OK(lua_isnil(B, -1), "nil value kept");
  lua_settop(A, 0);
  lua_settop(B, 0);

  expect_copy_refused(a, b, "return { window = { 1, 2, function() end } }", 0,
                      "state.window[3]: function values cannot be kept in state",
                      "a function is refused, naming its path");
  expect_copy_refused(a, b, "local t = { a = { b = {} } } t.a.b.c = t.a return t", 0,
                      "state.a.b.c: cycles cannot be kept in state", "a cycle is refused");
  expect_copy_refused(a, b, "return { big = string.rep('x', 2000) }", 1024,
                      "state.big: more than 1024 bytes of content cannot be kept in state",
                      "too much content is refused");
  expect_copy_refused(a, b, "return { [true] = 1 }", 0,
                      "state[<boolean>]: boolean keys cannot be kept in state",
                      "boolean keys are refused");
  expect_copy_refused(a, b, "return { obj = setmetatable({}, {}) }", 0,
                      "state.obj: tables with metatables cannot be kept in state",
                      "metatables are refused");
  expect_copy_refused(a, b, "return { co = coroutine.create(print) }", 0,
                      "state.co: thread values cannot be kept in state", "threads are refused");
  expect_copy_refused(a, b, "return { ['odd key'] = { print } }", 0,
                      "state[\"odd key\"][1]: function values", "odd keys are quoted in paths");
  expect_copy_refused(
      a, b, "local t = {} local c = t for i = 1, 64 do c.n = {} c = c.n end return t", 0,
      "tables nested more than 64 deep cannot be kept in state", "65 levels are refused");
  T_EQ_INT(eval(a, "local t = {} local c = t for i = 1, 63 do c.n = {} c = c.n end return t"), 0,
           "64 levels built");
  T_EQ_INT(sl_vm_copy_plain(A, -1, B, 0, &err), 0, "64 levels copy");
  lua_settop(A, 0);
  lua_settop(B, 0);
  T_EQ_INT(eval(a, "local s = {} local t = { x = s, y = s } return t"), 0, "shared subtable");
  T_EQ_INT(sl_vm_copy_plain(A, -1, B, 0, &err), 0, "a subtable shared twice is not a cycle");
  lua_settop(A, 0);
  lua_settop(B, 0);

  // The destination's cap holds while copying.
  sl_vm_t *small = new_vm(2 * MiB, 0, NULL);
  T_EQ_INT(eval(a, "local t = {} for i = 1, 100 do t[i] = string.rep('s', 30000) .. i end "
                   "return t"),
           0, "large state built");
  int rc = sl_vm_copy_plain(A, -1, sl_vm_state(small), 0, &err);
  T_EQ_INT(rc, SL_EBUDGET, "a copy beyond the destination's cap fails");
  T_STR_HAS(err.msg, "memory cap exceeded (limit 2.0 MiB) while copying state", "and says so");
  T_EQ_INT(lua_gettop(sl_vm_state(small)), 0, "leaving nothing behind");
  T_OK(sl_vm_mem_peak(small) <= 2 * MiB, "the cap held");
  expect(small, "return 'still fine'", 0, "still fine", "the destination VM works afterwards");
  lua_settop(A, 0);
  sl_vm_free(small);

  // A plain lua_State (not a policy VM) can be either side.
  lua_State *P = luaL_newstate();
  T_EQ_INT(eval(a, SOURCE), 0, "source again");
  T_EQ_INT(sl_vm_copy_plain(A, -1, P, 0, &err), 0, "copy into a plain lua_State");
  T_EQ_INT(sl_vm_copy_plain(P, -1, B, 0, &err), 0, "and from it into a VM");
  sl_vm_load(b, CHECKER, strlen(CHECKER), "=checker", &err);
  lua_insert(B, 1);
  T_EQ_INT(sl_vm_pcall(b, 1, 1, &err), 0, "round trip keeps the content");
  lua_close(P);
  sl_vm_free(a);
  sl_vm_free(b);
}

// ---- patterns ----------------------------------------------------------------------------------

// Expressions evaluated both in the sandbox and in a stock LuaJIT state; results (or error
// messages) must be identical.
static const char *const PATTERN_CASES[] = {
    "('hello world'):find('o w')",
    "('hello world'):find('o', 6)",
    "('hello world'):find('l', -3)",
    "('hello'):find('l', 10)",
    "('hello'):find('', 6)",
    "('hello'):find('', 7)",
    "('a.b'):find('.', 1, true)",
    "('hello'):find('(l)(l)')",
    "('hello'):find('^h')",
    "('hello'):find('^e')",
    "('hello'):find('o$')",
    "('hel$lo'):find('l$l')",
    "('  trim  '):match('^%s*(.-)%s*$')",
    "('key=value'):match('(%w+)=(%w+)')",
    "('2024-01-15'):match('(%d+)-(%d+)-(%d+)')",
    "('abc'):match('()b()')",
    "('THE (quick) fox'):find('%((%a+)%)')",
    "('f(a(b)c)d'):match('%b()')",
    "('THE (quick) fox'):match('%f[%a]%a+', 5)",
    "('hello'):match('.-(l+)(.*)')",
    "('aaa'):match('a-b')",
    "('aaab'):match('a-b')",
    "('abc'):match('[a-b]+')",
    "('a]b'):match('[]]')",
    "('a-b'):match('[a%-]+')",
    "('x^y'):match('[%^x]+')",
    "('abc123'):match('[^%d]+')",
    "('ABCdef'):match('%u+')",
    "('ABCdef'):match('%U+')",
    "('tab\\there'):match('%c')",
    "('a.b,c'):match('%p+')",
    "('0x1F'):match('%x+', 3)",
    "('a\\0b'):match('%z')",
    "('a\\0b'):find('\\0', 1, true)",
    "('hello hello'):match('(h%a+) %1')",
    "('hello'):match('(h)(e)(l)(l)(o)')",
    "('abc'):match('a?b?c?d?')",
    "('abc'):match('.*')",
    "('abc'):match('%a*$')",
    "('x'):match('%g')",
    "('a+b'):match('a%+b')",
    "('%'):match('%%')",
    "('ab'):match('(a')",
    "('ab'):match('a)')",
    "('ab'):match('%')",
    "('ab'):match('[a')",
    "('ab'):match('%1')",
    "('ab'):match('%f')",
    "('ab'):match('%b')",
    "('ab'):match('(()')",
    "('hello world from lua'):gsub('(%w+)', '<%1>')",
    "('hello world'):gsub('o', '0', 1)",
    "('abc'):gsub('', '-')",
    "('abc'):gsub('%w', '%0%0')",
    "('abc'):gsub('%w', '%%')",
    "('hello'):gsub('l+', function(s) return #s end)",
    "('hello'):gsub('l', { l = 'L' })",
    "('hello'):gsub('(h)(e)', { h = false })",
    "('$name is $age'):gsub('%$(%w+)', { name = 'bob', age = 42 })",
    "('abc'):gsub('b', function() return nil end)",
    "('hello world'):gsub('^h', 'H')",
    "('abc'):gsub('.', { a = 1, b = true })",
    "('abc'):gsub('(b)', '%2')",
    "('abc'):gsub('x*', '-')",
    "table.concat({ ('one two  three'):gmatch('%a+')() }, ',')",
    "(function() local r = {} for k, v in ('a=1, b=2, c=3'):gmatch('(%w+)=(%w+)') do "
    "r[#r + 1] = k .. v end return table.concat(r, ';') end)()",
    "(function() local r = {} for w in ('abc'):gmatch('') do r[#r + 1] = '[' .. w .. ']' end "
    "return table.concat(r) end)()",
    "(function() local r = {} for p in ('abc'):gmatch('()') do r[#r + 1] = p end "
    "return table.concat(r, ',') end)()",
    "(function() local r = {} for w in ('^a^b'):gmatch('^%a') do r[#r + 1] = w end "
    "return table.concat(r, ',') end)()",
    "string.find('abc', 'b', nil, nil)",
    "string.match(123456, '%d%d')",
    "string.gsub(12321, 2, 9)",
    "string.find('abc')",
    "string.gsub('abc', 'b')",
    "string.rep('ab', 3, ',')",
    "string.rep('ab', 0)",
    "string.rep('ab', -1)",
    NULL,
};

static const char *PACK =
    "local function pack(...)\n"
    "  local n = select('#', ...)\n"
    "  local t = { tostring(n) }\n"
    "  for i = 1, n do local v = select(i, ...) t[#t + 1] = type(v) .. ':' .. tostring(v) end\n"
    "  return table.concat(t, ' ')\n"
    "end\n"
    "return pack(pcall(function() return %s end))\n";

static int eval_case(lua_State *L, sl_vm_t *vm, const char *expr, char *out, size_t n) {
  char src[2048];
  snprintf(src, sizeof src, PACK, expr);
  n = n > 900 ? 900 : n;
  sl_err_t err;
  int rc;
  if (vm) {
    rc = sl_vm_load(vm, src, strlen(src), "=case", &err);
    if (rc == 0) rc = sl_vm_pcall(vm, 0, 1, &err);
    if (rc != 0) {
      snprintf(out, n, "host error: %.800s", err.msg);
      return rc;
    }
  } else {
    rc = luaL_loadbuffer(L, src, strlen(src), "=case") || lua_pcall(L, 0, 1, 0);
    if (rc != 0) {
      snprintf(out, n, "host error: %s", lua_tostring(L, -1));
      lua_pop(L, 1);
      return rc;
    }
  }
  snprintf(out, n, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  return 0;
}

static void test_patterns(void) {
  sl_vm_t *vm = new_vm(0, 0, NULL);
  lua_State *ref = luaL_newstate();
  luaL_openlibs(ref);
  for (const char *const *c = PATTERN_CASES; *c; c++) {
    char got[1024], want[1024];
    eval_case(sl_vm_state(vm), vm, *c, got, sizeof got);
    eval_case(ref, NULL, *c, want, sizeof want);
    tap_ok(strcmp(got, want) == 0, __FILE__, __LINE__, "%s -> %s%s%s", *c, got,
           strcmp(got, want) ? "  (LuaJIT: " : "", strcmp(got, want) ? want : "");
  }
  lua_close(ref);

  expect(vm, "local i = ('a'):rep(1e4):find('(.-)(.-)(.-)(.-)b') return i", SL_EBUDGET,
         "t.lua:1: instruction budget exceeded (10000000 instructions; pattern matching in "
         "string.find)",
         "a catastrophic pattern stops with the budget error");
  T_OK(sl_vm_instr_used(vm) >= 10000000, "after spending the budget (%llu)",
       (unsigned long long)sl_vm_instr_used(vm));
  expect(vm, "local ok = pcall(string.match, ('a'):rep(1e4), '(.-)(.-)(.-)(.-)b') return ok",
         SL_EBUDGET, "pattern matching in string.match", "pcall cannot swallow it");
  expect(vm, "return ('a'):rep(5000):gsub('(.-)(.-)(.-)b', 'x')", SL_EBUDGET,
         "pattern matching in string.gsub", "gsub is budgeted");
  expect(vm, "for a in ('a'):rep(5000):gmatch('(.-)(.-)(.-)b') do end", SL_EBUDGET,
         "pattern matching in string.gmatch", "gmatch is budgeted");
  expect(vm, "return ('abc'):rep(1000):gsub('%w', function(c) while true do end end)", SL_EBUDGET,
         "instruction budget exceeded", "a looping gsub callback is budgeted");
  expect(vm, "return #('a'):rep(2 * 1024 * 1024):match('a+')", SL_EINVAL,
         "string.match: subject of 2097152 bytes is longer than the 1048576 bytes allowed",
         "pattern subjects above the limit are refused");
  expect(vm, "return ('a'):rep(2 * 1024 * 1024) :find('aab', 1, true)", 0, "<nil>",
         "plain find has no subject limit");
  expect(vm, "local s = ('a'):rep(3e6) .. 'b' return s:find('ab')", 0, "3000000",
         "pattern-free find is plain");
  expect(vm, "return ('a'):rep(300):match(('a?'):rep(300) .. ('a'):rep(300))", SL_EINVAL,
         "pattern too complex", "deeply nested matching is refused, not a C stack overflow");
  expect(vm, "local function f(s) return (s:gsub('.', f)) end return f('ab')", SL_EINVAL,
         "C stack overflow (callbacks nested too deeply)",
         "gsub callbacks recursing without end fail cleanly (LuaJIT's own gsub crashes)");
  expect(vm, "local function f(s) return (s:gsub('.', f)) end return f('ab')", SL_EINVAL,
         "C stack overflow", "and do so again on the next call");
  expect(vm, "return ('abc'):gsub('b', '%')", SL_EINVAL, "invalid use of '%' in replacement string",
         "a trailing % in a replacement");
  expect(vm, "return ('abc'):gsub('b', true)", SL_EINVAL, "string/function/table expected",
         "a bad replacement type");
  expect(vm, "return ('abc'):gsub('b', function() return {} end)", SL_EINVAL,
         "invalid replacement value (a table)", "a bad replacement value");
  sl_vm_free(vm);
}

int main(void) {
  sl_clock_init_sim(&clk, 0);
  test_budget();
  test_nested();
  test_memory();
  test_environment();
  test_print_and_clock();
  test_require();
  test_independent();
  test_copy();
  test_patterns();
  return tap_done();
}
