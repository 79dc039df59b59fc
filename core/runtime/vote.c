// The vote. See vote.h.
#include "core/runtime/vote.h"

#include <stdio.h>
#include <string.h>

void sl_vote_combine(const sl_vote_ballot_t *b, int n, int current, sl_vote_t *out) {
  int opinions = 0, up = -1, down = -1, up_k = -1, down_k = -1;
  const char *up_reason = NULL, *down_reason = NULL, *fail_reason = NULL, *veto = NULL;
  out->requested = -1;
  out->failed = 0;
  out->allow_from_zero = 0;
  out->reason = NULL;
  out->winner = -1;
  out->buf[0] = '\0';
  for (int k = 0; k < n; k++) {
    out->allow_from_zero |= b[k].scale_from_zero;
    if (b[k].requested == SL_VOTE_FAILED) {
      out->failed = 1;
      fail_reason = b[k].reason;
      continue;
    }
    if (b[k].requested < 0) {
      veto = b[k].name;
      continue;
    }
    opinions++;
    if (b[k].requested > current && b[k].requested > up)
      up = b[k].requested, up_reason = b[k].reason, up_k = k;
    if (b[k].requested < current) {
      if (b[k].requested > down) down = b[k].requested, down_reason = b[k].reason, down_k = k;
    } else if (b[k].requested == current) {
      veto = veto ? veto : b[k].name;
      if (!down_reason) down_reason = b[k].reason, down_k = k;
    }
  }
  if (out->failed) {
    // The reason keeps the first line; the traceback is in the log.
    int len = (int)strcspn(fail_reason, "\n");
    snprintf(out->buf, sizeof out->buf, "policy failed: %.*s", len < 480 ? len : 480, fail_reason);
    out->reason = out->buf;
  } else if (up >= 0) {
    out->requested = up, out->reason = up_reason, out->winner = up_k;
  } else if (opinions == n && down >= 0 && !veto) {
    out->requested = down, out->reason = down_reason, out->winner = down_k;
  } else if (opinions > 0) {
    out->requested = current;
    if (down >= 0 && veto) {
      snprintf(out->buf, sizeof out->buf, "scale-down to %d not unanimous (%s holds)", down, veto);
      out->reason = out->buf;
    } else {
      out->reason = down_reason, out->winner = down_k;
    }
  }
}
