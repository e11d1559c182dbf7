/* json_out.c: see json_out.h. */
#include "tools/json_out.h"

#include <string.h>

void json_out_init(struct json_out *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
}

static void put_escaped(FILE *f, const unsigned char *s, size_t n)
{
	putc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		size_t len = 0;

		if (c == '"' || c == '\\') {
			putc('\\', f);
			putc(c, f);
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			switch (c) {
			case '\n': fputs("\\n", f); break;
			case '\t': fputs("\\t", f); break;
			case '\r': fputs("\\r", f); break;
			default: fprintf(f, "\\u%04x", c);
			}
			continue;
		}
		if (c < 0x80) {
			putc(c, f);
			continue;
		}
		/* multi-byte UTF-8: copy only a complete, shortest-form sequence */
		if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef)
			len = 3;
		else if (c >= 0xf0 && c <= 0xf4)
			len = 4;
		if (len && i + len <= n) {
			size_t k;
			unsigned char c1 = s[i + 1];

			for (k = 1; k < len && (s[i + k] & 0xc0) == 0x80; k++)
				;
			if (k == len && !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0) &&
			    !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90)) {
				fwrite(s + i, 1, len, f);
				i += len - 1;
				continue;
			}
		}
		fprintf(f, "\\u%04x", c);
	}
	putc('"', f);
}

/* Comma and key before a value; 0 if the value may be written. */
static int member(struct json_out *j, const char *key)
{
	if (j->overflow)
		return -1;
	if (j->count[j->depth])
		putc(',', j->f);
	if (j->count[j->depth] < 255)
		j->count[j->depth]++;
	if (key) {
		put_escaped(j->f, (const unsigned char *)key, strlen(key));
		putc(':', j->f);
	}
	return 0;
}

static void open_level(struct json_out *j, const char *key, char c)
{
	if (member(j, key))
		return;
	if (j->depth >= JSON_OUT_DEPTH) {
		j->overflow = 1;
		return;
	}
	putc(c, j->f);
	j->count[++j->depth] = 0;
	j->close[j->depth] = c == '{' ? '}' : ']';
}

void json_out_object(struct json_out *j, const char *key) { open_level(j, key, '{'); }
void json_out_array(struct json_out *j, const char *key) { open_level(j, key, '['); }

void json_out_close(struct json_out *j)
{
	if (j->overflow || j->depth == 0) {
		j->overflow = 1;
		return;
	}
	putc(j->close[j->depth--], j->f);
}

void json_out_strn(struct json_out *j, const char *key, const char *s, size_t n)
{
	if (!member(j, key))
		put_escaped(j->f, (const unsigned char *)s, n);
}

void json_out_str(struct json_out *j, const char *key, const char *s)
{
	json_out_strn(j, key, s, strlen(s));
}

void json_out_u64(struct json_out *j, const char *key, uint64_t v)
{
	if (!member(j, key))
		fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_out_bool(struct json_out *j, const char *key, int v)
{
	if (!member(j, key))
		fputs(v ? "true" : "false", j->f);
}

void json_out_null(struct json_out *j, const char *key)
{
	if (!member(j, key))
		fputs("null", j->f);
}

int json_out_end(struct json_out *j)
{
	putc('\n', j->f);
	if (fflush(j->f) || ferror(j->f))
		return -1;
	return j->overflow || j->depth ? -1 : 0;
}

void json_out_raw(struct json_out *j, const char *key, const char *text, size_t n)
{
	if (!member(j, key))
		fwrite(text, 1, n, j->f);
}
