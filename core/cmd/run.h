// sluice run: the controller on a cluster's data path, in real time.
#pragma once

int sl_cmd_run(int argc, char **argv);
