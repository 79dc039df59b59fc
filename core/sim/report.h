// The HTML report of `sluice sim --report`: one self-contained file (inline CSS and SVG drawn
// here, no script, nothing fetched) with the scenario, the summary table and charts over time of
// what every run recorded (core/sim/record.h) next to the clairvoyant reference. It only formats;
// long runs are thinned to a bounded number of points per series so the file stays small.
#pragma once

#include <stddef.h>

#include "core/sim/sim.h"

#define SL_REPORT_MAX_POINTS 2000

typedef struct {
  const char *cluster; // where the cluster came from: a file, or a label for a built-in one
  int argc;            // the arguments after `sluice sim`, shown as the command (0: none)
  char *const *argv;
  size_t max_points; // most points per series (0: SL_REPORT_MAX_POINTS)
} sl_report_opts_t;

// Fails when the report could not be written to path (a directory, a missing or read-only
// folder), so a long simulation is not run for nothing. Leaves nothing behind.
int sl_report_check(const char *path, sl_err_t *err);

// Writes the report for runs[0..nruns) of s and the clairvoyant result c to path, atomically
// (a temporary file in the same folder, renamed over path). Needs s after its runs: the
// clairvoyant's per-variant placement is recomputed from s's demand bins.
int sl_report_write(const char *path, sl_sim_t *s, const sl_sim_result_t *runs, int nruns,
                    const sl_clair_result_t *c, const sl_report_opts_t *o, sl_err_t *err);
