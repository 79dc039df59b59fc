// The HTML report of `sluice sim`. See report.h.
//
// Layout: the summary table first (what most readers came for), then charts that overlay every
// policy on one time axis (arrivals, GPUs held, gateway queue, TTFT p99 against the SLO, SLO
// misses, cumulative cost), then one row per policy of replicas per variant (ready / starting /
// pending stacked, the clairvoyant count as a dashed line), then the scenario in detail. Every
// chart shares the same time axis so a spike can be followed from one chart to the next.
#include "core/sim/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// ---- text ------------------------------------------------------------------------------------

// Everything that did not come from this file goes through here: names, paths, the command line.
static void esc(FILE *f, const char *s) {
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
    case '&':
      fputs("&amp;", f);
      break;
    case '<':
      fputs("&lt;", f);
      break;
    case '>':
      fputs("&gt;", f);
      break;
    case '"':
      fputs("&quot;", f);
      break;
    case '\'':
      fputs("&#39;", f);
      break;
    default:
      // Control characters are not allowed in HTML text; show that something was there.
      if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
        fputs("&#xfffd;", f);
      else
        fputc(*p, f);
    }
  }
}

// "1.5k", "2M": axis labels stay short.
static void fmt_num(char *b, size_t n, double v) {
  double a = fabs(v);
  if (a >= 1e6)
    snprintf(b, n, "%.4gM", v / 1e6);
  else if (a >= 1e4)
    snprintf(b, n, "%.4gk", v / 1e3);
  else
    snprintf(b, n, "%.4g", v);
}

static void fmt_dur(char *b, size_t n, double s) {
  if (s >= 2 * 86400)
    snprintf(b, n, "%.0f s (%.1f days)", s, s / 86400);
  else if (s >= 2 * 3600)
    snprintf(b, n, "%.0f s (%.1f h)", s, s / 3600);
  else if (s >= 120)
    snprintf(b, n, "%.0f s (%.1f min)", s, s / 60);
  else
    snprintf(b, n, "%.0f s", s);
}

