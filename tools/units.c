/* units.c: see units.h. */
#include "tools/units.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const unit_names[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };

/* Shift (power of 1024 times 10) for a unit suffix, or -1. */
static int unit_shift(const char *u)
{
	static const char letters[] = "BKMGTPE";
	const char *p;

	if (*u == '\0')
		return 0;
	p = strchr(letters, u[0] >= 'a' && u[0] <= 'z' ? u[0] - 32 : u[0]);
	if (!p)
		return -1;
	if (u[1] == '\0')
		return (int)(p - letters) * 10;
	if (p != letters && strcasecmp(u + 1, "iB") == 0)
		return (int)(p - letters) * 10;
	return -1;
}

int units_parse_size(const char *s, uint64_t *out)
{
	uint64_t whole = 0, frac = 0, frac_div = 1;
	int digits = 0, shift;

	if (!s)
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++, digits++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (whole > UINT64_MAX / 10 || whole * 10 > UINT64_MAX - d)
			return -ERANGE;
		whole = whole * 10 + d;
	}
	if (*s == '.') {
		s++;
		for (; *s >= '0' && *s <= '9'; s++, digits++) {
			if (frac_div >= UINT64_C(1000000000))
				return -EINVAL;         /* more precision than any unit needs */
			frac = frac * 10 + (uint64_t)(*s - '0');
			frac_div *= 10;
		}
	}
	if (!digits)
		return -EINVAL;
	shift = unit_shift(s);
	if (shift < 0)
		return -EINVAL;
	if (shift && whole > (UINT64_MAX >> shift))
		return -ERANGE;
	whole <<= shift;
	if (frac) {
		/* frac < 1e9 and shift <= 60: the product fits in 128 bits */
		unsigned __int128 num = (unsigned __int128)frac << shift;

		if (num % frac_div)
			return -EINVAL;             /* a fraction of a byte */
		num /= frac_div;
		if (whole > UINT64_MAX - (uint64_t)num)
			return -ERANGE;
		whole += (uint64_t)num;
	}
	*out = whole;
	return 0;
}

const char *units_format_size(uint64_t v, char *buf, size_t len)
{
	int u = 0;
	uint64_t unit = 1;

	while (u < 6 && v >= (unit << 10)) {
		unit <<= 10;
		u++;
	}
	if (v % unit == 0)
		snprintf(buf, len, "%llu %s", (unsigned long long)(v / unit), unit_names[u]);
	else
		snprintf(buf, len, "%.1f %s", (double)v / (double)unit, unit_names[u]);
	return buf;
}
