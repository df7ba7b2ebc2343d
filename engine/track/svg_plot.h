/* A plain SVG line chart (no scripts, no external resources) for
 * `kaizen runs plot` and `kaizen predict --plot`: one polyline per series,
 * optionally a shaded band around it, axes with ticks and labels, a legend
 * and a title. */
#ifndef KZ_ENGINE_TRACK_SVG_PLOT_H
#define KZ_ENGINE_TRACK_SVG_PLOT_H

#include "kaizen.h"

typedef struct kz_plot_series {
  const char *label;
  int n;
  const double *x, *y; /* points with a non-finite x or y are skipped */
  /* nullable: a band from lo to hi drawn under the line (a forecast's
   * interval), as one filled path over the points where x, lo and hi are
   * finite; y may be NaN there (a band with no line) */
  const double *lo, *hi;
} kz_plot_series;

/* Writes path.tmp, then renames it to path. Fails when no series has a
 * finite point. Each polyline is decimated to the plot's pixel columns
 * (first, lowest, highest and last point of each), so the file's size does
 * not grow with the number of points. */
kz_status kz_svg_line_chart(const char *path, const char *title, const char *x_label,
                            const char *y_label, const kz_plot_series *series, int n_series);

#endif
