// Exposition parser: a table of pages in both formats, each with the exact transcript of families
// and samples it must produce or the exact line its error must name; the family filter, handler
// aborts, parser reuse, the number fast path against strtod, and the real vLLM page.
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/scrape/expo.h"
#include "tests/unit/tap.h"

// ---- transcript: what the handler saw, one line per family and sample -----------------------

typedef struct {
  char *buf;
  size_t len, cap;
  const sl_expo_family_t *fam; // the last family announced
  const char *const *want;     // families to receive (NULL: all)
  int abort_at;                // sample number (from 1) whose callback fails, 0 never
  int nsamples, nfamilies;
} rec_t;

static void put(rec_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(rec_t *r, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->len, r->cap - r->len, fmt, ap);
    va_end(ap);
    if ((size_t)n < r->cap - r->len) {
      r->len += n;
      return;
    }
    r->cap = (r->cap + n + 1) * 2;
    r->buf = realloc(r->buf, r->cap);
  }
}

// Bytes as they are, but controls and DEL as \xNN, so an unescaped "\n" shows as \x0a.
static void put_bytes(rec_t *r, sl_expo_str_t s) {
  for (size_t i = 0; i < s.len; i++) {
    unsigned char c = s.ptr[i];
    if (c < 0x20 || c == 0x7f)
      put(r, "\\x%02x", c);
    else
      put(r, "%c", c);
  }
}

// The shortest %g that reads back to the same double.
static void put_num(rec_t *r, double v) {
  if (isnan(v)) return put(r, "NaN");
  if (isinf(v)) return put(r, v > 0 ? "+Inf" : "-Inf");
  char b[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(b, sizeof b, "%.*g", prec, v);
    if (strtod(b, NULL) == v) break;
  }
  put(r, "%s", b);
}

static const char *const role_names[] = {"none",    "total", "bucket", "sum", "count",
                                         "created", "gsum",  "gcount", "info"};

static int on_family(void *ud, const sl_expo_family_t *f) {
  rec_t *r = ud;
  r->fam = f;
  r->nfamilies++;
  put(r, "F ");
  put_bytes(r, f->name);
  put(r, " %s", sl_expo_type_name(f->type));
  if (f->help.len) put(r, " help=\""), put_bytes(r, f->help), put(r, "\"");
  if (f->unit.len) put(r, " unit=\""), put_bytes(r, f->unit), put(r, "\"");
  put(r, "\n");
  if (!r->want) return 1;
  for (const char *const *w = r->want; *w; w++)
    if (strlen(*w) == f->name.len && !memcmp(*w, f->name.ptr, f->name.len)) return 1;
  return 0;
}

static int on_sample(void *ud, const sl_expo_sample_t *s) {
  rec_t *r = ud;
  r->nsamples++;
  if (r->abort_at && r->nsamples == r->abort_at) return SL_ESTATE;
  put(r, "S ");
  put_bytes(r, s->name);
  put(r, " %s", role_names[s->role]);
  if (s->family != r->fam) put(r, " !family"); // must be the family announced last
  if (s->nlabels) {
    put(r, " {");
    for (size_t i = 0; i < s->nlabels; i++) {
      put(r, i ? "," : "");
      put_bytes(r, s->labels[i].name);
      put(r, "=\"");
      put_bytes(r, s->labels[i].value);
      put(r, "\"");
    }
    put(r, "}");
  }
  put(r, " ");
  put_num(r, s->value);
  if (s->has_ts) put(r, " @%lld", (long long)s->ts_ms);
  if (!isnan(s->le)) put(r, " le="), put_num(r, s->le);
  if (!isnan(s->quantile)) put(r, " q="), put_num(r, s->quantile);
  put(r, "\n");
  return 0;
}

static const sl_expo_handler_t handler = {on_family, on_sample};

// ---- the table ------------------------------------------------------------------------------

#define TEXT SL_EXPO_TEXT_004
#define OM   SL_EXPO_OPENMETRICS

typedef struct {
  const char *what;
  sl_expo_format_t fmt;
  const char *in;
  size_t len;      // 0: strlen(in); set for inputs holding NUL bytes
  const char *out; // the exact transcript, or NULL when the page must fail
  const char *err; // the error message's start ("line N: reason")
} case_t;

#define BIN(s) .in = s, .len = sizeof s - 1

