/* sim/svg.c: line charts as SVG (see svg.h). */
#include "sim/svg.h"

#include <errno.h>
#include <math.h>

#define W 720
#define H 400
#define L 70                           /* plot area margins */
#define R 160
#define T 40
#define B 50

static const char svg_colors[SVG_SERIES_MAX][8] = {
	"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
};

/* a "nice" tick step for a span: 1, 2 or 5 x 10^k, about 5 ticks */
static double svg_step(double span)
{
	double raw = span / 5, p, m;

	if (!(raw > 0))
		return 1;
	p = pow(10, floor(log10(raw)));
	m = raw / p;
	return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void svg_text(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
}

int svg_chart_write(const struct svg_chart *c, FILE *f)
{
	double x0 = INFINITY, x1 = -INFINITY, y0 = 0, y1 = -INFINITY, step;

	for (size_t k = 0; k < c->n_series; k++)
		for (size_t i = 0; i < c->s[k].n; i++) {
			if (isnan(c->s[k].y[i]))
				continue;
			x0 = fmin(x0, c->s[k].x[i]);
			x1 = fmax(x1, c->s[k].x[i]);
			y0 = fmin(y0, c->s[k].y[i]);
			y1 = fmax(y1, c->s[k].y[i]);
		}
	if (!isfinite(x0)) {
		x0 = 0;
		x1 = 1;
	}
	if (x1 <= x0)
		x1 = x0 + 1;
	if (!isfinite(y1) || y1 <= y0)
		y1 = y0 + 1;
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	           "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	           "font-family=\"sans-serif\" font-size=\"12\">\n"
	           "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", W, H);
	fprintf(f, "<text x=\"%d\" y=\"22\" font-size=\"15\">", L);
	svg_text(f, c->title);
	fputs("</text>\n", f);
#define PX(x) (L + ((x) - x0) / (x1 - x0) * (W - L - R))
#define PY(y) (H - B - ((y) - y0) / (y1 - y0) * (H - T - B))
	step = svg_step(x1 - x0);
	for (double v = ceil(x0 / step) * step; v <= x1 + step * 1e-9; v += step)
		fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#ddd\"/>"
		           "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
		        PX(v), T, PX(v), H - B, PX(v), H - B + 16, v);
	step = svg_step(y1 - y0);
	for (double v = ceil(y0 / step) * step; v <= y1 + step * 1e-9; v += step)
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
		           "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
		        L, PY(v), W - R, PY(v), L - 6, PY(v) + 4, v);
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n",
	        L, T, W - L - R, H - T - B);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (L + W - R) / 2, H - 12);
	svg_text(f, c->xlabel);
	fprintf(f, "</text>\n<text transform=\"translate(16,%d) rotate(-90)\" text-anchor=\"middle\">",
	        (T + H - B) / 2);
	svg_text(f, c->ylabel);
	fputs("</text>\n", f);
	for (size_t k = 0; k < c->n_series; k++) {
		int pen = 0;

		fprintf(f, "<path fill=\"none\" stroke-width=\"1.5\" stroke=\"%s\" d=\"", svg_colors[k]);
		for (size_t i = 0; i < c->s[k].n; i++) {
			if (isnan(c->s[k].y[i])) {
				pen = 0;
				continue;
			}
			fprintf(f, "%c%.1f,%.1f ", pen ? 'L' : 'M', PX(c->s[k].x[i]), PY(c->s[k].y[i]));
			pen = 1;
		}
		fputs("\"/>\n", f);
		fprintf(f, "<line x1=\"%d\" y1=\"%zu\" x2=\"%d\" y2=\"%zu\" stroke=\"%s\" stroke-width=\"3\"/>"
		           "<text x=\"%d\" y=\"%zu\">", W - R + 10, T + 10 + k * 18, W - R + 30,
		        T + 10 + k * 18, svg_colors[k], W - R + 35, T + 14 + k * 18);
		svg_text(f, c->s[k].name);
		fputs("</text>\n", f);
	}
#undef PX
#undef PY
	fputs("</svg>\n", f);
	return ferror(f) ? -EIO : 0;
}
