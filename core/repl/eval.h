// Lua at the REPL prompt. Each line runs in a fresh sandboxed VM of its own, with the limits a
// policy has (instruction budget, memory cap, wall-clock time per call; docs/sandbox.md), holding:
//   view       the live view, read-only (every variant, as no single policy sees it)
//   policies   per policy: name, file, version, runs, failures, params and state, copied as plain
//              data out of the policy's VM (never a reference into it)
//   decisions  per variant and policy, the ballots of the variant's last outcome
//   outcomes   per variant, what the guard did last
//   controller ticks, paused, dry_run, interval
// Nothing a line does reaches the controller: the copies are the REPL VM's own, the view refuses
// writes, and the VM is freed when the line ends. docs/repl.md has the details.
#pragma once

#include <stddef.h>

#include "core/repl/record.h"
#include "core/util/json.h"

// Runs `line` as the Lua REPL does: as `return <line>` when that compiles (the values are
// printed), else as a chunk. What it prints and returns is appended to out (at most
// SL_REPL_OUT_MAX bytes, then a note). Returns 0, or a negative code with err: the Lua error with
// its traceback, a syntax error, or the limit that stopped it ("repl:1: instruction budget
// exceeded (10000000 instructions)").
int sl_repl_eval_run(sl_controller_t *c, const sl_repl_record_t *rec, const char *line, size_t len,
                     sl_json_buf_t *out, sl_err_t *err);

// The key a decider has in `policies`, `decisions` and commands: its policy name, or "name#2"
// for the second decider with the same name.
void sl_repl_eval_key(const sl_controller_t *c, int k, char *buf, size_t n);
// The host slot of decider k, or -1 when it is not a policy of the host.
int sl_repl_eval_slot(const sl_controller_t *c, int k);