static const case_t cases[] = {
    // ---- text format 0.0.4 ----
    {"text: the format's own example", TEXT,
     "# HELP http_requests_total The total number of HTTP requests.\n"
     "# TYPE http_requests_total counter\n"
     "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
     "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
     "\n"
     "# Escaping in label values:\n"
     "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find "
     "file:\\n\\\"FILE.TXT\\\"\"} 1.458255915e9\n"
     "\n"
     "# Minimalistic line:\n"
     "metric_without_timestamp_and_labels 12.47\n"
     "\n"
     "# A weird metric from before the epoch:\n"
     "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
     "\n"
     "# HELP http_request_duration_seconds A histogram of the request duration.\n"
     "# TYPE http_request_duration_seconds histogram\n"
     "http_request_duration_seconds_bucket{le=\"0.05\"} 24054\n"
     "http_request_duration_seconds_bucket{le=\"0.1\"} 33444\n"
     "http_request_duration_seconds_bucket{le=\"1\"} 133988\n"
     "http_request_duration_seconds_bucket{le=\"+Inf\"} 144320\n"
     "http_request_duration_seconds_sum 53423\n"
     "http_request_duration_seconds_count 144320\n"
     "\n"
     "# HELP rpc_duration_seconds A summary of the RPC duration in seconds.\n"
     "# TYPE rpc_duration_seconds summary\n"
     "rpc_duration_seconds{quantile=\"0.01\"} 3102\n"
     "rpc_duration_seconds{quantile=\"0.99\"} 76656\n"
     "rpc_duration_seconds_sum 1.7560473e+07\n"
     "rpc_duration_seconds_count 2693\n",
     0,
     "F http_requests counter help=\"The total number of HTTP requests.\"\n"
     "S http_requests_total total {method=\"post\",code=\"200\"} 1027 @1395066363000\n"
     "S http_requests_total total {method=\"post\",code=\"400\"} 3 @1395066363000\n"
     "F msdos_file_access_time_seconds untyped\n"
     "S msdos_file_access_time_seconds none {path=\"C:\\DIR\\FILE.TXT\",error=\"Cannot find "
     "file:\\x0a\"FILE.TXT\"\"} 1458255915\n"
     "F metric_without_timestamp_and_labels untyped\n"
     "S metric_without_timestamp_and_labels none 12.47\n"
     "F something_weird untyped\n"
     "S something_weird none {problem=\"division by zero\"} +Inf @-3982045\n"
     "F http_request_duration_seconds histogram help=\"A histogram of the request duration.\"\n"
     "S http_request_duration_seconds_bucket bucket {le=\"0.05\"} 24054 le=0.05\n"
     "S http_request_duration_seconds_bucket bucket {le=\"0.1\"} 33444 le=0.1\n"
     "S http_request_duration_seconds_bucket bucket {le=\"1\"} 133988 le=1\n"
     "S http_request_duration_seconds_bucket bucket {le=\"+Inf\"} 144320 le=+Inf\n"
     "S http_request_duration_seconds_sum sum 53423\n"
     "S http_request_duration_seconds_count count 144320\n"
     "F rpc_duration_seconds summary help=\"A summary of the RPC duration in seconds.\"\n"
     "S rpc_duration_seconds none {quantile=\"0.01\"} 3102 q=0.01\n"
     "S rpc_duration_seconds none {quantile=\"0.99\"} 76656 q=0.99\n"
     "S rpc_duration_seconds_sum sum 17560473\n"
     "S rpc_duration_seconds_count count 2693\n"},
    {"text: HELP escapes \\\\ and \\n only; others stay", TEXT,
     "# HELP a x\\\\y\\nz \\\" \\t end\\\na 1\n", 0,
     "F a untyped help=\"x\\y\\x0az \\\" \\t end\\\"\nS a none 1\n"},
    {"text: HELP without text, and blanks before it and the name", TEXT,
     "# HELP a\n#\t HELP \t b   two  words \nb 2\n", 0,
     "F a untyped\nF b untyped help=\"two  words \"\nS b none 2\n"},
    {"text: counter declared with _total is family without it (vLLM's generation)", TEXT,
     "# HELP vllm:prompt_tokens_total Prompt tokens.\n"
     "# TYPE vllm:prompt_tokens_total counter\n"
     "vllm:prompt_tokens_total{model_name=\"m\"} 2.3779248e+09\n"
     "# TYPE vllm:prompt_tokens_created gauge\n"
     "vllm:prompt_tokens_created{model_name=\"m\"} 1.758254795047418e+09\n",
     0,
     "F vllm:prompt_tokens counter help=\"Prompt tokens.\"\n"
     "S vllm:prompt_tokens_total total {model_name=\"m\"} 2377924800\n"
     "F vllm:prompt_tokens_created gauge\n"
     "S vllm:prompt_tokens_created none {model_name=\"m\"} 1758254795.047418\n"},
    {"text: counter declared without _total owns name and name_total", TEXT,
     "# TYPE c counter\nc 1\nc_total 2\nc_created 3\n", 0,
     "F c counter\nS c none 1\nS c_total total 2\nF c_created untyped\nS c_created none 3\n"},
    {"text: other comments are ignored, whatever they hold", TEXT,
     BIN("# a comment\n#\n# HELPER x\n# TYPE_ y\n# bad \xff bytes \0 here\nm 1\n"),
     "F m untyped\nS m none 1\n"},
    {"text: blank and whitespace-only lines, leading and trailing blanks", TEXT,
     "\n  \n\t\n  m 1  \n\n", 0, "F m untyped\nS m none 1\n"},
    {"text: blanks between all tokens, a trailing comma, no blank after the brace", TEXT,
     "m { a = \"1\" , b=\"2\", }  \t 5 \t 1000 \nm{a=\"3\"}6\n", 0,
     "F m untyped\nS m none {a=\"1\",b=\"2\"} 5 @1000\nS m none {a=\"3\"} 6\n"},
    {"text: empty label set", TEXT, "m{} 1\nm { } 2\n", 0, "F m untyped\nS m none 1\nS m none 2\n"},
    {"text: colons in metric names, underscores leading names", TEXT,
     "vllm:num_requests_running{_x=\"1\"} 3\n_m:a:b 4\n", 0,
     "F vllm:num_requests_running untyped\nS vllm:num_requests_running none {_x=\"1\"} 3\n"
     "F _m:a:b untyped\nS _m:a:b none 4\n"},
    {"text: label values keep }, comma, = and # and take \\\\ \\\" \\n, other escapes stay", TEXT,
     "m{a=\"}{,=# x\",b=\"\\\\ \\\" \\n \\x \\\\n\"} 1\n", 0,
     "F m untyped\nS m none {a=\"}{,=# x\",b=\"\\ \" \\x0a \\x \\n\"} 1\n"},
    {"text: UTF-8 label values and HELP pass through", TEXT,
     "# HELP m Grüße €\nm{a=\"Heizölrückstoß 𝄞\"} 1\n", 0,
     "F m untyped help=\"Grüße €\"\nS m none {a=\"Heizölrückstoß 𝄞\"} 1\n"},
    {"text: values in every form the format allows", TEXT,
     "m{i=\"1\"} NaN\nm{i=\"2\"} nan\nm{i=\"3\"} +Inf\nm{i=\"4\"} -Inf\nm{i=\"5\"} Inf\n"
     "m{i=\"6\"} -infinity\nm{i=\"7\"} 1e3\nm{i=\"8\"} -1.5E-3\nm{i=\"9\"} +7\nm{i=\"10\"} .5\n"
     "m{i=\"11\"} 5.\nm{i=\"12\"} 007\nm{i=\"13\"} 1e-400\nm{i=\"14\"} 0.41267184270186336\n"
     "m{i=\"15\"} 123456789012345678901234567890\nm{i=\"16\"} -0\n",
     0,
     "F m untyped\nS m none {i=\"1\"} NaN\nS m none {i=\"2\"} NaN\nS m none {i=\"3\"} +Inf\n"
     "S m none {i=\"4\"} -Inf\nS m none {i=\"5\"} +Inf\nS m none {i=\"6\"} -Inf\n"
     "S m none {i=\"7\"} 1000\nS m none {i=\"8\"} -0.0015\nS m none {i=\"9\"} 7\n"
     "S m none {i=\"10\"} 0.5\nS m none {i=\"11\"} 5\nS m none {i=\"12\"} 7\n"
     "S m none {i=\"13\"} 0\nS m none {i=\"14\"} 0.41267184270186336\n"
     "S m none {i=\"15\"} 1.2345678901234568e+29\nS m none {i=\"16\"} -0\n"},
    {"text: integer millisecond timestamps, signed", TEXT,
     "m 1 -5\nm 2 +7\nm 3 9223372036854775807\nm 4 -9223372036854775808\n", 0,
     "F m untyped\nS m none 1 @-5\nS m none 2 @7\nS m none 3 @9223372036854775807\n"
     "S m none 4 @-9223372036854775808\n"},
    {"text: a final line without a line feed", TEXT, "# TYPE g gauge\ng 1\ng{a=\"b\"} 2", 0,
     "F g gauge\nS g none 1\nS g none {a=\"b\"} 2\n"},
    {"text: untyped, declared and not", TEXT, "# TYPE u untyped\nu 1\nv 2\n", 0,
     "F u untyped\nS u none 1\nF v untyped\nS v none 2\n"},
    {"text: a family with metadata only is announced", TEXT,
     "# HELP a only help\n# TYPE b gauge\nc 1\n# TYPE d counter\n", 0,
     "F a untyped help=\"only help\"\nF b gauge\nF c untyped\nS c none 1\nF d counter\n"},
    {"text: histogram with several series, buckets before or after sum and count", TEXT,
     "# TYPE h histogram\n"
     "h_bucket{x=\"a\",le=\"-1\"} 0\nh_bucket{x=\"a\",le=\"1e-3\"} 1\n"
     "h_bucket{x=\"a\",le=\"+Inf\"} 2\nh_sum{x=\"a\"} 3\nh_count{x=\"a\"} 2\n"
     "h_sum{x=\"b\"} 0\nh_count{x=\"b\"} 1\nh_bucket{x=\"b\",le=\"+Inf\"} 1\n",
     0,
     "F h histogram\n"
     "S h_bucket bucket {x=\"a\",le=\"-1\"} 0 le=-1\nS h_bucket bucket {x=\"a\",le=\"1e-3\"} 1 "
     "le=0.001\nS h_bucket bucket {x=\"a\",le=\"+Inf\"} 2 le=+Inf\nS h_sum sum {x=\"a\"} 3\n"
     "S h_count count {x=\"a\"} 2\nS h_sum sum {x=\"b\"} 0\nS h_count count {x=\"b\"} 1\n"
     "S h_bucket bucket {x=\"b\",le=\"+Inf\"} 1 le=+Inf\n"},
    {"text: summary without quantiles (sum and count only)", TEXT,
     "# TYPE s summary\ns_count{h=\"/\"} 3\ns_sum{h=\"/\"} 1.5\n# TYPE s_created gauge\n"
     "s_created{h=\"/\"} 17\n",
     0,
     "F s summary\nS s_count count {h=\"/\"} 3\nS s_sum sum {h=\"/\"} 1.5\nF s_created gauge\n"
     "S s_created none {h=\"/\"} 17\n"},
    {"text: more than sixteen distinct labels", TEXT,
     "m{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\",g=\"7\",h=\"8\",i=\"9\",j=\"10\",k=\"11\","
     "l=\"12\",m=\"13\",n=\"14\",o=\"15\",p=\"16\",q=\"17\",r=\"18\"} 1\n",
     0,
     "F m untyped\nS m none {a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\",g=\"7\",h=\"8\","
     "i=\"9\",j=\"10\",k=\"11\",l=\"12\",m=\"13\",n=\"14\",o=\"15\",p=\"16\",q=\"17\",r=\"18\"} "
     "1\n"},
    {"text: an empty page", TEXT, "", 0, ""},
    {"text: # EOF is only a comment", TEXT, "m 1\n# EOF\nn 2\n", 0,
     "F m untyped\nS m none 1\nF n untyped\nS n none 2\n"},

    // text: rejected pages
    {"text: CR LF line endings", TEXT, "m 1\r\nn 2\r\n", 0, NULL, "line 1: CR LF line ending"},
    {"text: CR LF on a HELP line", TEXT, "# HELP m x\r\nm 1\n", 0, NULL,
     "line 1: CR LF line ending"},
    {"text: TYPE after samples of its family", TEXT, "m 1\n# TYPE m gauge\n", 0, NULL,
     "line 2: TYPE line for \"m\" after its samples"},
    {"text: HELP after samples of its family", TEXT, "# TYPE m gauge\nm 1\n# HELP m late\n", 0,
     NULL, "line 3: HELP line for \"m\" after its samples"},
    {"text: two TYPE lines", TEXT, "# TYPE m gauge\n# TYPE m counter\nm 1\n", 0, NULL,
     "line 2: second TYPE line for \"m\""},
    {"text: two HELP lines", TEXT, "# HELP m a\n# HELP m b\n", 0, NULL,
     "line 2: second HELP line for \"m\""},
    {"text: interleaved families", TEXT, "a 1\nb 1\na 2\n", 0, NULL,
     "line 3: family \"a\" appears again after line 1"},
    {"text: metadata of a family already seen", TEXT, "a 1\nb 1\n# TYPE a gauge\n", 0, NULL,
     "line 3: family \"a\" appears again after line 1"},
    {"text: a sample of a histogram after the histogram ended", TEXT,
     "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nx 1\nh_sum 2\n", 0, NULL,
     "line 5: sample \"h_sum\" belongs to histogram family \"h\" of line 1, which has ended"},
    {"text: a family whose name another family's samples own", TEXT,
     "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n# TYPE h_count gauge\nh_count 2\n", 0,
     NULL,
     "line 5: family \"h_count\" clashes with the samples of histogram family \"h\" of line 1"},
    {"text: a family owning names of a family seen before", TEXT,
     "h_sum 1\n# TYPE h summary\nh{quantile=\"0.5\"} 1\n", 0, NULL,
     "line 3: summary family \"h\" clashes with family \"h_sum\" seen before"},
    {"text: a bare sample in a histogram", TEXT, "# TYPE h histogram\nh 1\n", 0, NULL,
     "line 2: sample \"h\" does not fit histogram family \"h\""},
    {"text: a bucket without le", TEXT, "# TYPE h histogram\nh_bucket{x=\"1\"} 1\n", 0, NULL,
     "line 2: histogram bucket without an \"le\" label"},
    {"text: a bucket with a bad le", TEXT, "# TYPE h histogram\nh_bucket{le=\"fast\"} 1\n", 0, NULL,
     "line 2: invalid le \"fast\""},
    {"text: buckets not increasing", TEXT,
     "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n", 0, NULL,
     "line 3: le \"1\" after le 2: buckets must increase"},
    {"text: buckets end without +Inf before the sum", TEXT,
     "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\n", 0, NULL,
     "line 2: histogram \"h\": bucket series ends without le=\"+Inf\""},
    {"text: buckets end without +Inf at the next family", TEXT,
     "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nx 1\n", 0, NULL,
     "line 2: histogram \"h\": bucket series ends without le=\"+Inf\""},
    {"text: buckets end without +Inf at the end of the page", TEXT,
     "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n", 0, NULL,
     "line 2: histogram \"h\": bucket series ends without le=\"+Inf\""},
    {"text: a summary sample without quantile", TEXT, "# TYPE s summary\ns{x=\"1\"} 1\n", 0, NULL,
     "line 2: summary sample without a \"quantile\" label"},
    {"text: a summary with a bad quantile", TEXT, "# TYPE s summary\ns{quantile=\"\"} 1\n", 0, NULL,
     "line 2: invalid quantile \"\""},
    {"text: duplicate label names", TEXT, "m{a=\"1\",b=\"2\",a=\"3\"} 1\n", 0, NULL,
     "line 1: duplicate label name \"a\""},
    {"text: duplicate label names among many", TEXT,
     "m{a=\"1\",b=\"2\",c=\"3\",d=\"4\",e=\"5\",f=\"6\",g=\"7\",h=\"8\",i=\"9\",j=\"10\",k=\"11\","
     "l=\"12\",m=\"13\",n=\"14\",o=\"15\",p=\"16\",q=\"17\",c=\"18\"} 1\n",
     0, NULL, "line 1: duplicate label name \"c\""},
    {"text: a label name starting with a digit", TEXT, "m{1a=\"x\"} 1\n", 0, NULL,
     "line 1: expected a label name (column 3)"},
    {"text: a label name with a dash", TEXT, "m{a-b=\"x\"} 1\n", 0, NULL,
     "line 1: expected '=' after label name \"a\""},
    {"text: a label name with a colon", TEXT, "m{a:b=\"x\"} 1\n", 0, NULL,
     "line 1: expected '=' after label name \"a\""},
    {"text: single-quoted label value", TEXT, "m{a='x'} 1\n", 0, NULL,
     "line 1: expected '\"' to open a label value"},
    {"text: labels without a comma", TEXT, "m{a=\"1\" b=\"2\"} 1\n", 0, NULL,
     "line 1: expected ',' or '}' after a label value"},
    {"text: a label value running into the line's end", TEXT, "m{a=\"x} 1\nn 2\n", 0, NULL,
     "line 1: line feed inside a label value"},
    {"text: a label value running into the page's end", TEXT, "m{a=\"x\\\"", 0, NULL,
     "line 1: unterminated label value"},
    {"text: NUL in a label value", TEXT, BIN("m{a=\"x\0y\"} 1\n"), NULL,
     "line 1: NUL byte in a label value (column 7)"},
    {"text: invalid UTF-8 in a label value", TEXT, "m{a=\"x\xff\"} 1\n", 0, NULL,
     "line 1: invalid UTF-8 in a label value"},
    {"text: an overlong UTF-8 sequence", TEXT, "m{a=\"\xc0\x80\"} 1\n", 0, NULL,
     "line 1: invalid UTF-8 in a label value"},
    {"text: a UTF-8 surrogate", TEXT, "m{a=\"\xed\xa0\x80\"} 1\n", 0, NULL,
     "line 1: invalid UTF-8 in a label value"},
    {"text: a truncated UTF-8 sequence", TEXT, "m{a=\"\xe2\x82\"} 1\n", 0, NULL,
     "line 1: invalid UTF-8 in a label value"},
    {"text: invalid UTF-8 in HELP", TEXT, "# HELP m bad \xfe\nm 1\n", 0, NULL,
     "line 1: invalid UTF-8 in HELP text"},
    {"text: NUL in HELP", TEXT, BIN("# HELP m a\0b\nm 1\n"), NULL, "line 1: NUL byte in HELP text"},
    {"text: hex values are not numbers here", TEXT, "m 0x1p-3\n", 0, NULL,
     "line 1: invalid value \"0x1p-3\""},
    {"text: underscores in numbers", TEXT, "m 1_000\n", 0, NULL, "line 1: invalid value \"1_000\""},
    {"text: a signed NaN", TEXT, "m +NaN\n", 0, NULL, "line 1: invalid value \"+NaN\""},
    {"text: a word for a value", TEXT, "m true\n", 0, NULL, "line 1: invalid value \"true\""},
    {"text: a value beyond the double range", TEXT, "m 1e400\n", 0, NULL,
     "line 1: out-of-range value \"1e400\""},
    {"text: a missing value", TEXT, "m{a=\"1\"}\n", 0, NULL, "line 1: missing value"},
    {"text: a name alone on the last line", TEXT, "m", 0, NULL, "line 1: missing value"},
    {"text: a fractional timestamp", TEXT, "m 1 1.5\n", 0, NULL,
     "line 1: invalid timestamp \"1.5\" (integer milliseconds)"},
    {"text: a timestamp beyond int64", TEXT, "m 1 9223372036854775808\n", 0, NULL,
     "line 1: out-of-range timestamp \"9223372036854775808\""},
    {"text: something after the timestamp", TEXT, "m 1 2 3\n", 0, NULL,
     "line 1: unexpected text after the timestamp"},
    {"text: no exemplars in text format", TEXT, "m 1 # {a=\"b\"} 1\n", 0, NULL,
     "line 1: invalid timestamp \"#\""},
    {"text: a bad character in a metric name", TEXT, "m$x 1\n", 0, NULL,
     "line 1: invalid character in metric name \"m$\""},
    {"text: a line starting with a digit", TEXT, "9 1\n", 0, NULL,
     "line 1: unexpected \"9\" at the start of a line"},
    {"text: a quoted metric name", TEXT, "{\"m.x\"} 1\n", 0, NULL,
     "line 1: sample without a metric name"},
    {"text: HELP without a name", TEXT, "# HELP\n", 0, NULL,
     "line 1: expected a metric name after HELP"},
    {"text: TYPE without a type", TEXT, "# TYPE m\n", 0, NULL, "line 1: TYPE line without a type"},
    {"text: an unknown type", TEXT, "# TYPE m timer\n", 0, NULL,
     "line 1: invalid metric type \"timer\" for text format 0.0.4"},
    {"text: an OpenMetrics-only type", TEXT, "# TYPE m info\n", 0, NULL,
     "line 1: invalid metric type \"info\" for text format 0.0.4"},
    {"text: OpenMetrics' unknown", TEXT, "# TYPE m unknown\n", 0, NULL,
     "line 1: invalid metric type \"unknown\""},
    {"text: an uppercase type", TEXT, "# TYPE m Gauge\n", 0, NULL,
     "line 1: invalid metric type \"Gauge\""},
    {"text: text after the type", TEXT, "# TYPE m gauge extra\n", 0, NULL,
     "line 1: unexpected text after the type"},
    {"text: an error names its line", TEXT, "a 1\n\n# c\nb 2\nc{=\"x\"} 3\n", 0, NULL,
     "line 5: expected a label name (column 3)"},

    // ---- OpenMetrics 1.0 ----
    {"om: the specification's example", OM,
     "# TYPE acme_http_router_request_seconds summary\n"
     "# UNIT acme_http_router_request_seconds seconds\n"
     "# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.\n"
     "acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32\n"
     "acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0\n"
     "acme_http_router_request_seconds_created{path=\"/api/v1\",method=\"GET\"} 1605281325.0\n"
     "# TYPE go_goroutines gauge\n"
     "# HELP go_goroutines Number of goroutines that currently exist.\n"
     "go_goroutines 69\n"
     "# TYPE process_cpu_seconds counter\n"
     "# UNIT process_cpu_seconds seconds\n"
     "# HELP process_cpu_seconds Total user and system CPU time spent in seconds.\n"
     "process_cpu_seconds_total 4.20072246e+06\n"
     "# EOF\n",
     0,
     "F acme_http_router_request_seconds summary help=\"Latency though all of ACME's HTTP request "
     "router.\" unit=\"seconds\"\n"
     "S acme_http_router_request_seconds_sum sum {path=\"/api/v1\",method=\"GET\"} 9036.32\n"
     "S acme_http_router_request_seconds_count count {path=\"/api/v1\",method=\"GET\"} 807283\n"
     "S acme_http_router_request_seconds_created created {path=\"/api/v1\",method=\"GET\"} "
     "1605281325\n"
     "F go_goroutines gauge help=\"Number of goroutines that currently exist.\"\n"
     "S go_goroutines none 69\n"
     "F process_cpu_seconds counter help=\"Total user and system CPU time spent in seconds.\" "
     "unit=\"seconds\"\n"
     "S process_cpu_seconds_total total 4200722.46\n"},
    {"om: counter total and created, fractional-second timestamps rounded to ms", OM,
     "# TYPE foo counter\nfoo_total 17.0 1520879607.789\nfoo_created 1520430000.123 -1.5\n"
     "foo_total{a=\"b\"} 1 1.5e9\nfoo_total{a=\"c\"} 2 1.005\nfoo_total{a=\"d\"} 3 -2.675\n# EOF\n",
     0,
     "F foo counter\nS foo_total total 17 @1520879607789\nS foo_created created 1520430000.123 "
     "@-1500\nS foo_total total {a=\"b\"} 1 @1500000000000\n"
     "S foo_total total {a=\"c\"} 2 @1005\nS foo_total total {a=\"d\"} 3 @-2675\n"},
    {"om: exemplars are checked and skipped", OM,
     "# TYPE foo counter\nfoo_total 17.0 # {trace_id=\"KOO5S4vxi0o\"} 0.67\n"
     "foo_total{a=\"1\"} 2 1520879607.789 # {trace_id=\"oHg5SJYRHA0\"} 9.8 1520879607.789\n"
     "# TYPE h histogram\nh_bucket{le=\"0.1\"} 8 # {} 0.054\n"
     "h_bucket{le=\"+Inf\"} 17 # {a=\"\\\"x\\\"\"} 9\nh_count 17\nh_sum 324789.3\n"
     "h_created 1520430000.123\n# EOF\n",
     0,
     "F foo counter\nS foo_total total 17\nS foo_total total {a=\"1\"} 2 @1520879607789\n"
     "F h histogram\nS h_bucket bucket {le=\"0.1\"} 8 le=0.1\n"
     "S h_bucket bucket {le=\"+Inf\"} 17 le=+Inf\nS h_count count 17\nS h_sum sum 324789.3\n"
     "S h_created created 1520430000.123\n"},
    {"om: gauge histogram, info, stateset, unknown", OM,
     "# TYPE gh gaugehistogram\ngh_bucket{le=\"1\"} 2\ngh_bucket{le=\"+Inf\"} 3\ngh_gcount 3\n"
     "gh_gsum 4.5\n# TYPE build info\nbuild_info{version=\"8.2.7\"} 1\n# TYPE st stateset\n"
     "st{st=\"a\"} 0\nst{st=\"bb\"} 1\n# TYPE un unknown\nun 42.23\nloose 1\n# EOF",
     0,
     "F gh gaugehistogram\nS gh_bucket bucket {le=\"1\"} 2 le=1\n"
     "S gh_bucket bucket {le=\"+Inf\"} 3 le=+Inf\nS gh_gcount gcount 3\nS gh_gsum gsum 4.5\n"
     "F build info\nS build_info info {version=\"8.2.7\"} 1\nF st stateset\n"
     "S st none {st=\"a\"} 0\nS st none {st=\"bb\"} 1\nF un untyped\nS un none 42.23\n"
     "F loose untyped\nS loose none 1\n"},
    {"om: summary quantiles and _created", OM,
     "# TYPE s summary\ns{quantile=\"0.95\"} 123.7\ns{quantile=\"0.99\"} NaN\ns_count 17\n"
     "s_created 1520430000.123\n# EOF\n",
     0,
     "F s summary\nS s none {quantile=\"0.95\"} 123.7 q=0.95\n"
     "S s none {quantile=\"0.99\"} NaN q=0.99\nS s_count count 17\n"
     "S s_created created 1520430000.123\n"},
    {"om: HELP escapes include \\\"; empty HELP and UNIT count as absent", OM,
     "# HELP a Some text and \\n some \\\" escaping \\x\n# HELP b \n# UNIT b \nc 1\n# EOF\n", 0,
     "F a untyped help=\"Some text and \\x0a some \" escaping \\x\"\nF b untyped\n"
     "F c untyped\nS c none 1\n"},
    {"om: values case-insensitively, and an empty label set", OM,
     "m{i=\"1\"} nan\nm{i=\"2\"} +inf\nm{i=\"3\"} -Infinity\nm{i=\"4\"} 1E2\nm{} 0\n# EOF\n", 0,
     "F m untyped\nS m none {i=\"1\"} NaN\nS m none {i=\"2\"} +Inf\nS m none {i=\"3\"} -Inf\n"
     "S m none {i=\"4\"} 100\nS m none 0\n"},
    {"om: just # EOF", OM, "# EOF", 0, ""},
    {"om: gh_sum next to a gauge histogram is a family of its own (no potential clash)", OM,
     "# TYPE gh gaugehistogram\ngh_bucket{le=\"+Inf\"} 1\ngh_sum 1\n# EOF\n", 0,
     "F gh gaugehistogram\nS gh_bucket bucket {le=\"+Inf\"} 1 le=+Inf\nF gh_sum untyped\n"
     "S gh_sum none 1\n"},

    // OpenMetrics: rejected pages
    {"om: an empty page", OM, "", 0, NULL, "line 1: missing \"# EOF\" at the end"},
    {"om: no # EOF", OM, "m 1\nn 2\n", 0, NULL, "line 3: missing \"# EOF\" at the end"},
    {"om: no # EOF, last line without a line feed", OM, "m 1\nn 2", 0, NULL,
     "line 2: missing \"# EOF\" at the end"},
    {"om: a sample after # EOF", OM, "# EOF\nm 1\n", 0, NULL, "line 1: content after \"# EOF\""},
    {"om: a blank line after # EOF", OM, "# EOF\n\n", 0, NULL, "line 1: content after \"# EOF\""},
    {"om: a blank line", OM, "m 1\n\nn 2\n# EOF\n", 0, NULL,
     "line 2: empty line (not allowed in OpenMetrics)"},
    {"om: leading whitespace", OM, " m 1\n# EOF\n", 0, NULL, "line 1: leading whitespace"},
    {"om: CR LF line endings", OM, "m 1\r\n# EOF\r\n", 0, NULL, "line 1: CR LF line ending"},
    {"om: a comment line", OM, "# hello\n# EOF\n", 0, NULL, "line 1: comment line"},
    {"om: two spaces after #", OM, "#  TYPE c counter\n# EOF\n", 0, NULL, "line 1: comment line"},
    {"om: a tab after the metric name", OM, "a\t1\n# EOF\n", 0, NULL,
     "line 1: expected one space and a value after the metric name"},
    {"om: two spaces before the value", OM, "a  1\n# EOF\n", 0, NULL, "line 1: missing value"},
    {"om: a space before the labels", OM, "a {b=\"c\"} 1\n# EOF\n", 0, NULL,
     "line 1: invalid value \"{b=\\\"c\\\"}\""},
    {"om: a space inside the labels", OM, "a{b=\"c\", d=\"e\"} 1\n# EOF\n", 0, NULL,
     "line 1: expected a label name (column 9)"},
    {"om: a trailing comma", OM, "a{b=\"c\",} 1\n# EOF\n", 0, NULL,
     "line 1: trailing comma in label set"},
    {"om: a trailing space on TYPE", OM, "# TYPE c counter \n# EOF\n", 0, NULL,
     "line 1: invalid metric type \"counter \" for OpenMetrics"},
    {"om: text format's untyped", OM, "# TYPE u untyped\n# EOF\n", 0, NULL,
     "line 1: invalid metric type \"untyped\" for OpenMetrics"},
    {"om: HELP without the space before its text", OM, "# HELP m\n# EOF\n", 0, NULL,
     "line 1: HELP line without a text"},
    {"om: TYPE without a type", OM, "# TYPE m\n# EOF\n", 0, NULL,
     "line 1: TYPE line without a type"},
    {"om: a counter's bare name", OM, "# TYPE c counter\nc 1\n# EOF\n", 0, NULL,
     "line 2: sample \"c\" does not fit counter family \"c\""},
    {"om: an info family's bare name", OM, "# TYPE i info\ni{a=\"b\"} 1\n# EOF\n", 0, NULL,
     "line 2: sample \"i\" does not fit info family \"i\""},
    {"om: a gauge called foo_created next to counter foo", OM,
     "# TYPE foo counter\nfoo_total 1\n# TYPE foo_created gauge\nfoo_created 2\n# EOF\n", 0, NULL,
     "line 4: family \"foo_created\" clashes with the samples of counter family \"foo\" of line 1"},
    {"om: counter samples without metadata interleave", OM,
     "foo_total 17.0\nfoo_created 1520872607.123\nfoo_total{a=\"b\"} 17.0\n# EOF\n", 0, NULL,
     "line 3: family \"foo_total\" appears again after line 1"},
    {"om: TYPE after samples", OM, "# HELP m x\nm 1\n# TYPE m gauge\n# EOF\n", 0, NULL,
     "line 3: TYPE line for \"m\" after its samples"},
    {"om: two UNIT lines", OM, "# UNIT m_s s\n# UNIT m_s s\n# EOF\n", 0, NULL,
     "line 2: second UNIT line for \"m_s\""},
    {"om: a unit that is not the name's suffix", OM,
     "# TYPE foo counter\n# UNIT foo seconds\n"
     "# EOF\n",
     0, NULL, "line 2: unit \"seconds\" is not the suffix of \"foo\""},
    {"om: a unit without its underscore", OM, "# UNIT fooseconds seconds\n# EOF\n", 0, NULL,
     "line 1: unit \"seconds\" is not the suffix of \"fooseconds\""},
    {"om: an info family with a unit", OM, "# UNIT a_b b\n# TYPE a_b info\n# EOF\n", 0, NULL,
     "line 2: info family with a UNIT"},
    {"om: a stateset sample without its state label", OM,
     "# TYPE st stateset\nst{x=\"a\"} 1\n# EOF\n", 0, NULL,
     "line 2: stateset sample without a label named \"st\""},
    {"om: hex values", OM, "m 0x10\n# EOF\n", 0, NULL, "line 1: invalid value \"0x10\""},
    {"om: a NaN timestamp", OM, "m 1 NaN\n# EOF\n", 0, NULL, "line 1: invalid timestamp \"NaN\""},
    {"om: an infinite timestamp", OM, "m 1 +Inf\n# EOF\n", 0, NULL,
     "line 1: invalid timestamp \"+Inf\""},
    {"om: something after the timestamp", OM, "m 1 2 3\n# EOF\n", 0, NULL,
     "line 1: expected \"# {\" to start an exemplar"},
    {"om: an exemplar without a value", OM, "# TYPE c counter\nc_total 1 # {a=\"b\"}\n# EOF\n", 0,
     NULL, "line 2: expected one space and a value after exemplar labels"},
    {"om: an exemplar with unquoted labels", OM, "# TYPE c counter\nc_total 1 # {a=b} 2\n# EOF\n",
     0, NULL, "line 2: expected '\"' to open a label value"},
    {"om: an exemplar with a NaN timestamp", OM,
     "# TYPE c counter\nc_total 1 # {a=\"b\"} 2 NaN\n# EOF\n", 0, NULL,
     "line 2: invalid timestamp \"NaN\""},
    {"om: exemplar labels of 128 characters (\"é\" counts one)", OM,
     "# TYPE c counter\nc_total 1 # "
     "{trace_id="
     "\"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
     "123456789012345678901234567\",a=\"é\"} 2\n# EOF\n",
     0, "F c counter\nS c_total total 1\n"},
    {"om: exemplar labels over 128 characters", OM,
     "# TYPE c counter\nc_total 1 # "
     "{trace_id="
     "\"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890"
     "123456789012345678901234567\",a=\"éé\"} 2\n# EOF\n",
     0, NULL, "line 2: exemplar labels longer than 128 characters"},
    {"om: duplicate labels in an exemplar", OM,
     "# TYPE c counter\nc_total 1 # {a=\"1\",a=\"2\"} 2\n# EOF\n", 0, NULL,
     "line 2: duplicate label name \"a\""},
    {"om: content after the exemplar", OM, "# TYPE c counter\nc_total 1 # {} 2 3 4\n# EOF\n", 0,
     NULL, "line 2: unexpected text after the value"},
};