// An argument as a shell would need it.
static void put_arg(FILE *f, const char *a) {
  int plain = *a != 0;
  for (const char *p = a; *p; p++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,@%+-", *p))
      plain = 0;
  if (plain) {
    esc(f, a);
    return;
  }
  esc(f, "'");
  for (const char *p = a; *p; p++) {
    char c[2] = {*p, 0};
    esc(f, *p == '\'' ? "'\\''" : c);
  }
  esc(f, "'");
}

// ---- series ----------------------------------------------------------------------------------

typedef struct {
  double *x, *y;
  size_t n;
} ser_t;

static void ser_free(ser_t *s) {
  free(s->x);
  memset(s, 0, sizeof *s);
}

// How bins merge when a series has more bins than points.
typedef enum {
  AG_RATE,  // sum of counts over the span's seconds: a rate
  AG_MAX,   // the highest bin (NaN bins skipped)
  AG_MEAN,  // time-weighted mean: keeps areas (GPU-hours) right
  AG_LAST,  // the last bin: for cumulative values
  AG_RATIO, // sum of v over sum of den (NaN where den is 0)
} agg_t;

// Thins a per-bin series — v[i] (and den[i]) over [i*w, min((i+1)*w, end)) — to at most maxp
// points, each at the middle of its span or, with at_end, at its end (values sampled at the end of
// a bin). lead, when finite, is a first point at time 0 (the state the run started in).
static int thin(ser_t *out, const double *v, const double *den, size_t n, double w, double end,
                size_t maxp, agg_t ag, int at_end, double lead) {
  memset(out, 0, sizeof *out);
  int has_lead = isfinite(lead);
  if (maxp < 2) maxp = 2;
  size_t room = maxp - (size_t)has_lead;
  size_t k = n ? (n + room - 1) / room : 1, ng = n ? (n + k - 1) / k : 0;
  size_t cap = ng + (size_t)has_lead;
  out->x = malloc(sizeof(double) * 2 * (cap ? cap : 1));
  if (!out->x) return SL_ENOMEM;
  out->y = out->x + (cap ? cap : 1);
  if (!(end > 0)) end = (double)n * w;
  if (has_lead) {
    out->x[0] = 0;
    out->y[0] = lead;
    out->n = 1;
  }
  for (size_t g = 0; g < ng; g++) {
    size_t i0 = g * k, i1 = i0 + k < n ? i0 + k : n;
    double ta = (double)i0 * w, tb = fmin((double)i1 * w, end);
    if (tb < ta) tb = ta;
    double sv = 0, sd = 0, sl = 0, best = NAN;
    for (size_t i = i0; i < i1; i++) {
      double len = fmax(fmin((double)(i + 1) * w, end) - (double)i * w, 0);
      switch (ag) {
      case AG_RATE:
        sv += v[i], sl += len;
        break;
      case AG_MAX:
        if (isfinite(v[i]) && !(v[i] <= best)) best = v[i];
        break;
      case AG_MEAN:
        sv += v[i] * len, sl += len, sd += v[i];
        break;
      case AG_LAST:
        break;
      case AG_RATIO:
        sv += v[i], sd += den[i];
        break;
      }
    }
    double y;
    switch (ag) {
    case AG_RATE:
      y = sl > 0 ? sv / sl : NAN;
      break;
    case AG_MAX:
      y = best;
      break;
    case AG_MEAN:
      y = sl > 0 ? sv / sl : sd / (double)(i1 - i0);
      break;
    case AG_LAST:
      y = v[i1 - 1];
      break;
    default:
      y = sd > 0 ? sv / sd : NAN;
      break;
    }
    out->x[out->n] = at_end ? tb : (ta + tb) / 2;
    out->y[out->n] = y;
    out->n++;
  }
  return SL_OK;
}

static size_t finite_points(const ser_t *s) {
  size_t c = 0;
  for (size_t i = 0; i < s->n; i++) c += isfinite(s->y[i]) != 0;
  return c;
}

// ---- charts ----------------------------------------------------------------------------------

enum { FMT_NUM, FMT_MS, FMT_PCT };
enum { KEY_LINE, KEY_DASH, KEY_AREA, KEY_REF };

typedef struct {
  const char *color, *label;
  int kind;
} legend_t;

typedef struct {
  double W, H, ml, mr, mt, mb;
  double x1;     // the time axis runs from 0 to x1 seconds
  double y0, y1; // value axis
  int logy, integer, fmt;
} frame_t;

static double X(const frame_t *fr, double t) {
  double w = fr->W - fr->ml - fr->mr;
  return fr->ml + (fr->x1 > 0 ? t / fr->x1 : 0) * w;
}

static double Y(const frame_t *fr, double v) {
  double h = fr->H - fr->mt - fr->mb, u;
  if (fr->logy)
    u = v > 0 ? (log10(v) - log10(fr->y0)) / (log10(fr->y1) - log10(fr->y0)) : 0;
  else
    u = (v - fr->y0) / (fr->y1 - fr->y0);
  if (!(u >= 0)) u = 0;
  if (u > 1) u = 1;
  return fr->H - fr->mb - u * h;
}

static double nice_step(double range, int target, int integer) {
  double raw = range / target, mag = pow(10, floor(log10(raw)));
  static const double m[] = {1, 2, 2.5, 5, 10};
  double st = 10 * mag;
  for (int i = 0; i < 5; i++)
    if (m[i] * mag >= raw - 1e-12) {
      st = m[i] * mag;
      break;
    }
  if (integer && st < 1) st = 1;
  if (integer) st = ceil(st);
  return st;
}

// Sets the value axis from the largest (and, on a log axis, smallest) value shown.
static void frame_range(frame_t *fr, double lo, double hi) {
  if (fr->logy) {
    if (!(lo > 0)) lo = hi > 0 ? hi / 10 : 1;
    if (!(hi > 0)) hi = lo * 10;
    fr->y0 = pow(10, floor(log10(lo)));
    fr->y1 = pow(10, ceil(log10(hi)));
    if (fr->y1 <= fr->y0 * 10) fr->y1 = fr->y0 * 100;
    return;
  }
  fr->y0 = 0;
  if (!(hi > 0)) hi = 1;
  double st = nice_step(hi, 4, fr->integer);
  fr->y1 = ceil(hi / st - 1e-9) * st;
}

static void fmt_tick(char *b, size_t n, double v, int fmt) {
  char t[32];
  if (fmt == FMT_MS) {
    if (v >= 1000)
      snprintf(b, n, "%g s", v / 1000);
    else
      snprintf(b, n, "%g ms", v);
  } else if (fmt == FMT_PCT) {
    fmt_num(t, sizeof t, v);
    snprintf(b, n, "%s%%", t);
  } else {
    fmt_num(b, n, v);
  }
}

static double time_step(double span) {
  static const double steps[] = {1,     2,     5,      10,     15,     30,      60,     120,
                                 300,   600,   900,    1800,   3600,   7200,    10800,  21600,
                                 43200, 86400, 172800, 345600, 604800, 1209600, 2419200};
  size_t n = sizeof steps / sizeof *steps;
  for (size_t i = 0; i < n; i++)
    if (span / steps[i] <= 10) return steps[i];
  return steps[n - 1] * ceil(span / steps[n - 1] / 10);
}

static void fmt_time(char *b, size_t n, double t, double step, double span) {
  long h = lround(t / 3600), d = h / 24;
  if (fmod(step, 86400) == 0)
    snprintf(b, n, "%ldd", lround(t / 86400));
  else if (fmod(step, 3600) == 0 && span > 2 * 86400 && h % 24)
    snprintf(b, n, "%ldd %ldh", d, h % 24);
  else if (fmod(step, 3600) == 0 && span > 2 * 86400)
    snprintf(b, n, "%ldd", d);
  else if (fmod(step, 3600) == 0)
    snprintf(b, n, "%ldh", h);
  else if (fmod(step, 60) == 0 && span >= 3600) {
    long m = lround(t / 60);
    snprintf(b, n, "%ld:%02ld", m / 60, m % 60);
  } else if (fmod(step, 60) == 0)
    snprintf(b, n, "%ldm", lround(t / 60));
  else
    snprintf(b, n, "%gs", t);
}

#define FONT_W 6.3 // px per character of the 11 px legend font, for laying the legend out

// Opens a chart: the <svg> with its data marker, title, legend, grid, axes. The caller draws its
// series inside the plot area and closes with </svg>.
static void frame_open(FILE *f, frame_t *fr, const char *title, const legend_t *keys, int nk,
                       size_t npoints) {
  // Lay the legend out in rows under the title.
  double x = fr->ml, row = 0, right = fr->W - fr->mr;
  double kx[32], ky[32];
  for (int i = 0; i < nk && i < 32; i++) {
    double w = 18 + FONT_W * (double)strlen(keys[i].label) + 14;
    if (x + w > right && x > fr->ml) {
      x = fr->ml;
      row++;
    }
    kx[i] = x, ky[i] = 34 + row * 16;
    x += w;
  }
  fr->mt = 44 + row * 16;
  fprintf(f,
          "<svg class=\"chart\" data-points=\"%zu\" viewBox=\"0 0 %.0f %.0f\" "
          "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"",
          npoints, fr->W, fr->H);
  esc(f, title);
  fprintf(f, "\"><title>");
  esc(f, title);
  fprintf(f, "</title>\n<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", fr->W, fr->H);
  fprintf(f, "<text x=\"%.0f\" y=\"17\" class=\"t\">", fr->ml);
  esc(f, title);
  fprintf(f, "</text>\n");
  for (int i = 0; i < nk && i < 32; i++) {
    const legend_t *k = &keys[i];
    if (k->kind == KEY_AREA)
      fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"9\" fill=\"%s\"/>", kx[i],
              ky[i] - 8, k->color);
    else
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
              "stroke-width=\"2.5\"%s/>",
              kx[i], ky[i] - 4, kx[i] + 14, ky[i] - 4, k->color,
              k->kind == KEY_LINE ? "" : " stroke-dasharray=\"4 3\"");
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"k\">", kx[i] + 18, ky[i]);
    esc(f, k->label);
    fprintf(f, "</text>\n");
  }
  double top = fr->mt, bottom = fr->H - fr->mb, left = fr->ml;
  char b[48];
  // Value axis: gridlines with labels.
  if (fr->logy) {
    for (double v = fr->y0; v <= fr->y1 * 1.0001; v *= 10) {
      double y = Y(fr, v);
      fmt_tick(b, sizeof b, v, fr->fmt);
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"g\"/>"
              "<text x=\"%.1f\" y=\"%.1f\" class=\"ya\">%s</text>\n",
              left, y, right, y, left - 5, y + 4, b);
    }
  } else {
    double st = nice_step(fr->y1 - fr->y0, 4, fr->integer);
    for (double v = fr->y0; v <= fr->y1 + st * 1e-6; v += st) {
      double y = Y(fr, v);
      fmt_tick(b, sizeof b, v, fr->fmt);
      fprintf(f,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"g\"/>"
              "<text x=\"%.1f\" y=\"%.1f\" class=\"ya\">%s</text>\n",
              left, y, right, y, left - 5, y + 4, b);
    }
  }
  // Time axis.
  double st = time_step(fr->x1);
  for (double t = 0; t <= fr->x1 + 1e-9; t += st) {
    double xx = X(fr, t);
    fmt_time(b, sizeof b, t, st, fr->x1);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"g\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" class=\"xa\">%s</text>\n",
            xx, top, xx, bottom + 4, xx, bottom + 16, b);
  }
  fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>\n", left,
          top, right - left, bottom - top);
}

