// JSON-lines traces (Mooncake: timestamp in ms, input_length, output_length, hash_ids).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/sim/trace.h"
#include "core/sim/trace_lines.h"
#include "core/sim/trace_src.h"

int sl_trace_json_open(sl_trace_lines_t *l, const sl_trace_opts_t *o, sl_trace_src_t **out,
                       sl_err_t *err);