// Parses c->in and compares the transcript or the error.
static void run_case(const case_t *c) {
  rec_t r = {0};
  put(&r, "%s", "");
  sl_err_t err;
  size_t len = c->len ? c->len : strlen(c->in);
  int rc = sl_expo_parse(c->in, len, c->fmt, &handler, &r, &err);
  if (c->out) {
    T_OK(rc == 0, "%s: parses (%s)", c->what, rc ? err.msg : "ok");
    T_OK(rc == 0 && !strcmp(r.buf, c->out), "%s: transcript%s%s", c->what,
         rc == 0 && strcmp(r.buf, c->out) ? "\n--- got:\n" : "",
         rc == 0 && strcmp(r.buf, c->out) ? r.buf : "");
  } else {
    T_EQ_INT(rc, SL_EPARSE, c->what);
    T_OK(rc == SL_EPARSE && !strncmp(err.msg, c->err, strlen(c->err)),
         "%s: error \"%s\" starts with \"%s\"", c->what, rc ? err.msg : "", c->err);
  }
  free(r.buf);
}

// ---- beyond the table -----------------------------------------------------------------------

// One label value of 1 MiB with escapes at both ends and 300 labels on one line.
static void test_long_lines(void) {
  size_t big = 1 << 20;
  char *page = malloc(big + 8192);
  size_t n = 0;
  n += sprintf(page + n, "m{a=\"\\\\");
  memset(page + n, 'x', big), n += big;
  n += sprintf(page + n, "\\n\"");
  for (int i = 0; i < 300; i++) n += sprintf(page + n, ",l%d=\"v%d\"", i, i);
  n += sprintf(page + n, "} 1\n");
  rec_t r = {0};
  sl_err_t err;
  int rc = sl_expo_parse(page, n, SL_EXPO_TEXT_004, &handler, &r, &err);
  T_EQ_INT(rc, 0, "a 1 MiB label value and 300 labels parse");
  T_EQ_INT(r.nsamples, 1, "one sample");
  // "S m none {a=\"\\" + big x + "\x0a\",l0=..." : the value is unescaped in place of the escapes.
  const char *v = r.buf ? strstr(r.buf, "{a=\"") : NULL;
  T_OK(v && v[4] == '\\' && v[5] == 'x' && v[5 + big - 1] == 'x' &&
           !strncmp(v + 5 + big, "\\x0a\"", 5),
       "the long value is unescaped whole");
  T_OK(r.buf && strstr(r.buf, ",l299=\"v299\"} 1\n"), "the 300th label comes through");
  free(r.buf);
  free(page);
}

