/*
 * units.h: sizes as people type and read them (sheeptool).
 *
 * Parsing accepts a whole or decimal number with an optional binary unit:
 * B, K/KiB, M/MiB, G/GiB, T/TiB, P/PiB, E/EiB (case-insensitive letter; every
 * unit is a power of 1024, as in qemu-img and dog). "1.5G" is accepted when
 * the result is a whole number of bytes. "KB"/"MB" are refused rather than
 * guessed (decimal or binary?). No state, no allocation.
 */
#ifndef SHEEPTOOL_UNITS_H
#define SHEEPTOOL_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* 0 and *out set, or -EINVAL (malformed, unknown unit, fraction of a
 * byte) / -ERANGE (does not fit in 64 bits). *out untouched on error. */
int units_parse_size(const char *s, uint64_t *out);

/* "512 B", "4 MiB", "1.5 GiB" (one decimal unless exact). Returns buf. */
const char *units_format_size(uint64_t v, char *buf, size_t len);

#define UNITS_BUF 32    /* enough for any units_format_size() result */

#endif
