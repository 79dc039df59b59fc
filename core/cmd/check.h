// sluice check: policy files through the same data path as run, on a fixture, with a dry-run guard.
#pragma once

int sl_cmd_check(int argc, char **argv);