static const char *const want_two[] = {"keep", "h", NULL};

// Declined families are skipped without their lines being parsed; the rest is delivered exactly.
static void test_filter(void) {
  const char *page = "# TYPE skip gauge\nskip{a=\"1\"} 1\nskip{broken line\n"
                     "# TYPE keep counter\nkeep_total{a=\"2\"} 2\n"
                     "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 3\nh_count 3\nother 4\n";
  rec_t r = {.want = want_two};
  sl_err_t err;
  int rc = sl_expo_parse(page, strlen(page), SL_EXPO_TEXT_004, &handler, &r, &err);
  T_EQ_INT(rc, 0, "filter: a declined family's bad line is not looked at");
  const char *want = "F skip gauge\nF keep counter\nS keep_total total {a=\"2\"} 2\n"
                     "F h histogram\nS h_bucket bucket {le=\"+Inf\"} 3 le=+Inf\n"
                     "S h_count count 3\nF other untyped\n";
  int same = r.buf && !strcmp(r.buf, want);
  T_OK(same, "filter: every family announced, samples of wanted ones only%s%s",
       same ? "" : "\n--- got:\n", same ? "" : r.buf);
  free(r.buf);

  // Declining does not loosen where families end: interleaving is still found by name.
  const char *inter = "skip 1\nkeep_total 2\nskip 3\n";
  r = (rec_t){.want = want_two};
  rc = sl_expo_parse(inter, strlen(inter), SL_EXPO_TEXT_004, &handler, &r, &err);
  T_EQ_INT(rc, SL_EPARSE, "filter: interleaving of a declined family is still rejected");
  T_STR_HAS(err.msg, "line 3: family \"skip\" appears again", "filter: its message");
  free(r.buf);
}