// The d attribute of a polyline; a NaN value breaks the line.
static void put_path(FILE *f, const frame_t *fr, const ser_t *s) {
  int pen = 0;
  for (size_t i = 0; i < s->n; i++) {
    if (!isfinite(s->y[i])) {
      pen = 0;
      continue;
    }
    fprintf(f,
            pen == 0   ? "M%.1f,%.1f"
            : pen == 1 ? "L%.1f,%.1f"
                       : " %.1f,%.1f",
            X(fr, s->x[i]), Y(fr, s->y[i]));
    pen = pen == 0 ? 1 : 2;
  }
}

typedef struct {
  const ser_t *s;
  const char *color, *label;
  int dash;
} line_t;

// Lines on one time axis, with an optional reference value drawn across (the SLO).
static void line_chart(FILE *f, double W, double H, double x1, const char *title, int fmt, int logy,
                       int integer, const line_t *lines, int nl, double ref,
                       const char *ref_label) {
  frame_t fr = {W, H, 56, 14, 0, 26, x1, 0, 1, logy, integer, fmt};
  legend_t keys[32];
  int nk = 0;
  size_t np = 0;
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < nl; i++) {
    if (nk < 31)
      keys[nk++] = (legend_t){lines[i].color, lines[i].label, lines[i].dash ? KEY_DASH : KEY_LINE};
    np += finite_points(lines[i].s);
    for (size_t k = 0; k < lines[i].s->n; k++) {
      double v = lines[i].s->y[k];
      if (!isfinite(v)) continue;
      if (v > hi) hi = v;
      if (v > 0 && v < lo) lo = v;
    }
  }
  if (isfinite(ref)) {
    keys[nk++] = (legend_t){"#c0392b", ref_label, KEY_REF};
    if (ref > hi) hi = ref;
    if (ref < lo) lo = ref;
  }
  frame_range(&fr, lo, hi);
  frame_open(f, &fr, title, keys, nk, np);
  if (isfinite(ref)) {
    double y = Y(&fr, ref);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c0392b\" "
            "stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n",
            fr.ml, y, fr.W - fr.mr, y);
  }
  for (int i = 0; i < nl; i++) {
    if (!lines[i].s->n) continue;
    fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%s\"%s d=\"", lines[i].color,
            lines[i].dash ? "1.6" : "1.4", lines[i].dash ? " stroke-dasharray=\"5 3\"" : "");
    put_path(f, &fr, lines[i].s);
    fprintf(f, "\"><title>");
    esc(f, lines[i].label);
    fprintf(f, "</title></path>\n");
  }
  fprintf(f, "</svg>\n");
}

static const char *const layer_color[3] = {"#4c78a8", "#f5b041", "#e4574b"};
static const char *const layer_name[3] = {"ready", "starting", "pending"};
#define CLAIR_COLOR "#222"

// Replicas of one variant in one run: ready, starting and pending stacked (they share x), with
// the clairvoyant count (clair may be NULL) as a dashed line.
static void stack_chart(FILE *f, double W, double H, double x1, const char *title,
                        const ser_t *layers, const ser_t *clair) {
  frame_t fr = {W, H, 44, 10, 0, 26, x1, 0, 1, 0, 1, FMT_NUM};
  legend_t keys[4];
  int nk = 0;
  for (int l = 0; l < 3; l++) keys[nk++] = (legend_t){layer_color[l], layer_name[l], KEY_AREA};
  if (clair) keys[nk++] = (legend_t){CLAIR_COLOR, "clairvoyant", KEY_DASH};
  size_t n = layers[0].n, np = 0;
  double hi = 0;
  for (size_t i = 0; i < n; i++) {
    double s = layers[0].y[i] + layers[1].y[i] + layers[2].y[i];
    if (s > hi) hi = s;
  }
  for (int l = 0; l < 3; l++) np += finite_points(&layers[l]);
  if (clair) {
    np += finite_points(clair);
    for (size_t i = 0; i < clair->n; i++)
      if (clair->y[i] > hi) hi = clair->y[i];
  }
  frame_range(&fr, 0, hi);
  frame_open(f, &fr, title, keys, nk, np);
  for (int l = 0; l < 3; l++) {
    int any = 0;
    for (size_t i = 0; i < n && !any; i++) any = layers[l].y[i] > 0;
    if (!any) continue; // an empty layer would only trace its base
    fprintf(f, "<path fill=\"%s\" d=\"", layer_color[l]);
    for (size_t i = 0; i < n; i++) {
      double top = 0;
      for (int k = 0; k <= l; k++) top += layers[k].y[i];
      fprintf(f,
              i == 0   ? "M%.1f,%.1f"
              : i == 1 ? "L%.1f,%.1f"
                       : " %.1f,%.1f",
              X(&fr, layers[l].x[i]), Y(&fr, top));
    }
    for (size_t i = n; i-- > 0;) {
      double bot = 0;
      for (int k = 0; k < l; k++) bot += layers[k].y[i];
      fprintf(f, " %.1f,%.1f", X(&fr, layers[l].x[i]), Y(&fr, bot));
    }
    fprintf(f, "Z\"><title>%s</title></path>\n", layer_name[l]);
  }
  if (clair && clair->n) {
    fprintf(f, "<path fill=\"none\" stroke=\"" CLAIR_COLOR "\" stroke-width=\"1.4\" "
               "stroke-dasharray=\"5 3\" d=\"");
    put_path(f, &fr, clair);
    fprintf(f, "\"><title>clairvoyant</title></path>\n");
  }
  fprintf(f, "</svg>\n");
}

