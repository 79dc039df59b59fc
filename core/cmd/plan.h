// sluice plan: capacity planning with the latency-model kernels.
#pragma once

int sl_cmd_plan(int argc, char **argv);
