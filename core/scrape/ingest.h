// Ingestion: one exposition page into the store, all or nothing. A page is parsed
// (core/scrape/expo) into a staging area — only the families the alias table maps onto a store
// metric of the wanted scope are read, the rest skipped at line speed — and committed into the
// store only when the whole page parsed. It owns the rules that turn exposition samples into store
// samples:
//
// - A metric fed by several generations' names on one page (vLLM >= 0.10 exports both
//   vllm:kv_cache_usage_perc and the deprecated vllm:gpu_cache_usage_perc) is taken from the name
//   listed first in the alias table; the other family is skipped.
// - Several series of one family (labels such as finished_reason, or one per engine of a
//   data-parallel server) are summed, except fractions (kv_usage, saturation): their mean.
// - Counters take their _total sample (or the bare name, in text format); _created is ignored.
// - Histograms: buckets assembled by le, ascending, +Inf last, with _sum and _count; series with
//   the same bucket layout are added bucket by bucket, a series with another layout is dropped
//   (counted). A missing _count is the +Inf bucket; a missing _sum is NaN.
// - vllm:cache_config_info carries the KV capacity in labels: num_gpu_blocks x block_size.
// - Values are multiplied by the alias's scale (histograms: their bounds and _sum).
// - NaN values are skipped; the page's own timestamps are not used (the caller gives the time).
//
// One sl_ingest_t serves every target of a scraper: parsing and committing a page is synchronous,
// and its buffers (the parser's scratch, staged values, a cache of family names) grow to the
// largest page and stay, so a steady stream of pages allocates nothing.
#pragma once

#include <stddef.h>

#include "core/scrape/expo.h"
#include "core/state/metric.h"
#include "core/state/store.h"
#include "core/util/err.h"

// Maps a family name (NUL-terminated) to what it feeds, or NULL. sl_metric_alias_lookup is the
// default; aliases outside its table rank before every table entry.
typedef const sl_metric_alias_t *(*sl_ingest_lookup_fn)(const char *family);

typedef struct sl_ingest sl_ingest_t;

// lookup NULL = sl_metric_alias_lookup.
sl_ingest_t *sl_ingest_new(sl_ingest_lookup_fn lookup);
void sl_ingest_free(sl_ingest_t *g);

// Parses buf[0..len) into the staging area, replacing what was staged, keeping the metrics of
// `scope` (a model server's page: SL_SCOPE_POD; a gateway's: SL_SCOPE_MODEL). Returns 0, or
// SL_EPARSE with err "line N: reason", or SL_ENOMEM; after a failure nothing is staged.
int sl_ingest_page(sl_ingest_t *g, const char *buf, size_t len, sl_expo_format_t fmt,
                   sl_scope_t scope, sl_err_t *err);

// Samples of the staged page that feed a metric (each bucket, _sum and _count counts one).
size_t sl_ingest_samples(const sl_ingest_t *g);
// Metrics the staged page holds.
int sl_ingest_metrics(const sl_ingest_t *g);
// Histogram series dropped from the staged page because their buckets differed from the first
// series of their family.
int sl_ingest_dropped_series(const sl_ingest_t *g);

// Writes the staged page into the store at time t: a model server's into pod p, a gateway's into
// the model group. Returns 0 or the store's error (out of memory).
int sl_ingest_commit_pod(sl_ingest_t *g, sl_store_t *st, sl_pod_t *p, double t, sl_err_t *err);
int sl_ingest_commit_model(sl_ingest_t *g, sl_store_t *st, const char *model, double t,
                           sl_err_t *err);
