/*
 * gossip/mpcheck.h: is this one well-formed msgpack object that msgpack-c
 * can unpack in O(len) memory?
 *
 * msgpack-c allocates for the element count an array or map header
 * declares, so five hostile bytes (array32 of 2^32-1) make
 * msgpack_unpack_next() ask for ~100 GB. Every decoder of untrusted
 * msgpack (gossip packets, LMDB records read back from disk) calls this
 * first: each declared count must fit in the bytes left (every element
 * takes at least one byte), strings/bins must fit, and nesting is bounded.
 * Pure, no allocation, no state; the store links it too.
 */
#ifndef SHEEPMESH_GOSSIP_MPCHECK_H
#define SHEEPMESH_GOSSIP_MPCHECK_H

#include <stddef.h>

#define MPCHECK_BAD      (-1)   /* malformed, truncated or nested too deep */
#define MPCHECK_TRAILING (-2)   /* one good object followed by extra bytes */

/* 0 if buf[0, len) is exactly one object nested at most max_depth deep. */
int mpcheck_bounded(const void *buf, size_t len, int max_depth);

#endif
