// Subcommands of the sluice executable. Each takes argv after the subcommand name and returns
// the process exit code: 0 ok, 1 runtime failure, 2 usage or configuration error.
#pragma once

enum { SL_EXIT_OK = 0, SL_EXIT_FAIL = 1, SL_EXIT_USAGE = 2 };

int sl_cmd_version(int argc, char **argv);
int sl_cmd_run(int argc, char **argv);
int sl_cmd_check(int argc, char **argv);
int sl_cmd_plan(int argc, char **argv);
int sl_cmd_sim(int argc, char **argv);
int sl_cmd_emulate(int argc, char **argv);