// ---- the data behind the charts --------------------------------------------------------------

typedef struct {
  ser_t gpus, cost;
  ser_t *queue, *ttft, *miss; // per model
  ser_t *layers;              // per variant: 3 (ready, starting, pending)
} runser_t;

typedef struct {
  int nm, nv, nruns;
  ser_t *arr; // per model
  runser_t *run;
  int clair;
  ser_t cgpus, ccost, *crep; // clairvoyant: GPUs, cumulative cost, replicas per variant
  double x1;
} data_t;

static void data_free(data_t *d) {
  for (int m = 0; d->arr && m < d->nm; m++) ser_free(&d->arr[m]);
  free(d->arr);
  for (int r = 0; d->run && r < d->nruns; r++) {
    runser_t *R = &d->run[r];
    ser_free(&R->gpus), ser_free(&R->cost);
    for (int m = 0; m < d->nm; m++) {
      if (R->queue) ser_free(&R->queue[m]);
      if (R->ttft) ser_free(&R->ttft[m]);
      if (R->miss) ser_free(&R->miss[m]);
    }
    for (int v = 0; R->layers && v < 3 * d->nv; v++) ser_free(&R->layers[v]);
    free(R->queue), free(R->ttft), free(R->miss), free(R->layers);
  }
  free(d->run);
  ser_free(&d->cgpus), ser_free(&d->ccost);
  for (int v = 0; d->crep && v < d->nv; v++) ser_free(&d->crep[v]);
  free(d->crep);
  memset(d, 0, sizeof *d);
}

static void column(double *dst, const double *src, size_t stride, size_t off, size_t n,
                   double scale) {
  for (size_t i = 0; i < n; i++) dst[i] = src[i * stride + off] * scale;
}

static void column_int(double *dst, const int *src, size_t stride, size_t off, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = src[i * stride + off];
}

static int run_series(data_t *d, sl_sim_t *s, const sl_sim_result_t *res, runser_t *R, size_t maxp,
                      double *a, double *b, int first) {
  const sl_record_t *rec = &res->rec;
  const sl_cluster_t *cl = s->o.cluster;
  size_t n = rec->nbins, nm = (size_t)d->nm, nv = (size_t)d->nv;
  double w = rec->bin_s, end = s->end > 0 ? s->end : (double)n * w;
  R->queue = calloc(nm ? nm : 1, sizeof(ser_t));
  R->ttft = calloc(nm ? nm : 1, sizeof(ser_t));
  R->miss = calloc(nm ? nm : 1, sizeof(ser_t));
  R->layers = calloc(3 * (nv ? nv : 1), sizeof(ser_t));
  if (!R->queue || !R->ttft || !R->miss || !R->layers) return SL_ENOMEM;
#define TRY(x)                                                                                     \
  do {                                                                                             \
    if ((x) < 0) return SL_ENOMEM;                                                                 \
  } while (0)
  for (size_t m = 0; m < nm; m++) {
    if (first) {
      column(a, rec->arrivals, nm, m, n, 1);
      TRY(thin(&d->arr[m], a, NULL, n, w, end, maxp, AG_RATE, 0, NAN));
    }
    column(a, rec->queue_max, nm, m, n, 1);
    TRY(thin(&R->queue[m], a, NULL, n, w, end, maxp, AG_MAX, 0, NAN));
    column(a, rec->ttft_p99, nm, m, n, 1e3);
    TRY(thin(&R->ttft[m], a, NULL, n, w, end, maxp, AG_MAX, 0, NAN));
    for (size_t i = 0; i < n; i++) {
      a[i] = (rec->ended[i * nm + m] - rec->met[i * nm + m]) * 100;
      b[i] = rec->ended[i * nm + m];
    }
    TRY(thin(&R->miss[m], a, b, n, w, end, maxp, AG_RATIO, 0, NAN));
  }
  double warm_gpus = 0;
  for (size_t v = 0; v < nv; v++) {
    int warm = s->warm ? s->warm[v] : 0;
    warm_gpus += warm * cl->cfg.variants[v].gpus_per_replica;
    column_int(a, rec->ready, nv, v, n);
    TRY(thin(&R->layers[3 * v], a, NULL, n, w, end, maxp, AG_MEAN, 1, warm));
    column_int(a, rec->starting, nv, v, n);
    TRY(thin(&R->layers[3 * v + 1], a, NULL, n, w, end, maxp, AG_MEAN, 1, 0));
    column_int(a, rec->pending, nv, v, n);
    TRY(thin(&R->layers[3 * v + 2], a, NULL, n, w, end, maxp, AG_MEAN, 1, 0));
  }
  TRY(thin(&R->gpus, rec->gpus, NULL, n, w, end, maxp, AG_MEAN, 1, warm_gpus));
  TRY(thin(&R->cost, rec->cost, NULL, n, w, end, maxp, AG_LAST, 1, 0));
#undef TRY
  return SL_OK;
}

