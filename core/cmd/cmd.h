// What every subcommand of the sluice executable shares: each (core/cmd/NAME.c, declared in
// NAME.h) takes argv after the subcommand name and returns the process exit code: 0 ok, 1 runtime
// failure, 2 usage or configuration error.
#pragma once

enum { SL_EXIT_OK = 0, SL_EXIT_FAIL = 1, SL_EXIT_USAGE = 2 };