static int stop_family(void *ud, const sl_expo_family_t *f) {
  return f->name.len == 1 && f->name.ptr[0] == 'b' ? SL_ENOMEM : 1;
}

static void test_abort(void) {
  const char *page = "a 1\na 2\nb 3\n";
  rec_t r = {.abort_at = 2};
  sl_err_t err;
  int rc = sl_expo_parse(page, strlen(page), SL_EXPO_TEXT_004, &handler, &r, &err);
  T_EQ_INT(rc, SL_ESTATE, "a sample callback's code stops the parse");
  T_STR_HAS(err.msg, "line 2: the sample handler stopped the parse", "and names the line");
  T_EQ_INT(r.nsamples, 2, "no sample after the one that stopped it");
  free(r.buf);
  sl_expo_handler_t h = {stop_family, NULL};
  rc = sl_expo_parse(page, strlen(page), SL_EXPO_TEXT_004, &h, NULL, &err);
  T_EQ_INT(rc, SL_ENOMEM, "a family callback's code stops the parse");
  T_STR_HAS(err.msg, "line 3: the family handler stopped the parse", "and names the line");
  rc = sl_expo_parse(page, strlen(page), SL_EXPO_TEXT_004, NULL, NULL, &err);
  T_EQ_INT(rc, 0, "no handler: validation only");
}

