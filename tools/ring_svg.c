/*
 * ring_svg.c: `sheeptool ring --svg`: the ring as a picture (ring_view.h).
 * The circle is the 2^64 hash space, 0 at the top, clockwise; each vnode
 * owns the arc that ends at it (keys map to the first vnode at or after
 * them), drawn in its node's colour, runs of one node merged into one arc.
 */
#include "tools/ring_view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct rv_vnode {
	uint64_t pos;
	uint32_t node;
};

static int rv_vnode_cmp(const void *a, const void *b)
{
	const struct rv_vnode *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return x->node < y->node ? -1 : x->node > y->node;   /* node index = id order */
}

/* Distinct colours: hues spread by the golden angle, two lightness bands. */
static void rv_colour(uint32_t i, char *out, size_t cap)
{
	uint64_t h = (uint64_t)i * 137508 % 360000;   /* milli-degrees */

	snprintf(out, cap, "hsl(%.1f,70%%,%d%%)", (double)h / 1000.0, i % 2 ? 40 : 55);
}

/* sin and cos without libm (sheeptool links no -lm): Taylor series after
 * reducing to [-pi, pi]; far more precise than a picture needs. */
#define RV_PI 3.14159265358979323846

static void rv_sincos(double a, double *s, double *c)
{
	double term, x2;

	while (a > RV_PI)
		a -= 2 * RV_PI;
	while (a < -RV_PI)
		a += 2 * RV_PI;
	x2 = a * a;
	*s = 0;
	term = a;
	for (int k = 1; k < 30; k += 2) {
		*s += term;
		term *= -x2 / ((k + 1) * (k + 2));
	}
	*c = 0;
	term = 1;
	for (int k = 0; k < 30; k += 2) {
		*c += term;
		term *= -x2 / ((k + 1) * (k + 2));
	}
}

#define SVG_R     200.0
#define SVG_CX    250.0
#define SVG_CY    260.0
#define SVG_W     40.0

static void rv_point(double frac, double *x, double *y)
{
	double a = frac * 2.0 * RV_PI - RV_PI / 2.0;   /* 0 at the top, clockwise */
	double s, c;

	rv_sincos(a, &s, &c);
	*x = SVG_CX + SVG_R * c;
	*y = SVG_CY + SVG_R * s;
}

/* One arc from position a to b (clockwise, in [0, 1] of the ring). */
static void rv_arc(FILE *f, double a, double b, const char *colour)
{
	double x1, y1, x2, y2;

	if (b - a <= 0)
		return;
	rv_point(a, &x1, &y1);
	rv_point(b, &x2, &y2);
	fprintf(f, "<path d=\"M %.2f %.2f A %.1f %.1f 0 %d 1 %.2f %.2f\" stroke=\"%s\"/>\n", x1, y1,
		SVG_R, SVG_R, b - a > 0.5 ? 1 : 0, x2, y2, colour);
}

int ring_view_svg(const struct ring_view *v, FILE *f)
{
	size_t nv = ring_nr_vnodes(v->ring), nn = ring_nr_nodes(v->ring), k = 0;
	struct rv_vnode *vn = malloc((nv + 1) * sizeof(*vn));
	char colour[40], dg[2 * EPOCH_DIGEST_LEN + 1], id[2 * RV_ID_LEN + 1];
	double height = SVG_CY + SVG_R + 60.0;
	double legend_h = 60.0 + 22.0 * (double)nn;

	if (!vn)
		return -ENOMEM;
	for (uint32_t i = 0; i < nn; i++) {
		const struct ring_member *m = ring_node(v->ring, i);
		uint32_t cnt = (uint32_t)m->weight * v->vnodes_per_unit;

		for (uint32_t j = 0; j < cnt && k < nv; j++) {
			vn[k].pos = ring_vnode_hash(m->id, j);
			vn[k].node = i;
			k++;
		}
	}
	qsort(vn, k, sizeof(*vn), rv_vnode_cmp);
	if (legend_h > height)
		height = legend_h;
	rv_hex(v->digest, EPOCH_DIGEST_LEN, dg);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"%.0f\" "
		"viewBox=\"0 0 900 %.0f\" font-family=\"monospace\" font-size=\"13\">\n"
		"<title>sheepmesh ring, epoch %llu</title>\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		"<text x=\"20\" y=\"24\">ring epoch %llu  digest %s</text>\n"
		"<text x=\"20\" y=\"42\">%zu nodes, %zu vnodes; each arc ends at a vnode and is "
		"owned by its node</text>\n",
		height, height, (unsigned long long)v->scalar, (unsigned long long)v->scalar, dg, nn, k);
	fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"none\" stroke=\"#ddd\" "
		"stroke-width=\"%.1f\"/>\n", SVG_CX, SVG_CY, SVG_R, SVG_W);
	fprintf(f, "<g fill=\"none\" stroke-width=\"%.1f\">\n", SVG_W);
	if (nn == 1) {
		rv_colour(0, colour, sizeof(colour));
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" stroke=\"%s\"/>\n", SVG_CX, SVG_CY,
			SVG_R, colour);
	} else if (k > 0) {
		/* key range (prev, pos] belongs to pos's node; runs of one owner
		 * are merged into one arc; the first run wraps from the last vnode */
		const double two64 = 18446744073709551616.0;
		size_t i = 0;

		while (i < k) {
			size_t j = i;

			while (j + 1 < k && vn[j + 1].node == vn[i].node)
				j++;
			/* arc from the vnode before i (exclusive) to vnode j */
			double a = i == 0 ? 0.0 : (double)vn[i - 1].pos / two64;
			double b = (double)vn[j].pos / two64;

			rv_colour(vn[i].node, colour, sizeof(colour));
			rv_arc(f, a, b, colour);
			i = j + 1;
		}
		/* the wrap: past the last vnode up to 2^64 belongs to the first */
		rv_colour(vn[0].node, colour, sizeof(colour));
		rv_arc(f, (double)vn[k - 1].pos / two64, 1.0, colour);
	}
	fputs("</g>\n", f);
	/* legend */
	fprintf(f, "<g>\n<text x=\"500\" y=\"70\" font-weight=\"bold\">node (id)  share  vnodes</text>\n");
	for (uint32_t i = 0; i < nn; i++) {
		const struct rv_row *r = ring_view_row_of(v, i);
		double y = 90.0 + 22.0 * i;

		rv_colour(i, colour, sizeof(colour));
		rv_hex(ring_node(v->ring, i)->id, RV_ID_LEN, id);
		fprintf(f, "<rect x=\"500\" y=\"%.0f\" width=\"14\" height=\"14\" fill=\"%s\"/>\n", y - 12,
			colour);
		fprintf(f, "<text x=\"520\" y=\"%.0f\">%.12s  %6.2f%%  %u%s</text>\n", y, id,
			r ? 100.0 * r->share : 0.0, r ? r->vnodes : 0, r && r->self ? "  (asked)" : "");
	}
	if (nn == 0)
		fputs("<text x=\"500\" y=\"90\">(no node placed)</text>\n", f);
	fputs("</g>\n</svg>\n", f);
	free(vn);
	return ferror(f) ? -EIO : 0;
}
