/* A plain SVG line chart: fixed layout, "nice" tick steps (1, 2 or 5 times a
 * power of ten) so tick labels read as round numbers. */
#include "engine/track/svg_plot.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/fs/atomic_file.h"
#include "kernels/core/error.h"

enum { W = 880, H = 500, LEFT = 90, RIGHT = 230, TOP = 50, BOTTOM = 64 };

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static void put_text(FILE *f, const char *s) {
  for (; *s; ++s) {
    switch (*s) {
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
      fputs("&apos;", f);
      break;
    default:
      /* control characters are not allowed in XML 1.0 text */
      if ((unsigned char)*s >= 0x20 || *s == '\t') fputc(*s, f);
    }
  }
}

typedef struct axis {
  double lo, hi, step;
} axis;

static axis make_axis(double min, double max) {
  if (!(max > min)) {
    double pad = fabs(min) * 0.1;
    if (pad == 0) pad = 1;
    min -= pad;
    max += pad;
  }
  double raw = (max - min) / 5;
  double mag = pow(10, floor(log10(raw)));
  double f = raw / mag;
  double step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
  axis a = {floor(min / step) * step, ceil(max / step) * step, step};
  return a;
}

static double px(const axis *a, double v) {
  return LEFT + (v - a->lo) / (a->hi - a->lo) * (W - LEFT - RIGHT);
}

static double py(const axis *a, double v) {
  return TOP + (a->hi - v) / (a->hi - a->lo) * (H - TOP - BOTTOM);
}

static int finite_point(const kz_plot_series *s, int i) {
  return isfinite(s->x[i]) && isfinite(s->y[i]);
}

/* The polyline of one series, decimated to the plot's pixel columns: a
 * million-row metrics.csv would otherwise give a file of tens of MB that
 * draws no more than W - LEFT - RIGHT columns. Each column keeps its first,
 * lowest, highest and last point, in their order, so the line enters and
 * leaves a column where it did and a one-step spike stays visible. Rows come
 * in step order; a series that goes back in x just starts new columns. */
static void put_point(FILE *f, const axis *ax, const axis *ay, const kz_plot_series *s, int i) {
  fprintf(f, "%.2f,%.2f ", px(ax, s->x[i]), py(ay, s->y[i]));
}

static void flush_column(FILE *f, const axis *ax, const axis *ay, const kz_plot_series *s,
                         const int keep[4]) {
  int sorted[4], n = 0;
  for (int k = 0; k < 4; ++k) {
    int i = keep[k], at = n;
    if (i < 0) continue;
    int dup = 0;
    for (int j = 0; j < n; ++j) dup |= sorted[j] == i;
    if (dup) continue;
    while (at > 0 && sorted[at - 1] > i) {
      sorted[at] = sorted[at - 1];
      --at;
    }
    sorted[at] = i;
    ++n;
  }
  for (int j = 0; j < n; ++j) put_point(f, ax, ay, s, sorted[j]);
}

static void write_polyline_points(FILE *f, const axis *ax, const axis *ay,
                                  const kz_plot_series *s) {
  long col = LONG_MIN;
  int keep[4] = {-1, -1, -1, -1}; /* first, lowest, highest, last of the column */
  for (int i = 0; i < s->n; ++i) {
    if (!finite_point(s, i)) continue;
    long c = (long)floor(px(ax, s->x[i]));
    if (c != col) {
      if (keep[0] >= 0) flush_column(f, ax, ay, s, keep);
      col = c;
      keep[0] = keep[1] = keep[2] = keep[3] = i;
      continue;
    }
    if (s->y[i] < s->y[keep[1]]) keep[1] = i;
    if (s->y[i] > s->y[keep[2]]) keep[2] = i;
    keep[3] = i;
  }
  if (keep[0] >= 0) flush_column(f, ax, ay, s, keep);
}

static int band_point(const kz_plot_series *s, int i) {
  return isfinite(s->x[i]) && isfinite(s->lo[i]) && isfinite(s->hi[i]);
}

/* The band as one closed path: along hi forwards, back along lo. Bands are
 * forecast horizons (tens of points), so no decimation. */
static void write_band(FILE *f, const axis *ax, const axis *ay, const kz_plot_series *s,
                       int index) {
  int first = 1;
  for (int i = 0; i < s->n; ++i)
    if (band_point(s, i)) {
      if (first)
        fprintf(f, "<path class=\"band\" fill=\"%s\" fill-opacity=\"0.25\" stroke=\"none\" d=\"",
                palette[index % (int)(sizeof palette / sizeof palette[0])]);
      fprintf(f, "%s%.2f,%.2f ", first ? "M" : "L", px(ax, s->x[i]), py(ay, s->hi[i]));
      first = 0;
    }
  if (first) return;
  for (int i = s->n - 1; i >= 0; --i)
    if (band_point(s, i)) fprintf(f, "L%.2f,%.2f ", px(ax, s->x[i]), py(ay, s->lo[i]));
  fputs("Z\"/>\n", f);
}

