/*
 * gossip/mpcheck.c: structural pre-check of msgpack bytes (see mpcheck.h).
 * Hand-written (about 60 lines) because msgpack-c offers no bounded parse:
 * msgpack_unpack_next() allocates for the element count a header declares
 * before it has seen the elements.
 */
#include "gossip/mpcheck.h"

#include <stdint.h>

static int skim(const uint8_t *p, size_t len, size_t *off, int depth, int max_depth)
{
	size_t o = *off, n = 0, body = 0;
	uint8_t b;

	if (depth > max_depth || o >= len)
		return -1;
	b = p[o++];
#define NEED(k) do { if (len - o < (k)) return -1; } while (0)
#define BE(k) ({ uint64_t v_ = 0; NEED(k); for (int i_ = 0; i_ < (k); i_++) v_ = v_ << 8 | p[o++]; v_; })
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
		/* fixint, nil, bool */
	} else if (b <= 0x8f) {
		n = 2 * (size_t)(b & 0x0f);
	} else if (b <= 0x9f) {
		n = b & 0x0f;
	} else if (b <= 0xbf) {
		body = b & 0x1f;
	} else {
		switch (b) {
		case 0xc4: case 0xd9: body = BE(1); break;
		case 0xc5: case 0xda: body = BE(2); break;
		case 0xc6: case 0xdb: body = BE(4); break;
		case 0xc7: body = BE(1) + 1; break;
		case 0xc8: body = BE(2) + 1; break;
		case 0xc9: body = BE(4) + 1; break;
		case 0xca: body = 4; break;
		case 0xcb: body = 8; break;
		case 0xcc: case 0xd0: body = 1; break;
		case 0xcd: case 0xd1: body = 2; break;
		case 0xce: case 0xd2: body = 4; break;
		case 0xcf: case 0xd3: body = 8; break;
		case 0xd4: body = 2; break;
		case 0xd5: body = 3; break;
		case 0xd6: body = 5; break;
		case 0xd7: body = 9; break;
		case 0xd8: body = 17; break;
		case 0xdc: n = BE(2); break;
		case 0xdd: n = BE(4); break;
		case 0xde: n = 2 * BE(2); break;
		case 0xdf: n = 2 * BE(4); break;
		default: return -1;        /* 0xc1: never used */
		}
	}
#undef BE
	NEED(body);
	o += body;
	NEED(n);
#undef NEED
	*off = o;
	for (size_t i = 0; i < n; i++)
		if (skim(p, len, off, depth + 1, max_depth))
			return -1;
	return 0;
}

int mpcheck_bounded(const void *buf, size_t len, int max_depth)
{
	size_t off = 0;
	if (!buf || skim(buf, len, &off, 0, max_depth))
		return MPCHECK_BAD;
	return off == len ? 0 : MPCHECK_TRAILING;
}
