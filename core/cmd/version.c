// sluice version
#include <stdio.h>

#include <luajit.h>

#include "core/cmd/version.h"

#include "core/cmd/cmd.h"

#define SLUICE_VERSION "0.1.0"

int sl_cmd_version(int argc, char **argv) {
  printf("sluice %s (%s)\n", SLUICE_VERSION, LUAJIT_VERSION);
  return SL_EXIT_OK;
}
