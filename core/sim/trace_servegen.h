// ServeGen rate series: per-client window files and aggregate rates, replayed as arrivals.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sim/trace.h"
#include "core/sim/trace_lines.h"
#include "core/sim/trace_src.h"

// ServeGen: one client file (agg = false) or an aggregate file; client is the chunk id used to
// seed its windows.
int sl_trace_servegen_open(sl_trace_lines_t *l, bool agg, uint64_t client, const sl_trace_opts_t *o,
                           sl_trace_src_t **out, sl_err_t *err);
// Every chunk-*-trace.csv of a directory, merged.
int sl_trace_servegen_open_dir(const char *dir, const sl_trace_opts_t *o, sl_trace_src_t **out,
                               sl_err_t *err);
// A directory's clients as sources of their own (in the directory's time base), for work that
// needs no merge; a client's requests do not depend on the others. 0 clients for other sources.
// Use either the clients or the directory, not both.
size_t sl_trace_servegen_nclients(const sl_trace_src_t *src);
sl_trace_src_t *sl_trace_servegen_client(sl_trace_src_t *src, size_t i);
