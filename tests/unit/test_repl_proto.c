// The REPL's line protocol: framing with a cap, requests and replies, malformed input, and text
// cleaned for a terminal.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/repl/proto.h"
#include "tests/unit/tap.h"

static int parse_req(const char *s, sl_repl_req_t *r, sl_err_t *err) {
  return sl_repl_proto_parse_request(s, strlen(s), r, err);
}

static void framing(void) {
  sl_repl_proto_lines_t b;
  const char *line;
  size_t len;
  sl_repl_proto_lines_init(&b, 16);
  T_EQ_INT(sl_repl_proto_lines_next(&b, &line, &len), 0, "nothing fed: no line");
  sl_repl_proto_lines_feed(&b, "ab", 2);
  T_EQ_INT(sl_repl_proto_lines_next(&b, &line, &len), 0, "half a line is not a line");
  sl_repl_proto_lines_feed(&b, "c\r\nde\n\nf", 8);
  T_EQ_INT(sl_repl_proto_lines_next(&b, &line, &len), 1, "a line split over two reads");
  T_OK(len == 3 && !strcmp(line, "abc"), "its text, without \\r\\n (got '%s')", line);
  T_EQ_INT(sl_repl_proto_lines_next(&b, &line, &len), 1, "two lines in one read");
  T_OK(!strcmp(line, "de"), "the second line");
  T_EQ_INT(sl_repl_proto_lines_next(&b, &line, &len), 1, "an empty line is a line");
  T_EQ_INT(len, 0, "of length 0");
  T_EQ_INT(sl_repl_proto_lines_next(&b, &line, &len), 0, "the rest waits for its newline");
  T_EQ_INT(sl_repl_proto_lines_pending(&b), 1, "one byte pending");
  sl_repl_proto_lines_feed(&b, "123456789012345", 15); // "f" + 15 = 16 bytes, no newline
  T_EQ_INT(sl_repl_proto_lines_next(&b, &line, &len), SL_ERANGE,
           "16 bytes and no newline with a cap of 16: oversize, before the newline comes");
  sl_repl_proto_lines_deinit(&b);

  sl_repl_proto_lines_init(&b, 16);
  sl_repl_proto_lines_feed(&b, "123456789012345\n", 16);
  T_EQ_INT(sl_repl_proto_lines_next(&b, &line, &len), 1, "exactly the cap, newline included");
  sl_repl_proto_lines_feed(&b, "1234567890123456\nok\n", 20);
  T_EQ_INT(sl_repl_proto_lines_next(&b, &line, &len), SL_ERANGE,
           "a complete line one byte over the cap is refused too");
  sl_repl_proto_lines_deinit(&b);

  // Many lines through a small buffer: what was handed out is reclaimed.
  sl_repl_proto_lines_init(&b, 64);
  int got = 0;
  for (int i = 0; i < 10000; i++) {
    char l[32];
    int n = snprintf(l, sizeof l, "line %d\n", i);
    sl_repl_proto_lines_feed(&b, l, (size_t)n);
    while (sl_repl_proto_lines_next(&b, &line, &len) == 1) got++;
  }
  T_EQ_INT(got, 10000, "10000 lines framed");
  T_OK(b.cap <= 4096, "the buffer stays small (%zu bytes)", b.cap);
  sl_repl_proto_lines_deinit(&b);
}