// The clairvoyant per bin and variant, from the same placement sl_clair_run sums up.
static int clair_series(data_t *d, sl_sim_t *s, size_t maxp, sl_err_t *err) {
  const sl_clair_bins_t *bins = &s->bins;
  const sl_config_t *cfg = &s->o.cluster->cfg;
  size_t nb = bins->bin_s > 0 ? (size_t)ceil(bins->end / bins->bin_s - 1e-9) : 0;
  if (nb > bins->n) nb = bins->n;
  size_t nv = (size_t)d->nv, nm = (size_t)d->nm;
  int rc = SL_OK;
  double *rep = calloc(nb * nv + 1, sizeof *rep), *gpus = calloc(nb + 1, sizeof *gpus),
         *cost = calloc(nb + 1, sizeof *cost), *col = calloc(nb + 1, sizeof *col);
  sl_clair_mix_t *mix = calloc(nm + 1, sizeof *mix);
  int *r = calloc(nv + 1, sizeof *r);
  d->crep = calloc(nv + 1, sizeof(ser_t));
  if (!rep || !gpus || !cost || !col || !mix || !r || !d->crep) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  double cum = 0;
  for (size_t i = 0; i < nb; i++) {
    for (size_t m = 0; m < nm; m++) sl_clair_bin_mix(bins, i, (int)m, &mix[m]);
    if ((rc = sl_clair_place(&s->clair, mix, r, err)) < 0) goto done;
    rc = SL_OK;
    double hours = sl_clair_bins_len(bins, i) / 3600.0;
    for (size_t v = 0; v < nv; v++) {
      rep[i * nv + v] = r[v];
      gpus[i] += r[v] * cfg->variants[v].gpus_per_replica;
      cum += r[v] * cfg->variants[v].cost * hours;
    }
    cost[i] = cum;
  }
  double w = bins->bin_s, end = bins->end;
  if (thin(&d->cgpus, gpus, NULL, nb, w, end, maxp, AG_MEAN, 0, NAN) < 0 ||
      thin(&d->ccost, cost, NULL, nb, w, end, maxp, AG_LAST, 1, 0) < 0) {
    rc = sl_err(err, SL_ENOMEM, "out of memory");
    goto done;
  }
  for (size_t v = 0; v < nv; v++) {
    column(col, rep, nv, v, nb, 1);
    if (thin(&d->crep[v], col, NULL, nb, w, end, maxp, AG_MEAN, 0, NAN) < 0) {
      rc = sl_err(err, SL_ENOMEM, "out of memory");
      goto done;
    }
  }
  d->clair = nb > 0;
done:
  free(rep), free(gpus), free(cost), free(col), free(mix), free(r);
  return rc;
}

static int build(data_t *d, sl_sim_t *s, const sl_sim_result_t *runs, int nruns, size_t maxp,
                 sl_err_t *err) {
  memset(d, 0, sizeof *d);
  const sl_cluster_t *cl = s->o.cluster;
  d->nm = cl->nmodels;
  d->nv = cl->cfg.nvariants;
  d->arr = calloc((size_t)d->nm + 1, sizeof(ser_t));
  d->run = calloc((size_t)nruns + 1, sizeof(runser_t));
  if (!d->arr || !d->run) return sl_err(err, SL_ENOMEM, "out of memory");
  d->nruns = nruns;
  size_t most = 1;
  for (int r = 0; r < nruns; r++) {
    if (runs[r].rec.nbins > most) most = runs[r].rec.nbins;
    double e = (double)runs[r].rec.nbins * runs[r].rec.bin_s;
    if (e > d->x1) d->x1 = e;
  }
  if (s->end > 0) d->x1 = s->end;
  double *a = malloc(sizeof(double) * most), *b = malloc(sizeof(double) * most);
  int rc = SL_OK;
  if (!a || !b) rc = sl_err(err, SL_ENOMEM, "out of memory");
  for (int r = 0; r < nruns && rc == 0; r++)
    if (run_series(d, s, &runs[r], &d->run[r], maxp, a, b, r == 0) < 0)
      rc = sl_err(err, SL_ENOMEM, "out of memory");
  free(a), free(b);
  if (rc == 0 && s->have_bins) rc = clair_series(d, s, maxp, err);
  if (!(d->x1 > 0)) d->x1 = 60;
  return rc;
}

// ---- the page --------------------------------------------------------------------------------

static const char *const palette[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                      "#e69f00", "#56b4e9", "#7a5195", "#8c6d31"};
#define NPAL (sizeof palette / sizeof *palette)

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;"
    "max-width:1180px;margin:0 auto;padding:16px 20px 40px;background:#fafafa}"
    "h1{font-size:22px;margin:4px 0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid "
    "#ddd;padding-bottom:3px}h3{font-size:15px;margin:18px 0 6px}"
    ".lead{color:#555;margin:2px 0 10px}"
    "table{border-collapse:collapse;background:#fff;font-variant-numeric:tabular-nums}"
    "th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;white-space:nowrap}"
    ".wide{overflow-x:auto;max-width:100%}td.w{white-space:normal;min-width:18em}"
    "th{background:#f0f0f0;white-space:normal}td.l,th.l{text-align:left}"
    "tr.clair td{background:#f4f4f4;"
    "font-style:italic}.sw{display:inline-block;width:10px;height:10px;margin-right:6px;"
    "border-radius:2px}.chart{display:block;width:100%;height:auto;margin:6px 0;"
    "border:1px solid #e3e3e3}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:0 12px}"
    ".chart text{font-family:system-ui,sans-serif;fill:#333}.chart .t{font-size:13px;"
    "font-weight:600}.chart .k{font-size:11px}.chart .ya{font-size:10px;text-anchor:end}"
    ".chart .xa{font-size:10px;text-anchor:middle}.chart .g{stroke:#e8e8e8;stroke-width:1}"
    ".chart .frame{fill:none;stroke:#bbb}code{background:#eee;padding:1px 4px;border-radius:3px;"
    "word-break:break-all}ul{margin:4px 0 4px 18px;padding:0}dl{display:grid;"
    "grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}dt{color:#666}dd{margin:0}";

static void cellf(FILE *f, double x, const char *fmt) {
  fputs("<td>", f);
  if (isfinite(x))
    fprintf(f, fmt, x);
  else
    fputs("-", f);
  fputs("</td>", f);
}

