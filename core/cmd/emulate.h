// sluice emulate: an emulated Kubernetes API on loopback, for tests and demos with kubectl.
#pragma once

int sl_cmd_emulate(int argc, char **argv);
