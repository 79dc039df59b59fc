// libFuzzer: arbitrary bytes as what a REPL client sends (and what a server answers), cut into
// reads at a point the input chooses. Every line framed must respect the cap and hold no
// newline; every request or reply that parses must write back and parse again to the same
// thing; a refusal must say why; and cleaned text must be valid JSON string content.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/repl/proto.h"

#define CAP 4096

static void check_request(const char *line, size_t len) {
  sl_repl_req_t r, back;
  sl_err_t err = {0};
  if (sl_repl_proto_parse_request(line, len, &r, &err) < 0) {
    if (!err.msg[0] || r.text || r.cwd) __builtin_trap();
    return;
  }
  if (!r.text || strlen(r.text) != r.len) __builtin_trap();
  sl_json_buf_t b = {0};
  if (sl_repl_proto_write_request(&b, &r) == 0) {
    if (!b.len || b.buf[b.len - 1] != '\n' || memchr(b.buf, '\n', b.len - 1)) __builtin_trap();
    if (sl_repl_proto_parse_request(b.buf, b.len - 1, &back, &err) < 0) __builtin_trap();
    if (back.op != r.op || back.has_id != r.has_id || (r.has_id && back.id != r.id) ||
        strcmp(back.text, r.text) || !back.cwd != !r.cwd || (r.cwd && strcmp(back.cwd, r.cwd)))
      __builtin_trap();
    sl_repl_proto_req_deinit(&back);
  }
  sl_json_buf_deinit(&b);
  sl_repl_proto_req_deinit(&r);
}

static void check_reply(const char *line, size_t len) {
  sl_repl_reply_t r, back;
  sl_err_t err = {0};
  if (sl_repl_proto_parse_reply(line, len, &r, &err) < 0) {
    if (!err.msg[0] || r.out || r.matches) __builtin_trap();
    return;
  }
  sl_json_buf_t b = {0};
  if (sl_repl_proto_write_reply(&b, &r) == 0) {
    // Text is cleaned on the way out, so the copy read back may differ, but it must be a reply.
    if (sl_repl_proto_parse_reply(b.buf, b.len - 1, &back, &err) < 0) __builtin_trap();
    if (back.ok != r.ok || back.nmatches != r.nmatches || !back.error != !r.error) __builtin_trap();
    sl_repl_proto_reply_deinit(&back);
  }
  sl_json_buf_deinit(&b);
  sl_repl_proto_reply_deinit(&r);
}

static void check_clean(const char *s, size_t n) {
  sl_json_buf_t b = {0};
  if (sl_repl_proto_clean(&b, s, n) < 0) return;
  for (size_t i = 0; i < b.len; i++) {
    unsigned char c = (unsigned char)b.buf[i];
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) __builtin_trap();
  }
  // Cleaned text is valid UTF-8: a JSON string of it parses.
  sl_json_buf_t j = {0};
  sl_json_buf_quote(&j, b.buf, b.len);
  sl_err_t err;
  sl_json_t *v = sl_json_parse(j.buf, j.len, NULL, &err);
  if (!v || v->type != SL_JSON_STRING || v->len != b.len || memcmp(v->str, b.buf, b.len))
    __builtin_trap();
  sl_json_free(v);
  sl_json_buf_deinit(&j);
  sl_json_buf_deinit(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  const char *s = (const char *)data + 1;
  size_t n = size - 1, cut = data[0] % size;
  if (cut > n) cut = n;
  sl_repl_proto_lines_t lines;
  sl_repl_proto_lines_init(&lines, CAP);
  const char *parts[2] = {s, s + cut};
  size_t lens[2] = {cut, n - cut};
  for (int p = 0; p < 2; p++) {
    if (sl_repl_proto_lines_feed(&lines, parts[p], lens[p]) < 0) break;
    const char *line;
    size_t len;
    int rc;
    while ((rc = sl_repl_proto_lines_next(&lines, &line, &len)) == 1) {
      if (len + 1 > CAP || memchr(line, '\n', len) || line[len] != '\0') __builtin_trap();
      check_request(line, len);
      check_reply(line, len);
    }
    if (rc == SL_ERANGE) {
      // Only a line already longer than the cap is refused: that many bytes are waiting.
      if (sl_repl_proto_lines_pending(&lines) < CAP) __builtin_trap();
      break;
    }
  }
  sl_repl_proto_lines_deinit(&lines);
  check_clean(s, n);
  return 0;
}