static void summary(FILE *f, const sl_sim_t *s, const sl_sim_result_t *runs, int nruns,
                    const sl_clair_result_t *c) {
  fputs("<h2 id=\"summary\">Summary</h2>\n<div class=\"wide\"><table>\n"
        "<tr><th class=\"l\">policy</th>"
        "<th>requests</th><th>completed</th><th>dropped</th><th>TTFT p50 (ms)</th>"
        "<th>p90 (ms)</th><th>p99 (ms)</th><th>ITL p50 (ms)</th><th>p99 (ms)</th><th>SLO</th>"
        "<th>GPU-h</th><th>cost</th><th>scales</th><th>reaction (s)</th></tr>\n",
        f);
  for (int i = 0; i < nruns; i++) {
    const sl_sim_result_t *r = &runs[i];
    fprintf(f, "<tr><td class=\"l\"><span class=\"sw\" style=\"background:%s\"></span>",
            palette[(size_t)i % NPAL]);
    esc(f, r->policy);
    fprintf(f, "</td><td>%llu</td><td>%llu</td><td>%llu</td>", (unsigned long long)r->requests,
            (unsigned long long)r->completed, (unsigned long long)r->dropped);
    cellf(f, r->ttft_p50_ms, "%.0f");
    cellf(f, r->ttft_p90_ms, "%.0f");
    cellf(f, r->ttft_p99_ms, "%.0f");
    cellf(f, r->itl_p50_ms, "%.1f");
    cellf(f, r->itl_p99_ms, "%.1f");
    cellf(f, r->slo_attainment * 100, "%.2f%%");
    cellf(f, r->gpu_hours, "%.1f");
    cellf(f, r->cost, "%.2f");
    fprintf(f, "<td>%llu</td>", (unsigned long long)r->scale_events);
    cellf(f, r->reaction_s, "%.0f");
    fputs("</tr>\n", f);
  }
  if (c) {
    fputs("<tr class=\"clair\"><td class=\"l\"><span class=\"sw\" style=\"background:" CLAIR_COLOR
          "\"></span>clairvoyant</td>",
          f);
    for (int i = 0; i < 9; i++) fputs("<td>-</td>", f);
    cellf(f, c->gpu_hours, "%.1f");
    cellf(f, c->cost, "%.2f");
    fputs("<td>-</td><td>-</td></tr>\n", f);
  }
  fputs("</table></div>\n", f);
  if (c)
    fprintf(f,
            "<p class=\"lead\">clairvoyant: the fewest replicas per %.0f s bin that meet the "
            "SLO at that bin's load, placed as cheaply as the inventory allows, with zero "
            "start-up; peak %d replica%s%s. It is a reference, not a bound: a run that misses "
            "the SLO can spend less.</p>\n",
            s->o.bin_s, c->peak_replicas, c->peak_replicas == 1 ? "" : "s",
            c->short_bins ? " (the inventory could not cover some bins)" : "");
}

// The strictest TTFT target among a model's variants, NaN when none has an SLO class.
static double model_ttft_slo(const sl_cluster_t *cl, int m) {
  double best = NAN;
  for (int v = 0; v < cl->cfg.nvariants; v++) {
    const sl_slo_class_t *slo = cl->cfg.variants[v].slo;
    if (cl->vx[v].model == m && slo && !(slo->ttft_ms >= best)) best = slo->ttft_ms;
  }
  return best;
}

static void chart_title(char *b, size_t n, const char *what, const sl_cluster_t *cl, int m) {
  if (cl->nmodels > 1)
    snprintf(b, n, "%s · %s", what, cl->models[m].name);
  else
    snprintf(b, n, "%s", what);
}

static void charts(FILE *f, const sl_sim_t *s, const sl_sim_result_t *runs, int nruns,
                   const data_t *d) {
  const sl_cluster_t *cl = s->o.cluster;
  const double W = 1100, H = 250;
  line_t lines[40] = {{0}};
  char title[256], ref[64];
  int nl;
  size_t span = 1;
  for (int r = 0; r < nruns; r++)
    if (runs[r].rec.nbins && d->run[r].gpus.n > 1) {
      size_t k = (runs[r].rec.nbins + d->run[r].gpus.n - 2) / (d->run[r].gpus.n - 1);
      if (k > span) span = k;
    }
  double bin = nruns ? runs[0].rec.bin_s : 60;

  fputs("<h2 id=\"charts\">Over time</h2>\n<ul class=\"lead\">", f);
  fprintf(f,
          "<li>Every chart shares one time axis: simulated time from the start of the replay. "
          "Each point covers %.0f s of simulated time",
          bin * (double)span);
  if (span > 1) {
    fprintf(f,
            " (%zu recorded bins of %.0f s merged to keep the file small: rates and replicas "
            "are averaged over the span, queue and TTFT p99 show the span's highest bin)",
            span, bin);
  }
  fputs(".</li>\n<li>Policies are coloured as in the summary table; the dashed black line is the "
        "clairvoyant reference; the dashed red line is the SLO's TTFT target.</li>\n"
        "<li>TTFT p99 is per bin, over the requests whose first token came in it, on a log "
        "scale; SLO misses are the share of requests ending in the bin (finished, dropped or cut) "
        "that missed their SLO.</li>\n<li>Replicas: <b>ready</b> serve traffic, <b>starting</b> "
        "hold an accelerator while the model server starts, <b>pending</b> wait for a free "
        "accelerator.</li></ul>\n",
        f);

  // Arrivals: the trace, the same in every run.
  nl = 0;
  for (int m = 0; m < d->nm && nl < 40; m++)
    lines[nl++] = (line_t){&d->arr[m], palette[(size_t)m % NPAL], cl->models[m].name, 0};
  line_chart(f, W, H, d->x1, "Arrival rate (req/s) — the same trace in every run", FMT_NUM, 0, 0,
             lines, nl, NAN, NULL);

  nl = 0;
  for (int r = 0; r < nruns && nl < 39; r++)
    lines[nl++] = (line_t){&d->run[r].gpus, palette[(size_t)r % NPAL], runs[r].policy, 0};
  if (d->clair) lines[nl++] = (line_t){&d->cgpus, CLAIR_COLOR, "clairvoyant", 1};
  line_chart(f, W, H, d->x1, "GPUs held (ready, starting or draining)", FMT_NUM, 0, 1, lines, nl,
             NAN, NULL);

  for (int m = 0; m < d->nm; m++) {
    nl = 0;
    for (int r = 0; r < nruns && nl < 40; r++)
      lines[nl++] = (line_t){&d->run[r].queue[m], palette[(size_t)r % NPAL], runs[r].policy, 0};
    chart_title(title, sizeof title, "Gateway queue (most requests waiting)", cl, m);
    line_chart(f, W, H, d->x1, title, FMT_NUM, 0, 1, lines, nl, NAN, NULL);
  }
  for (int m = 0; m < d->nm; m++) {
    nl = 0;
    for (int r = 0; r < nruns && nl < 40; r++)
      lines[nl++] = (line_t){&d->run[r].ttft[m], palette[(size_t)r % NPAL], runs[r].policy, 0};
    double slo = model_ttft_slo(cl, m);
    snprintf(ref, sizeof ref, "SLO TTFT %g ms", slo);
    chart_title(title, sizeof title, "TTFT p99 against the SLO", cl, m);
    line_chart(f, W, H, d->x1, title, FMT_MS, 1, 0, lines, nl, slo, ref);
  }
  for (int m = 0; m < d->nm; m++) {
    nl = 0;
    for (int r = 0; r < nruns && nl < 40; r++)
      lines[nl++] = (line_t){&d->run[r].miss[m], palette[(size_t)r % NPAL], runs[r].policy, 0};
    chart_title(title, sizeof title, "SLO misses (% of requests ending in the bin)", cl, m);
    line_chart(f, W, H, d->x1, title, FMT_PCT, 0, 0, lines, nl, NAN, NULL);
  }
  nl = 0;
  for (int r = 0; r < nruns && nl < 39; r++)
    lines[nl++] = (line_t){&d->run[r].cost, palette[(size_t)r % NPAL], runs[r].policy, 0};
  if (d->clair) lines[nl++] = (line_t){&d->ccost, CLAIR_COLOR, "clairvoyant", 1};
  line_chart(f, W, H, d->x1, "Cumulative cost", FMT_NUM, 0, 0, lines, nl, NAN, NULL);

  fputs("<h2 id=\"replicas\">Replicas per variant</h2>\n", f);
  for (int r = 0; r < nruns; r++) {
    fprintf(f, "<h3><span class=\"sw\" style=\"background:%s\"></span>", palette[(size_t)r % NPAL]);
    esc(f, runs[r].policy);
    fputs("</h3>\n<div class=\"grid\">\n", f);
    for (int v = 0; v < d->nv; v++) {
      snprintf(title, sizeof title, "%s (%s)", cl->cfg.variants[v].id,
               cl->cfg.variants[v].accelerator);
      stack_chart(f, 540, 210, d->x1, title, &d->run[r].layers[3 * v],
                  d->clair ? &d->crep[v] : NULL);
    }
    fputs("</div>\n", f);
  }
}

