/*
 * sim/svg.h: a tiny line-chart writer (no dependencies): one chart per
 * file, linear axes with ~5 ticks, up to 8 series as polylines, a legend.
 */
#ifndef SHEEPMESH_SIM_SVG_H
#define SHEEPMESH_SIM_SVG_H

#include <stddef.h>
#include <stdio.h>

#define SVG_SERIES_MAX 8

struct svg_series {
	const char   *name;
	const double *x, *y;           /* n points; NaN y values are skipped */
	size_t        n;
};

struct svg_chart {
	const char *title, *xlabel, *ylabel;
	struct svg_series s[SVG_SERIES_MAX];
	size_t n_series;
};

/* Write the chart as a complete SVG document.  0 or -EIO. */
int svg_chart_write(const struct svg_chart *c, FILE *f);

#endif
