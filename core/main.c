// sluice: CLI dispatch only.
#include <stdio.h>
#include <string.h>

#include "core/cmd/check.h"
#include "core/cmd/cmd.h"
#include "core/cmd/emulate.h"
#include "core/cmd/plan.h"
#include "core/cmd/repl.h"
#include "core/cmd/run.h"
#include "core/cmd/sim.h"
#include "core/cmd/version.h"

static const struct {
  const char *name;
  int (*fn)(int, char **);
  const char *help;
} commands[] = {
    {"run", sl_cmd_run, "run the controller: sources, policies, guard, actuators"},
    {"check", sl_cmd_check, "validate policy files in the sandbox (exit 2: invalid policy)"},
    {"version", sl_cmd_version, "print the version"},
    {"plan", sl_cmd_plan, "capacity planning: max rate per replica, replicas for a demand"},
    {"sim", sl_cmd_sim, "replay a trace against policies on a simulated cluster"},
    {"emulate", sl_cmd_emulate, "serve an emulated Kubernetes API on loopback (for kubectl)"},
    {"repl", sl_cmd_repl, "attach to a running controller: inspect, evaluate Lua, dry-run, pause"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: sluice COMMAND [ARGS...]\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].help);
  fprintf(f, "\n'sluice COMMAND --help' describes each command.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return SL_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return SL_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 2, argv + 2);
  fprintf(stderr, "sluice: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return SL_EXIT_USAGE;
}
