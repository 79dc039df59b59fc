// The view recorder (`sluice run --record FILE`): the view of every tick the policies decide on,
// written as fixture frames (docs/fixtures.md) with each frame's time and each pod's and model's
// data age, so `sluice check --replay` can re-decide a night in the cluster offline with any
// policy. The file is gzip'd, flushed at every frame (a killed controller leaves every whole
// frame readable), bounded in size and rotated: when FILE passes max_bytes it becomes FILE.1
// (FILE.1 becomes FILE.2, ...), `keep` old files are kept, and a new FILE starts. Each file is a
// complete fixture, and carries what a replay needs besides the frames: the sluice.yaml the run
// was started with (`config:`, verbatim) and every variant it ran with (`variants:`, in
// sluice.yaml's syntax — discovered ones included). When the variants change (discovery found
// or lost one) a new file starts, so each file's frames match its header.
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "core/state/config.h"
#include "core/state/observer.h"
#include "core/util/err.h"

typedef struct {
  sl_observer_t obs; // add &rec.obs to the controller
  char *path, *config_text;
  char *variants; // the header's variants: section
  uint64_t signature;
  size_t max_bytes; // compressed bytes per file
  int keep;         // rotated files kept beside the current one
  gzFile gz;
  long frames, files, errors;
  long file_frames; // frames in the current file
  char *buf;        // one frame's text, reused
  size_t cap;
} sl_view_recorder_t;

// Opens path for writing (replacing it: an earlier recording is rotated first, not lost), with
// config_text (the sluice.yaml, may be NULL) in each file's header.
int sl_view_recorder_open(sl_view_recorder_t *r, const char *path, size_t max_bytes, int keep,
                          const char *config_text, sl_err_t *err);
// The variants the controller runs with now (each controller built). A change starts a new file.
void sl_view_recorder_set_variants(sl_view_recorder_t *r, const sl_config_t *cfg);
void sl_view_recorder_close(sl_view_recorder_t *r);
