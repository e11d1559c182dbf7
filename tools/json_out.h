/*
 * json_out.h: a small streaming JSON writer for sheeptool --json.
 *
 * Why our own: the project's dependency list (Debian: libev, LMDB,
 * libsodium, msgpack-c, cmocka) has no JSON library, and --json needs only
 * objects, arrays, strings, integers and booleans written in order. One
 * writer per document; the caller keeps begin/end balanced (up to
 * JSON_OUT_DEPTH levels; deeper output is dropped and json_out_end()
 * reports it). Strings are escaped per RFC 8259; bytes that are not valid
 * UTF-8 (names are raw bytes on the wire) are written as \u00XX, so the
 * output always parses.
 */
#ifndef SHEEPTOOL_JSON_OUT_H
#define SHEEPTOOL_JSON_OUT_H

#include <stdint.h>
#include <stdio.h>

#define JSON_OUT_DEPTH 16

struct json_out {
	FILE *f;
	int depth;
	int overflow;                       /* nesting went past JSON_OUT_DEPTH */
	unsigned char count[JSON_OUT_DEPTH + 1]; /* members written per level (saturating) */
	char close[JSON_OUT_DEPTH + 1];     /* '}' or ']' for each open level */
};

void json_out_init(struct json_out *j, FILE *f);
/* key is NULL for array elements and the top-level value. */
void json_out_object(struct json_out *j, const char *key);
void json_out_array(struct json_out *j, const char *key);
void json_out_close(struct json_out *j);          /* ends the innermost object/array */
void json_out_str(struct json_out *j, const char *key, const char *s);
void json_out_strn(struct json_out *j, const char *key, const char *s, size_t n);
void json_out_u64(struct json_out *j, const char *key, uint64_t v);
void json_out_bool(struct json_out *j, const char *key, int v);
void json_out_null(struct json_out *j, const char *key);
/* text[0..n) as the value, unchanged: the caller has checked it is one
 * JSON value (e.g. a section of a node's document). */
void json_out_raw(struct json_out *j, const char *key, const char *text, size_t n);
/* Newline after the top-level value. 0, or -1 if unbalanced/overflowed or
 * the stream had a write error. */
int json_out_end(struct json_out *j);

#endif
