// The scraper: direct scraping of model servers' and gateways' /metrics pages into the store, as a
// source of the controller. It owns the set of targets (which changes while it runs: pods come
// and go), their schedule on the caller's libuv loop, every target's health, and the hand-off of
// each page to ingestion (core/scrape/ingest).
//
// - Each target is scraped every interval (1 s by default) at a phase of its own, derived from
//   its URL, so thousands of targets spread over the interval instead of firing at once, and a
//   restart keeps each target's phase. A target's scrapes never overlap.
// - A scrape is an HTTP GET through core/util/httpc (libcurl multi on the loop: no thread, no
//   blocking, keep-alive, gzip), asking for OpenMetrics, then text 0.0.4, with a timeout below the
//   interval and a cap on the decoded body.
// - A page is committed into the store only when all of it parsed, with the scrape's start time.
//   A failed scrape (refused, timed out, an HTTP error, a malformed page, a page over the cap)
//   writes nothing, so the pod's freshest sample ages and the guard holds its variant on stale
//   data. After k failures in a row the next attempt waits min(interval x 2^(k-1), backoff_max).
// - A model-server target whose pod the store does not know adds it, Ready, under the target's
//   variant (unless opts.external_pods); removing the target removes a pod it added.
//
// Not thread-safe: every call on the loop's thread. See docs/scrape.md.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/scrape/ingest.h"
#include "core/state/clock.h"
#include "core/state/source.h"
#include "core/state/store.h"
#include "core/util/err.h"

typedef enum {
  SL_SCRAPE_POD,     // a model server (vLLM, SGLang): pod-scope metrics into its pod
  SL_SCRAPE_GATEWAY, // a model's gateway / EPP: gateway metrics into the model group
} sl_scrape_kind_t;

// A target as given to the scraper; everything is copied.
typedef struct {
  const char *url; // identifies the target
  sl_scrape_kind_t kind;
  const char *pod;            // POD: the pod's name
  const char *variant;        // POD: its variant id
  const char *model;          // GATEWAY: the model name
  const char *const *headers; // extra "Name: value" request headers, NULL-terminated, or NULL
  double interval_s;          // 0: the scraper's
  double timeout_s;           // 0: the scraper's
} sl_scrape_target_t;

// What the scraper knows of one target. Strings are borrowed: valid until the target changes,
// is removed, or finishes its next scrape.
typedef struct {
  const char *url, *pod, *variant, *model;
  sl_scrape_kind_t kind;
  double interval_s, timeout_s;
  double phase_s;           // where in each interval its scrapes start (from the URL's hash)
  int up;                   // the last scrape succeeded (0 before the first has finished)
  int done;                 // at least one scrape has finished, well or not
  int changed;              // the last scrape was the first, or its up differs from the one before
  int in_flight;            // a scrape is running
  int consecutive_failures; // since the last success
  double backoff_s;         // delay from the last failure to the next attempt; 0 when up
  double last_attempt;      // clock time the last finished scrape started, -INFINITY never
  double last_success;      // clock time of the last committed page, -INFINITY never
  double last_duration_s;   // of the last finished scrape: request, parse and commit
  long last_status;         // HTTP status of the last scrape, 0 when no response came
  size_t last_samples;      // samples the last committed page gave the store
  size_t last_bytes;        // body bytes of the last scrape
  const char *last_error;   // "" when up; else "GET <url>: <what failed>"
  uint64_t scrapes, failures, rejected, samples; // totals; rejected = malformed or over the cap
} sl_scrape_info_t;

// Upper bounds (seconds) of the scrape-duration histogram in sl_scraper_stats_t; the last is
// +Inf.
#define SL_SCRAPER_DURATION_BUCKETS 14
extern const double sl_scraper_duration_bounds[SL_SCRAPER_DURATION_BUCKETS];

typedef struct {
  size_t targets, up, down, in_flight, pending; // down: last scrape failed; pending: none finished
  uint64_t scrapes, failures, rejected, samples, bytes;
  uint64_t skipped; // slots missed because the target's previous scrape was still running
  // Finished scrapes by duration: duration_count[i] have duration <= bounds[i] (not cumulative).
  uint64_t duration_count[SL_SCRAPER_DURATION_BUCKETS];
  double duration_sum;
} sl_scraper_stats_t;

typedef struct {
  double interval_s;    // default 1
  double timeout_s;     // default 80% of the target's interval
  double backoff_max_s; // default 30 (never below the interval)
  size_t max_body;      // decoded body cap, default 8 MiB
  int external_pods;    // pods come from another source: never add or remove pods in the store
  // Where in each interval targets are scraped, as fractions of it on the monotonic clock's grid
  // of interval multiples: spread over [phase_lo, phase_hi) by URL hash. Both 0: the whole
  // interval. The controller ticks at the grid's points, so a band that ends shortly before 1
  // has every page fresh at the tick (cluster mode: [0.7, 0.95)).
  double phase_lo, phase_hi;
  sl_clock_t *clock;          // borrowed: sample times; NULL = real time
  sl_ingest_lookup_fn lookup; // NULL = the alias table
  // Optional: after every finished scrape (the target may be changed or removed from here).
  void (*on_scrape)(void *ud, const sl_scrape_info_t *info);
  void *ud;
} sl_scraper_opts_t;

typedef struct sl_scraper sl_scraper_t;

// opts may be NULL (every default).
sl_scraper_t *sl_scraper_new(const sl_scraper_opts_t *opts, sl_err_t *err);
// Stops it first. Handles close on the loop: when it was started, run the loop once more.
void sl_scraper_free(sl_scraper_t *s);

// Makes the target set exactly `targets`: new URLs are added at their phase, missing ones
// removed (a scrape in flight is cancelled), and targets whose URL, kind, pod, variant and model
// are unchanged keep their schedule and health (headers, interval and timeout are updated in
// place). Returns 0, SL_EINVAL (err names the bad target; nothing changed) or SL_ENOMEM.
int sl_scraper_set_targets(sl_scraper_t *s, const sl_scrape_target_t *targets, size_t n,
                           sl_err_t *err);
// One target, added or updated as sl_scraper_set_targets would.
int sl_scraper_add(sl_scraper_t *s, const sl_scrape_target_t *t, sl_err_t *err);
// Returns 0, or SL_ENOTFOUND.
int sl_scraper_remove(sl_scraper_t *s, const char *url);

// Starts scraping on `loop` into `store` (borrowed). Returns 0, or SL_ESTATE when already
// started, or the HTTP client's error.
int sl_scraper_start(sl_scraper_t *s, uv_loop_t *loop, sl_store_t *store, sl_err_t *err);
// Cancels scrapes in flight and stops the schedule; health is kept. Safe from on_scrape.
void sl_scraper_stop(sl_scraper_t *s);
// Started, and every target has finished a scrape (succeeded or failed).
int sl_scraper_ready(const sl_scraper_t *s);

size_t sl_scraper_count(const sl_scraper_t *s);
// Target i (0 <= i < count, in no particular order) or the target of that URL. Return 0, or
// SL_ENOTFOUND.
int sl_scraper_target_at(const sl_scraper_t *s, size_t i, sl_scrape_info_t *out);
int sl_scraper_target_info(const sl_scraper_t *s, const char *url, sl_scrape_info_t *out);
void sl_scraper_stats(const sl_scraper_t *s, sl_scraper_stats_t *out);

// The scraper as a source of the controller: start/stop run the schedule on the controller's
// loop; ready is sl_scraper_ready. Owned by the scraper.
sl_source_t *sl_scraper_source(sl_scraper_t *s);
