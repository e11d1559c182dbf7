/*
 * dispatch_locks.c: SD_OP_SM_LOCKS, see dispatch_locks.h.
 *
 * The document is written into an open_memstream() buffer, one lock per
 * store_list_locks() callback; the listing stops as soon as the buffer
 * passes the client's limit, so a huge catalog cannot make a worker
 * allocate more than the client offered (plus one entry).
 */
#include "node/dispatch_locks.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct locks_doc {
	FILE *f;
	size_t max;
	int n, over;
};

/* RFC 8259 string of the NUL-terminated bytes s; bytes that are not part
 * of valid shortest-form UTF-8 become \u00XX, as sheeptool's json_out.c
 * writes them, so the document always parses. */
static void put_str(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str);

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
			fprintf(f, "\\u%04x", c);
			continue;
		}
		if (c < 0x80) {
			putc(c, f);
			continue;
		}
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

static int locks_doc_add(void *arg, const struct store_lock_info *l)
{
	struct locks_doc *d = arg;

	fprintf(d->f, "%s{\"vid\":%u,\"vid_hex\":\"%06x\",\"name\":", d->n++ ? "," : "", l->vid,
		l->vid);
	put_str(d->f, l->name);
	fprintf(d->f, ",\"snapshot\":%s,\"snap_id\":%u,\"tag\":", l->is_snapshot ? "true" : "false",
		l->snap_id);
	put_str(d->f, l->tag);
	fprintf(d->f, ",\"type\":\"%s\",\"holders\":%u,\"taken\":%llu}",
		l->type ? "shared" : "normal", l->holders, (unsigned long long)(l->time >> 32));
	/* ftello: bytes written so far, without waiting for the final fflush */
	off_t pos = ftello(d->f);
	if (pos < 0 || (size_t)pos > d->max) {
		d->over = 1;
		return 1;
	}
	return 0;
}

int node_dispatch_locks_json(struct store *st, size_t max, char **doc, size_t *len)
{
	struct locks_doc d = { .max = max };
	char *buf = NULL;
	size_t n = 0;
	int rc;

	*doc = NULL;
	*len = 0;
	if (!(d.f = open_memstream(&buf, &n)))
		return -ENOMEM;
	fprintf(d.f, "{\"enforce_locks\":%s,\"locks\":[", store_locks_enforced(st) ? "true" : "false");
	rc = store_list_locks(st, locks_doc_add, &d);
	fputs("]}", d.f);
	if (fclose(d.f) && !rc)
		rc = -ENOMEM;
	if (!rc && (d.over || n > max))
		rc = -E2BIG;
	if (rc) {
		free(buf);
		return rc;
	}
	*doc = buf;
	*len = n;
	return 0;
}

int node_dispatch_locks_run(struct node_req *r)
{
	struct node_ctx *c = r->ctx;
	char *doc;
	size_t len;
	int rc = node_dispatch_locks_json(c->store, r->hdr.data_length, &doc, &len);

	switch (rc) {
	case 0:
		break;
	case -E2BIG:        /* the request's data_length is the reply buffer offered */
		return SD_RES_INVALID_PARMS;
	case -ENOMEM:
		return SD_RES_NO_MEM;
	default:
		node_log_limited(c->log, NODE_LIMIT_STORE_RESULT, NODE_LOG_ERR,
				 "SM_LOCKS: cannot list the locks: %s", strerror(-rc));
		return SD_RES_EIO;
	}
	r->out = (uint8_t *)doc;
	r->out_len = (uint32_t)len;
	return SD_RES_SUCCESS;
}