// One parser over many pages: the family names of one page must not leak into the next.
static void test_reuse(void) {
  const char *a = "# TYPE x gauge\nx 1\n# TYPE y counter\ny_total 2\n";
  const char *bad = "x 1\ny 2\nx 3\n";
  sl_expo_parser_t *p = sl_expo_parser_new();
  sl_err_t err;
  int ok = 1;
  for (int i = 0; i < 300 && ok; i++) { // enough pages to grow and wrap nothing by accident
    rec_t r = {0};
    ok = sl_expo_parser_run(p, a, strlen(a), SL_EXPO_TEXT_004, &handler, &r, &err) == 0 &&
         r.nsamples == 2;
    free(r.buf);
  }
  T_OK(ok, "the same page parses again and again with one parser");
  T_EQ_INT(sl_expo_parser_run(p, bad, strlen(bad), SL_EXPO_TEXT_004, NULL, NULL, &err), SL_EPARSE,
           "and a bad page after them still fails");
  T_STR_HAS(err.msg, "line 3:", "at its own line");
  T_EQ_INT(sl_expo_parser_run(p, a, strlen(a), SL_EXPO_TEXT_004, NULL, NULL, &err), 0,
           "and the good page after the bad one parses");
  // A page with many families grows the name set; the next page starts clean.
  char *many = malloc(200 * 32);
  size_t n = 0;
  for (int i = 0; i < 200; i++) n += sprintf(many + n, "# TYPE f%d_sum gauge\nf%d_sum 1\n", i, i);
  T_EQ_INT(sl_expo_parser_run(p, many, n, SL_EXPO_TEXT_004, NULL, NULL, &err), 0,
           "200 families on one page");
  T_EQ_INT(sl_expo_parser_run(p, many, n, SL_EXPO_TEXT_004, NULL, NULL, &err), 0,
           "and the same 200 again on the next page");
  free(many);
  sl_expo_parser_free(p);
}