static void requests(void) {
  sl_repl_req_t r;
  sl_err_t err;
  T_EQ_INT(
      parse_req("{\"op\":\"line\",\"id\":7,\"text\":\"explain llm/a\",\"cwd\":\"/tmp\"}", &r, &err),
      0, "a line request");
  T_OK(r.op == SL_REPL_OP_LINE && r.has_id && r.id == 7 && !strcmp(r.text, "explain llm/a") &&
           r.len == 13 && r.cwd && !strcmp(r.cwd, "/tmp"),
       "its fields");
  sl_json_buf_t b = {0};
  T_EQ_INT(sl_repl_proto_write_request(&b, &r), 0, "written back");
  T_OK(b.len && b.buf[b.len - 1] == '\n' && !memchr(b.buf, '\n', b.len - 1),
       "as one line ending in a newline");
  sl_repl_req_t r2;
  T_EQ_INT(sl_repl_proto_parse_request(b.buf, b.len - 1, &r2, &err), 0, "and parsed again");
  T_OK(r2.id == 7 && !strcmp(r2.text, r.text) && !strcmp(r2.cwd, r.cwd), "unchanged");
  sl_repl_proto_req_deinit(&r2);
  sl_repl_proto_req_deinit(&r);
  sl_json_buf_deinit(&b);

  T_EQ_INT(parse_req("{\"op\":\"complete\",\"text\":\"expl\",\"future\":[1,2]}", &r, &err), 0,
           "a completion request; unknown fields are ignored");
  T_OK(r.op == SL_REPL_OP_COMPLETE && !r.has_id && !r.cwd, "no id, no cwd");
  sl_repl_proto_req_deinit(&r);

  static const struct {
    const char *in, *want;
  } bad[] = {
      {"", "not a JSON object"},
      {"explain llm/a", "not a JSON object"},
      {"[1,2]", "not a JSON object"},
      {"\"text\"", "not a JSON object"},
      {"{\"op\":\"line\",\"text\":\"x\"", "not a JSON object"},
      {"{\"op\":\"line\",\"text\":\"x\"} {}", "not a JSON object"},
      {"{\"text\":\"x\"}", "missing \"op\""},
      {"{\"op\":3,\"text\":\"x\"}", "missing \"op\""},
      {"{\"op\":\"exec\",\"text\":\"x\"}", "unknown op"},
      {"{\"op\":\"line\"}", "missing \"text\""},
      {"{\"op\":\"line\",\"text\":5}", "\"text\" must be a string"},
      {"{\"op\":\"line\",\"text\":\"a\\u0000b\"}", "NUL"},
      {"{\"op\":\"line\",\"text\":\"x\",\"id\":\"1\"}", "\"id\" must be a number"},
      {"{\"op\":\"line\",\"text\":\"x\",\"cwd\":[]}", "\"cwd\" must be a string"},
      {"{\"op\":\"line\",\"text\":\"\xff\xfe\"}", "not a JSON object"},
      {"{\"a\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]],\"op\":\"line\",\"text\":\"x\"}",
       "not a JSON object"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err.msg[0] = '\0';
    int rc = parse_req(bad[i].in, &r, &err);
    T_OK(rc == SL_EPARSE && strstr(err.msg, bad[i].want), "refused: %s -> %s", bad[i].in, err.msg);
    T_OK(r.text == NULL && r.cwd == NULL, "and nothing is left allocated");
  }
}

static void replies(void) {
  char *m[] = {"llm/alpha", "llm/beta"};
  sl_repl_reply_t r = {0}, back;
  sl_err_t err;
  r.ok = 1;
  r.has_id = 1;
  r.id = 3;
  r.out = "line one\nline \x1b[31mtwo\x7f \xc3\xa9 \xff\n";
  r.matches = m;
  r.nmatches = 2;
  sl_json_buf_t b = {0};
  T_EQ_INT(sl_repl_proto_write_reply(&b, &r), 0, "a reply is written");
  T_EQ_INT(sl_repl_proto_parse_reply(b.buf, b.len - 1, &back, &err), 0, "and read back");
  T_OK(back.ok && back.id == 3 && back.nmatches == 2 && !strcmp(back.matches[1], "llm/beta"),
       "ok, id and matches");
  T_OK(!strcmp(back.out, "line one\nline \\x1b[31mtwo\\x7f \xc3\xa9 \\xff\n"),
       "escape sequences and invalid UTF-8 arrive as \\xNN, newlines and UTF-8 as they were");
  sl_repl_proto_reply_deinit(&back);
  sl_json_buf_deinit(&b);

  sl_repl_reply_t hello = {0};
  hello.ok = 1;
  hello.hello = "sluice run (pid 1)";
  hello.protocol = SL_REPL_PROTO_VERSION;
  sl_repl_proto_write_reply(&b, &hello);
  T_EQ_INT(sl_repl_proto_parse_reply(b.buf, b.len - 1, &back, &err), 0, "a greeting");
  T_OK(back.hello && back.protocol == SL_REPL_PROTO_VERSION && !back.has_id,
       "with its banner and protocol");
  sl_repl_proto_reply_deinit(&back);
  sl_json_buf_deinit(&b);

  static const char *const bad[] = {
      "{\"out\":\"x\"}",
      "{\"ok\":false,\"out\":\"x\"}",
      "{\"ok\":true,\"matches\":\"llm/a\"}",
      "{\"ok\":true,\"matches\":[1]}",
      "{\"ok\":true,\"protocol\":1.5}",
      "{\"ok\":1}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err.msg[0] = '\0';
    T_OK(sl_repl_proto_parse_reply(bad[i], strlen(bad[i]), &back, &err) == SL_EPARSE &&
             err.msg[0] && !back.out && !back.matches,
         "malformed reply refused: %s -> %s", bad[i], err.msg);
  }
}

static void clean(void) {
  static const struct {
    const char *in, *want;
  } cases[] = {
      {"plain\ttext\n", "plain\ttext\n"},
      {"\r", "\\x0d"},
      {"\xe2\x82\xac", "\xe2\x82\xac"},             // a valid 3-byte sequence
      {"\xc0\xaf", "\\xc0\\xaf"},                   // overlong '/'
      {"\xed\xa0\x80", "\\xed\\xa0\\x80"},          // a surrogate
      {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"}, // past U+10FFFF
      {"\xe2\x82", "\\xe2\\x82"},                   // cut short
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    sl_json_buf_t b = {0};
    sl_repl_proto_clean(&b, cases[i].in, strlen(cases[i].in));
    T_OK(b.buf && !strcmp(b.buf, cases[i].want), "clean case %zu (got '%s')", i, b.buf);
    sl_json_buf_deinit(&b);
  }
}

int main(void) {
  framing();
  requests();
  replies();
  clean();
  return tap_done();
}
