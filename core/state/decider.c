// Decider event names. See decider.h.
#include "core/state/decider.h"

const char *sl_decider_event_name(sl_decider_event_kind_t k) {
  static const char *const n[] = {"loaded",   "reloaded", "swapped",
                                  "rejected", "restored", "failed"};
  return (unsigned)k < 6 ? n[k] : "?";
}