static void scenario(FILE *f, const sl_sim_t *s, const sl_sim_result_t *runs, int nruns,
                     const sl_report_opts_t *o) {
  const sl_cluster_t *cl = s->o.cluster;
  const sl_config_t *cfg = &cl->cfg;
  char b[128];
  fputs("<h2 id=\"scenario\">Scenario</h2>\n<dl>\n", f);
  if (o && o->argc > 0) {
    fputs("<dt>command</dt><dd><code>sluice sim", f);
    for (int i = 0; i < o->argc; i++) {
      fputc(' ', f);
      put_arg(f, o->argv[i]);
    }
    fputs("</code></dd>\n", f);
  }
  for (int m = 0; m < cl->nmodels; m++) {
    const char *t = cl->models[m].trace ? cl->models[m].trace : s->o.trace;
    fputs("<dt>trace</dt><dd>", f);
    if (cl->nmodels > 1) {
      esc(f, cl->models[m].name);
      fputs(": ", f);
    }
    fputs("<code>", f);
    esc(f, t ? t : "-");
    fputs("</code></dd>\n", f);
  }
  fputs("<dt>token lengths</dt><dd>", f);
  esc(f, s->o.tokens ? s->o.tokens : "azure (for traces without their own)");
  fputs("</dd>\n<dt>cluster</dt><dd><code>", f);
  esc(f, o && o->cluster ? o->cluster : "-");
  fputs("</code></dd>\n", f);
  fprintf(f, "<dt>seed</dt><dd>%llu</dd>\n", (unsigned long long)s->o.seed);
  fmt_dur(b, sizeof b, s->end);
  fprintf(f, "<dt>simulated</dt><dd>%s</dd>\n", b);
  fprintf(f, "<dt>rate scale</dt><dd>%.4g", s->rate_scale);
  if (s->o.peak_replicas > 0)
    fprintf(f, " (chosen so the clairvoyant peak is %g replicas)", s->o.peak_replicas);
  fprintf(f, "</dd>\n<dt>time scale</dt><dd>%g</dd>\n", s->o.time_scale);
  if (nruns) fprintf(f, "<dt>recorded bins</dt><dd>%.0f s</dd>\n", runs[0].rec.bin_s);
  fprintf(f, "<dt>cold start</dt><dd>median %.0f s, p95 %.0f s</dd>\n", cl->cold_median,
          cl->cold_p95);
  fprintf(f, "<dt>gateway</dt><dd>drop after %.0f s in the queue; drain grace %.0f s</dd>\n",
          cl->drop_timeout, cl->drain_grace);
  fputs("</dl>\n", f);

  fputs("<h3>Variants</h3>\n<div class=\"wide\"><table><tr><th class=\"l\">variant</th>"
        "<th class=\"l\">model</th>"
        "<th class=\"l\">accelerator</th><th>GPUs/replica</th><th>cost/h</th><th>min</th>"
        "<th>max</th><th class=\"l\">SLO class</th><th>TTFT (ms)</th><th>ITL (ms)</th>"
        "<th class=\"l\">step profile</th></tr>\n",
        f);
  for (int v = 0; v < cfg->nvariants; v++) {
    const sl_variant_t *x = &cfg->variants[v];
    fputs("<tr><td class=\"l\">", f);
    esc(f, x->id);
    fputs("</td><td class=\"l\">", f);
    esc(f, x->model);
    fputs("</td><td class=\"l\">", f);
    esc(f, x->accelerator);
    fprintf(f, "</td><td>%d</td><td>%.2f</td><td>%d</td><td>%d</td><td class=\"l\">",
            x->gpus_per_replica, x->cost, x->min, x->max);
    esc(f, x->slo_class ? x->slo_class : "-");
    fputs("</td>", f);
    cellf(f, x->slo ? x->slo->ttft_ms : NAN, "%g");
    cellf(f, x->slo ? x->slo->itl_ms : NAN, "%g");
    fputs("<td class=\"l w\">", f);
    esc(f, cl->vx[v].profile);
    fputs("</td></tr>\n", f);
  }
  fputs("</table></div>\n", f);
  if (cfg->naccels) {
    fputs("<h3>Accelerators</h3>\n<table><tr><th class=\"l\">type</th><th>count</th>"
          "<th>cost per GPU-hour</th></tr>\n",
          f);
    for (int a = 0; a < cfg->naccels; a++) {
      fputs("<tr><td class=\"l\">", f);
      esc(f, cfg->accels[a].type);
      if (cfg->accels[a].count > 0)
        fprintf(f, "</td><td>%d</td>", cfg->accels[a].count);
      else
        fputs("</td><td>unlimited</td>", f);
      fprintf(f, "<td>%.2f</td></tr>\n", cfg->accels[a].cost);
    }
    fputs("</table>\n", f);
  }
  if (nruns) {
    fputs("<h3>Policies</h3>\n<table><tr><th class=\"l\">policy</th><th>decides every (s)</th>"
          "<th>scrape (s)</th><th>lag (s)</th><th>window (s)</th><th>pods created</th></tr>\n",
          f);
    for (int r = 0; r < nruns; r++) {
      fputs("<tr><td class=\"l\">", f);
      esc(f, runs[r].policy);
      fputs("</td>", f);
      cellf(f, runs[r].period, "%g");
      cellf(f, runs[r].scrape_interval, "%g");
      cellf(f, runs[r].lag, "%g");
      cellf(f, runs[r].window, "%g");
      fprintf(f, "<td>%llu</td></tr>\n", (unsigned long long)runs[r].pods_created);
    }
    fputs("</table>\n", f);
  }
}

