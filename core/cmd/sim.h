// sluice sim: policies replayed against a simulated cluster; the comparison table, JSON and report.
#pragma once

int sl_cmd_sim(int argc, char **argv);
