// The REPL's commands: what a line does on the controller. A line whose first word is a command
// runs it (help, variants, explain, dry-run, reload, set, pause, resume, errors); anything else is
// Lua for core/repl/eval.c. Each command reads the controller and the REPL's record and writes
// text; the only ones that change anything are reload, set, pause and resume, through the host's
// and controller's own calls. Completion of command names, variant ids and policy names is here.
#pragma once

#include <stddef.h>

#include "core/repl/record.h"
#include "core/util/json.h"

// Word breaks for completion, on both sides of the socket: a variant id ("llm/llama-8b") and a
// dotted name ("target.target") are one word.
#define SL_REPL_WORD_BREAKS " \t\n\"'()[]{},;=<>~+*^%#"

// Runs one line. What it prints goes to out (also when it fails: a Lua line may print before its
// error). Returns 0, or a negative code with err saying why the line failed. `cwd` (may be NULL)
// is the client's directory, for relative paths.
int sl_repl_cmds_run(sl_controller_t *c, sl_repl_record_t *rec, const char *line, size_t len,
                     const char *cwd, sl_json_buf_t *out, sl_err_t *err);

// Completions of the last word of `text` (the line up to the cursor), sorted: *matches is a
// malloc'd array of malloc'd strings (sl_repl_cmds_free_matches).
int sl_repl_cmds_complete(const sl_controller_t *c, const char *text, char ***matches, size_t *n);
void sl_repl_cmds_free_matches(char **matches, size_t n);