static void test_helpers(void) {
  double d = 0;
  T_OK(sl_expo_parse_float("+Inf", 4, &d) == 0 && isinf(d) && d > 0, "parse_float: +Inf");
  T_OK(sl_expo_parse_float("0.25", 4, &d) == 0 && d == 0.25, "parse_float: 0.25");
  T_OK(sl_expo_parse_float("1.0e-3", 6, &d) == 0 && d == 0.001, "parse_float: 1.0e-3");
  T_OK(sl_expo_parse_float("-7", 2, &d) == 0 && d == -7, "parse_float: -7");
  T_OK(sl_expo_parse_float("NaN", 3, &d) == 0 && isnan(d), "parse_float: NaN");
  T_EQ_INT(sl_expo_parse_float("0.5x", 4, &d), SL_EPARSE, "parse_float: trailing junk");
  T_EQ_INT(sl_expo_parse_float(" 1", 2, &d), SL_EPARSE, "parse_float: leading blank");
  T_EQ_INT(sl_expo_parse_float("", 0, &d), SL_EPARSE, "parse_float: empty");
  T_EQ_INT(sl_expo_parse_float("1e", 2, &d), SL_EPARSE, "parse_float: exponent without digits");
  T_EQ_INT(sl_expo_parse_float(".", 1, &d), SL_EPARSE, "parse_float: a lone point");
  T_EQ_INT(sl_expo_parse_float("infinit", 7, &d), SL_EPARSE, "parse_float: a cut infinity");
  T_OK(sl_expo_parse_float("0.5", 2, &d) == 0 && d == 0, "parse_float: reads only len bytes");

  T_EQ_INT(sl_expo_format_from_content_type(
               "application/openmetrics-text; version=1.0.0; charset=utf-8"),
           SL_EXPO_OPENMETRICS, "content type: OpenMetrics 1.0.0");
  T_EQ_INT(sl_expo_format_from_content_type("Application/OpenMetrics-Text;version=0.0.1"),
           SL_EXPO_OPENMETRICS, "content type: case-insensitive, older version");
  T_EQ_INT(sl_expo_format_from_content_type("text/plain; version=0.0.4; charset=utf-8"),
           SL_EXPO_TEXT_004, "content type: text 0.0.4");
  T_EQ_INT(sl_expo_format_from_content_type("application/openmetrics-textual"), SL_EXPO_TEXT_004,
           "content type: a longer media type is not OpenMetrics");
  T_EQ_INT(sl_expo_format_from_content_type(NULL), SL_EXPO_TEXT_004, "content type: none");

  sl_expo_label_t ls[2] = {{{"a", 1}, {"1", 1}}, {{"le", 2}, {"x", 1}}};
  sl_expo_sample_t s = {.labels = ls, .nlabels = 2};
  T_OK(sl_expo_sample_label(&s, "le") == &ls[1], "sample_label finds a label by name");
  T_OK(sl_expo_sample_label(&s, "l") == NULL, "sample_label does not match a prefix");
  T_OK(!strcmp(sl_expo_role_suffix(SL_EXPO_ROLE_GCOUNT), "_gcount"), "role suffix");
}