static void write_chart(FILE *f, const char *title, const char *x_label, const char *y_label,
                        const kz_plot_series *series, int n_series, const axis *ax,
                        const axis *ay) {
  fprintf(f,
          "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
          "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
          W, H, W, H);
  fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
  fprintf(f, "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">",
          (W - RIGHT + LEFT) / 2);
  put_text(f, title);
  fputs("</text>\n", f);
  /* grid, ticks and tick labels */
  int nx = (int)llround((ax->hi - ax->lo) / ax->step),
      ny = (int)llround((ay->hi - ay->lo) / ay->step);
  fputs("<g stroke=\"#dddddd\" stroke-width=\"1\">\n", f);
  for (int i = 0; i <= nx; ++i) {
    double x = px(ax, ax->lo + i * ax->step);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n", x, TOP, x, H - BOTTOM);
  }
  for (int i = 0; i <= ny; ++i) {
    double y = py(ay, ay->lo + i * ay->step);
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>\n", LEFT, y, W - RIGHT, y);
  }
  fputs("</g>\n<g fill=\"#333333\">\n", f);
  for (int i = 0; i <= nx; ++i) {
    double v = ax->lo + i * ax->step;
    if (fabs(v) < ax->step * 1e-9) v = 0;
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n", px(ax, v),
            H - BOTTOM + 18, v);
  }
  for (int i = 0; i <= ny; ++i) {
    double v = ay->lo + i * ay->step;
    if (fabs(v) < ay->step * 1e-9) v = 0;
    fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", LEFT - 8, py(ay, v) + 4,
            v);
  }
  fputs("</g>\n", f);
  /* axes and their labels */
  fprintf(f,
          "<g stroke=\"black\" stroke-width=\"1\">\n"
          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n"
          "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n</g>\n",
          LEFT, H - BOTTOM, W - RIGHT, H - BOTTOM, LEFT, TOP, LEFT, H - BOTTOM);
  fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (W - RIGHT + LEFT) / 2, H - 18);
  put_text(f, x_label);
  fprintf(f,
          "</text>\n<text x=\"20\" y=\"%d\" text-anchor=\"middle\" "
          "transform=\"rotate(-90 20 %d)\">",
          (H - BOTTOM + TOP) / 2, (H - BOTTOM + TOP) / 2);
  put_text(f, y_label);
  fputs("</text>\n", f);
  /* bands first, so every line stays on top of them */
  for (int s = 0; s < n_series; ++s)
    if (series[s].lo && series[s].hi) write_band(f, ax, ay, &series[s], s);
  /* one polyline per series that has points, plus its legend entry */
  for (int s = 0; s < n_series; ++s) {
    const char *color = palette[s % (int)(sizeof palette / sizeof palette[0])];
    int points = 0;
    for (int i = 0; i < series[s].n; ++i) points += finite_point(&series[s], i);
    if (points > 0) {
      fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
      write_polyline_points(f, ax, ay, &series[s]);
      fputs("\"/>\n", f);
      if (points == 1) /* a single point draws no line: mark it */
        for (int i = 0; i < series[s].n; ++i)
          if (finite_point(&series[s], i))
            fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                    px(ax, series[s].x[i]), py(ay, series[s].y[i]), color);
    }
    int ly = TOP + 10 + 20 * s;
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"/>\n",
            W - RIGHT + 16, ly, W - RIGHT + 40, ly, color);
    fprintf(f, "<text x=\"%d\" y=\"%d\">", W - RIGHT + 46, ly + 4);
    put_text(f, series[s].label ? series[s].label : "");
    if (points == 0) fputs(" (no data)", f);
    fputs("</text>\n", f);
  }
  fputs("</svg>\n", f);
}

kz_status kz_svg_line_chart(const char *path, const char *title, const char *x_label,
                            const char *y_label, const kz_plot_series *series, int n_series) {
  if (!path || (n_series > 0 && !series))
    return kz_fail(KZ_ERR_INVALID_ARG, "kz_svg_line_chart: NULL argument");
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (int s = 0; s < n_series; ++s)
    for (int i = 0; i < series[s].n; ++i) {
      if (!finite_point(&series[s], i)) continue;
      x0 = fmin(x0, series[s].x[i]);
      x1 = fmax(x1, series[s].x[i]);
      y0 = fmin(y0, series[s].y[i]);
      y1 = fmax(y1, series[s].y[i]);
    }
  for (int s = 0; s < n_series; ++s)
    for (int i = 0; series[s].lo && series[s].hi && i < series[s].n; ++i) {
      if (!band_point(&series[s], i)) continue;
      x0 = fmin(x0, series[s].x[i]);
      x1 = fmax(x1, series[s].x[i]);
      y0 = fmin(y0, fmin(series[s].lo[i], series[s].hi[i]));
      y1 = fmax(y1, fmax(series[s].lo[i], series[s].hi[i]));
    }
  if (!(x0 <= x1))
    return kz_fail(KZ_ERR_INVALID_ARG, "%s: nothing to plot: no finite points", path);
  axis ax = make_axis(x0, x1), ay = make_axis(y0, y1);
  kz_atomic_file out;
  KZ_TRY(kz_atomic_file_open(&out, path));
  write_chart(out.f, title ? title : "", x_label ? x_label : "", y_label ? y_label : "", series,
              n_series, &ax, &ay);
  return kz_atomic_file_finish(&out, KZ_OK);
}
