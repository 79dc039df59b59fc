// sluice repl: attach to a running controller's REPL socket (docs/repl.md).
#pragma once

int sl_cmd_repl(int argc, char **argv);