static void page(FILE *f, const sl_sim_t *s, const sl_sim_result_t *runs, int nruns,
                 const sl_clair_result_t *c, const data_t *d, const sl_report_opts_t *o) {
  const sl_cluster_t *cl = s->o.cluster;
  char b[128];
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
        "<title>sluice sim report</title>\n<style>",
        f);
  fputs(css, f);
  fputs("</style>\n</head>\n<body>\n<h1>sluice sim report</h1>\n<p class=\"lead\">", f);
  fmt_dur(b, sizeof b, s->end);
  fprintf(f, "%d model%s, %d variant%s; %s simulated; rate scale %.4g; seed %llu; ", cl->nmodels,
          cl->nmodels == 1 ? "" : "s", cl->cfg.nvariants, cl->cfg.nvariants == 1 ? "" : "s", b,
          s->rate_scale, (unsigned long long)s->o.seed);
  fprintf(f, "%d polic%s: ", nruns, nruns == 1 ? "y" : "ies");
  for (int r = 0; r < nruns; r++) {
    if (r) fputs(", ", f);
    esc(f, runs[r].policy);
  }
  fputs(". <a href=\"#charts\">charts</a> · <a href=\"#replicas\">replicas</a> · "
        "<a href=\"#scenario\">scenario</a></p>\n",
        f);
  summary(f, s, runs, nruns, c);
  charts(f, s, runs, nruns, d);
  scenario(f, s, runs, nruns, o);
  fputs("</body>\n</html>\n", f);
}

// ---- files -----------------------------------------------------------------------------------

static int open_temp(const char *path, char **tmp, FILE **f, sl_err_t *err) {
  struct stat st;
  *tmp = NULL;
  *f = NULL;
  if (!path || !*path) return sl_err(err, SL_EINVAL, "no file name given");
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
    return sl_err(err, SL_EIO, "cannot write %s: it is a directory", path);
  size_t n = strlen(path);
  char *t = malloc(n + 8);
  if (!t) return sl_err(err, SL_ENOMEM, "out of memory");
  memcpy(t, path, n);
  memcpy(t + n, ".XXXXXX", 8);
  int fd = mkstemp(t);
  if (fd < 0) {
    int e = errno;
    free(t);
    return sl_err(err, SL_EIO, "cannot write %s: %s", path, strerror(e));
  }
  // mkstemp makes the file private; a report is for sharing.
  mode_t um = umask(0);
  umask(um);
  fchmod(fd, 0666 & ~um);
  FILE *fp = fdopen(fd, "w");
  if (!fp) {
    int e = errno;
    close(fd);
    unlink(t);
    free(t);
    return sl_err(err, SL_EIO, "cannot write %s: %s", path, strerror(e));
  }
  *tmp = t;
  *f = fp;
  return SL_OK;
}

int sl_report_check(const char *path, sl_err_t *err) {
  char *tmp;
  FILE *f;
  int rc = open_temp(path, &tmp, &f, err);
  if (rc < 0) return rc;
  fclose(f);
  unlink(tmp);
  free(tmp);
  return SL_OK;
}

int sl_report_write(const char *path, sl_sim_t *s, const sl_sim_result_t *runs, int nruns,
                    const sl_clair_result_t *c, const sl_report_opts_t *o, sl_err_t *err) {
  size_t maxp = o && o->max_points ? o->max_points : SL_REPORT_MAX_POINTS;
  data_t d;
  char *tmp = NULL;
  FILE *f = NULL;
  int rc = build(&d, s, runs, nruns, maxp, err);
  if (rc < 0) goto done;
  if ((rc = open_temp(path, &tmp, &f, err)) < 0) goto done;
  page(f, s, runs, nruns, c, &d, o);
  int bad = ferror(f) != 0 || fflush(f) != 0, e = errno;
  if (!bad && fsync(fileno(f)) != 0) bad = 1, e = errno;
  if (fclose(f) != 0 && !bad) bad = 1, e = errno;
  f = NULL;
  if (!bad && rename(tmp, path) != 0) bad = 1, e = errno;
  if (bad) rc = sl_err(err, SL_EIO, "cannot write %s: %s", path, strerror(e));
done:
  if (f) fclose(f);
  if (tmp && rc < 0) unlink(tmp);
  free(tmp);
  data_free(&d);
  return rc;
}