// The exact fast path (short decimals) must agree with strtod bit for bit, in the C locale and
// with a locale whose decimal point is a comma.
static void test_numbers(void) {
  unsigned seed = 12345;
  int bad = 0;
  char b[64];
  for (int i = 0; i < 200000; i++) {
    seed = seed * 1103515245u + 12345u;
    unsigned k = seed >> 8;
    double v;
    switch (k % 4) {
    case 0:
      v = (double)(k % 100000) / 1000;
      break;
    case 1:
      v = (double)k * 1e-9;
      break;
    case 2:
      v = ldexp((double)(k | 1), (int)(k % 200) - 100);
      break;
    default:
      v = (double)(k % 1000) * 1e10;
      break;
    }
    static const char *const fmts[] = {"%.3f", "%.6g", "%.17g", "%.15e", "%g", "%.1f"};
    snprintf(b, sizeof b, fmts[k % 6], v);
    double want = strtod(b, NULL), got = -1;
    if (sl_expo_parse_float(b, strlen(b), &got) || memcmp(&got, &want, sizeof got)) {
      if (bad++ < 5) printf("# number mismatch: %s -> %.17g, strtod %.17g\n", b, got, want);
    }
  }
  T_EQ_INT(bad, 0, "200000 numbers parse exactly as strtod reads them");
  if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
    double d = 0;
    T_OK(sl_expo_parse_float("0.41267184270186336", 19, &d) == 0 && d == 0.41267184270186336,
         "a long decimal with '.' under a ',' locale");
    setlocale(LC_NUMERIC, "C");
  } else {
    printf("# skip: no de_DE or fr_FR locale to test a ',' decimal point\n");
  }
}

// ---- the real vLLM page ---------------------------------------------------------------------

typedef struct {
  int samples, families, by_type[8], buckets_ttft, info_labels;
  double running, kv, prompt, ttft_inf, ttft_count;
  int prompt_family_ok, ttft_order_ok;
  double last_le;
} vllm_t;

static int eq(sl_expo_str_t s, const char *lit) {
  return s.len == strlen(lit) && !memcmp(s.ptr, lit, s.len);
}

static int v_family(void *ud, const sl_expo_family_t *f) {
  vllm_t *v = ud;
  v->families++;
  v->by_type[f->type]++;
  return 1;
}

static int v_sample(void *ud, const sl_expo_sample_t *s) {
  vllm_t *v = ud;
  v->samples++;
  if (eq(s->name, "vllm:num_requests_running")) v->running = s->value;
  if (eq(s->name, "vllm:kv_cache_usage_perc")) v->kv = s->value;
  if (eq(s->name, "vllm:prompt_tokens_total")) {
    v->prompt = s->value;
    v->prompt_family_ok = eq(s->family->name, "vllm:prompt_tokens") &&
                          s->family->type == SL_EXPO_COUNTER && s->role == SL_EXPO_ROLE_TOTAL;
  }
  if (eq(s->name, "vllm:time_to_first_token_seconds_bucket")) {
    if (v->buckets_ttft == 0) v->ttft_order_ok = 1, v->last_le = -INFINITY;
    v->ttft_order_ok &= s->le > v->last_le && s->family->type == SL_EXPO_HISTOGRAM;
    v->last_le = s->le;
    v->buckets_ttft++;
    if (isinf(s->le)) v->ttft_inf = s->value;
  }
  if (eq(s->name, "vllm:time_to_first_token_seconds_count")) v->ttft_count = s->value;
  if (eq(s->name, "vllm:cache_config_info")) v->info_labels = (int)s->nlabels;
  return 0;
}

static void test_vllm_page(void) {
  const char *path = "../shared/data/metrics/vllm_metrics_page.txt";
  FILE *f = fopen(path, "rb");
  if (!f) {
    printf("# skip: %s absent, the real-page checks did not run\n", path);
    return;
  }
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  vllm_t v = {0};
  sl_expo_handler_t h = {v_family, v_sample};
  sl_err_t err;
  int rc = sl_expo_parse(buf, n, SL_EXPO_TEXT_004, &h, &v, &err);
  T_EQ_INT(rc, 0, "vllm page parses");
  if (rc) printf("# %s\n", err.msg);
  T_EQ_INT(n, 57099, "vllm page: 57,099 bytes read");
  T_EQ_INT(v.samples, 435, "vllm page: 435 samples");
  T_EQ_INT(v.families, 69, "vllm page: 69 families");
  T_EQ_INT(v.by_type[SL_EXPO_COUNTER], 13, "vllm page: 13 counters");
  T_EQ_INT(v.by_type[SL_EXPO_GAUGE], 38, "vllm page: 38 gauges");
  T_EQ_INT(v.by_type[SL_EXPO_HISTOGRAM], 16, "vllm page: 16 histograms");
  T_EQ_INT(v.by_type[SL_EXPO_SUMMARY], 2, "vllm page: 2 summaries");
  T_NEAR(v.running, 23, 0, "vllm:num_requests_running");
  T_OK(v.kv == 0.41267184270186336, "vllm:kv_cache_usage_perc exact (%.17g)", v.kv);
  T_NEAR(v.prompt, 2.3779248e+09, 0, "vllm:prompt_tokens_total");
  T_OK(v.prompt_family_ok, "vllm:prompt_tokens_total is role _total of counter vllm:prompt_tokens");
  T_EQ_INT(v.buckets_ttft, 23, "TTFT histogram: 23 buckets");
  T_OK(v.ttft_order_ok, "TTFT buckets come with increasing le");
  T_OK(v.ttft_inf == v.ttft_count && v.ttft_count == 1.694311e+06,
       "TTFT +Inf bucket equals its count (%g, %g)", v.ttft_inf, v.ttft_count);
  T_EQ_INT(v.info_labels, 21, "vllm:cache_config_info carries its 21 labels");

  // Read as OpenMetrics the page must fail: its counters are TYPE'd under their _total names.
  rc = sl_expo_parse(buf, n, SL_EXPO_OPENMETRICS, NULL, NULL, &err);
  T_EQ_INT(rc, SL_EPARSE, "vllm page read as OpenMetrics fails");
  T_STR_HAS(err.msg, "line 3: sample \"python_gc_objects_collected_total\" does not fit counter",
            "first on a counter TYPE'd with its _total name");
}

int main(void) {
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
  test_long_lines();
  test_filter();
  test_abort();
  test_reuse();
  test_helpers();
  test_numbers();
  test_vllm_page();
  return tap_done();
}
