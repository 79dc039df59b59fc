// sluice version: the version string.
#pragma once

int sl_cmd_version(int argc, char **argv);
