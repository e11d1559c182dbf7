/*
 * check_view.h: what `sheeptool cluster check` concludes, computed without
 * I/O (private to tools/; code in check_view.c, which
 * tests/unit/test_cmd_check.c includes directly; cmd_check.c does the
 * fetching and printing).
 *
 * Inputs: the ring of the node asked (struct ring_view, as `ring` builds
 * it), one struct ck_node per ring_view row (same index: what the member
 * said, or that it was not asked / did not answer), every copy the nodes
 * listed (SM_OBJECTS entries, tagged with the node index), the data
 * objects the VDIs' indexes reference (so an object no node lists at all is
 * seen too) and the copies wanted per VDI. For each object (oid), the replicas are the first
 * min(copies, placed nodes) ring nodes, exactly as every node computes
 * them (node/view.c node_view_locate).
 *
 * Verdict per object:
 *   - a replica's copy is "ok" when the node listed it with its file on disk
 *     at the newest version any node holds; otherwise it is missing (no
 *     record, file gone, node not alive, node not reachable), stale (an
 *     older version) or mismatched (the newest version with a checksum
 *     that differs from another copy of that version);
 *   - copies on nodes that are not replicas are "extra" (normal right after
 *     a ring change, until recovery removes them once the replicas confirm);
 *   - CK_DEGRADED: any replica not ok; CK_OK otherwise; CK_ORPHAN: no VDI
 *     in the catalog owns it (a deleted VDI's objects, reclaimed later):
 *     reported, never degraded.
 */
#ifndef SHEEPTOOL_CHECK_VIEW_H
#define SHEEPTOOL_CHECK_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "sheepdog_proto.h"
#include "tools/ring_view.h"

/* One listed copy. */
struct ck_copy {
	uint64_t oid, version, size;
	uint32_t node;                 /* index into the nodes (= ring_view rows) */
	uint8_t  file;                 /* 0: index record without its file */
	uint8_t  csum_valid;
	uint8_t  csum[32];
};

enum ck_node_state {
	CK_NODE_LISTED = 0,            /* answered SM_OBJECTS: its list is complete */
	CK_NODE_DOWN,                  /* not alive by gossip (suspect, dead, left, unknown) */
	CK_NODE_UNREACHABLE,           /* alive but did not answer */
};

struct ck_node {
	enum ck_node_state state;
	uint64_t objects;              /* copies it listed */
	char err[160];                 /* why UNREACHABLE */
};

/* Replica verdicts. */
enum ck_rep {
	CK_REP_OK = 0,
	CK_REP_NO_COPY,                /* the node listed no such object */
	CK_REP_FILE_GONE,              /* index record, no file on disk */
	CK_REP_NODE_DOWN,
	CK_REP_UNREACHABLE,
	CK_REP_STALE,                  /* older version than the newest */
	CK_REP_MISMATCH,               /* newest version, different checksum */
};
const char *ck_rep_name(enum ck_rep r);   /* "ok", "no copy", "file gone", ... */
/* 1 when the copy counts as missing (not there at all), 0 for ok/stale/mismatch */
int ck_rep_missing(enum ck_rep r);

enum ck_status { CK_OK = 0, CK_DEGRADED, CK_ORPHAN };
const char *ck_status_name(enum ck_status s);   /* "ok", "degraded", "orphan" */

struct ck_object {
	uint64_t oid;
	uint32_t vid;
	unsigned copies;               /* wanted (VDI's, default, capped) */
	enum ck_status status;
	uint64_t newest;               /* highest version listed (present files) */
	unsigned n_rep;                /* replicas: min(copies, placed nodes) */
	unsigned found;                /* replicas with the file, any version */
	int lost;                      /* no node listed a copy with its file */
	struct { uint32_t node; enum ck_rep rep; uint64_t version; } rep[RING_MAX_COPIES];
	size_t n_extra;
	struct { uint32_t node; uint64_t version; } *extra;   /* n_extra entries */
};

struct ck_summary {
	uint64_t objects, ok, degraded, orphan;
	uint64_t lost;                 /* degraded objects with no copy left on any node listed */
	uint64_t with_extra;           /* objects with at least one extra copy */
	uint64_t missing, stale, mismatch, extra;   /* copies */
	uint64_t nodes_down, nodes_unreachable;
};

/* Copies wanted for a vid: the VDI's copies (the caller applies the
 * cluster default for 0), or 0 when no VDI owns it (orphan). */
typedef unsigned (*ck_copies_fn)(void *ctx, uint32_t vid);

/* Sort copies (by oid, then node) and judge every object: each oid of
 * copies and each of refs (oids the catalog references, sorted, may repeat,
 * may be NULL) once; emit (may be NULL) gets each one in oid order (o and
 * its extra array are valid only during the call). 0 or -ENOMEM. */
int ck_analyze(const struct ring_view *v, const struct ck_node *nodes, struct ck_copy *copies,
	       size_t n_copies, const uint64_t *refs, size_t n_refs, ck_copies_fn copies_of, void *copies_ctx,
	       void (*emit)(void *ctx, const struct ck_object *o), void *emit_ctx,
	       struct ck_summary *sum);

/* One SM_OBJECTS page (untrusted bytes): its entries appended to *copies
 * (tagged with node; *n and *cap grow by realloc), *next set to the oid to
 * continue from and *more to 1, or *more to 0 at the end. Only data and
 * vmstate oids are accepted. 0, -ENOMEM, or -EBADMSG with err naming the
 * field. */
int ck_page_parse(const char *doc, size_t len, uint32_t node, struct ck_copy **copies, size_t *n,
		  size_t *cap, uint64_t *next, int *more, char *err, size_t errlen);

#endif
