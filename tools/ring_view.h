/*
 * ring_view.h: what `sheeptool ring` shows, computed without I/O (private
 * to tools/; code in ring_view.c, ring_members.c and ring_svg.c, which
 * tests/unit/test_cmd_ring.c includes directly).
 *
 * Inputs are untrusted bytes from a node: the epoch (SM_RING,
 * epoch_encode() form, checked by epoch_decode) and the membership document
 * (SM_MEMBERS JSON, checked by rv_members_parse). The ring is rebuilt
 * locally with epoch_state_ring() and RING_VNODES_PER_UNIT_DEFAULT, i.e.
 * exactly what every node computes from the same epoch.
 *
 * Rows: every id in the epoch (placed or not) plus every member the node
 * knows by gossip that the epoch does not list yet, sorted by id.
 */
#ifndef SHEEPTOOL_RING_VIEW_H
#define SHEEPTOOL_RING_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gossip/epoch.h"
#include "gossip/ring.h"

#define RV_ID_LEN    16
#define RV_ADDR_MAX  64            /* "[v6]:port" fits */
#define RV_MEMBERS_MAX 65536       /* entries accepted from SM_MEMBERS */

/* One entry of the SM_MEMBERS document. */
struct rv_member {
	uint8_t  id[RV_ID_LEN];
	char     gossip[RV_ADDR_MAX], data[RV_ADDR_MAX];
	char     state[8];             /* alive | suspect | dead | left */
	uint64_t incarnation, generation;
	uint32_t zone;
	uint16_t weight;
};

struct rv_members {
	uint8_t  self[RV_ID_LEN];
	char     cluster[256];
	struct rv_member *m;
	size_t   n;
};

/* Parse the SM_MEMBERS JSON (schema in doc/sheeptool.md). Unknown keys are
 * skipped; every known one is checked. 0, or -EBADMSG with err naming the
 * field and byte offset, or -ENOMEM. out is empty on error. */
int rv_members_parse(const char *json, size_t len, struct rv_members *out, char *err, size_t errlen);
void rv_members_free(struct rv_members *m);

struct rv_row {
	uint8_t  id[RV_ID_LEN];
	const struct rv_member *mem;   /* gossip view, NULL if the node does not know it */
	const struct epoch_member *em; /* epoch entry, NULL if not in the epoch */
	int      ring_idx;             /* node index in the ring, -1 if not placed */
	uint32_t zone;                 /* from the epoch if there, else from gossip */
	uint16_t weight;
	uint32_t vnodes;
	double   share;                /* of the 2^64 hash space, 0 if not placed */
	int      self;                 /* the node we asked */
	int64_t  objects;              /* objects it stores (its SM_STATUS), -1 = not known */
};

struct ring_view {
	struct epoch   epoch;
	struct ring   *ring;
	uint32_t       vnodes_per_unit;
	uint64_t       scalar;
	uint8_t        digest[EPOCH_DIGEST_LEN];       /* epoch_digest: the gossip one */
	uint8_t        ring_digest[RING_DIGEST_LEN];   /* placement only */
	struct rv_members members;                     /* owned; may be empty */
	int            have_members;
	struct rv_row *rows;
	size_t         n_rows;
};

/* Decode the epoch, build the ring, join with members (taken over: *members
 * is moved into v and emptied; may be NULL). 0, or an EPOCH_E_* / -errno
 * code with err filled. v is always safe to ring_view_free(). */
int ring_view_build(struct ring_view *v, const uint8_t *epoch_bytes, size_t len,
		    struct rv_members *members, char *err, size_t errlen);
void ring_view_free(struct ring_view *v);

/* Row of a ring node index, or NULL. */
const struct rv_row *ring_view_row_of(const struct ring_view *v, uint32_t ring_idx);

/* "ip:port" to show for a row: the data address if known, else "-". */
const char *rv_row_addr(const struct rv_row *r);
/* gossip state, else "-" */
const char *rv_row_state(const struct rv_row *r);
/* "in", "out" (left/dead), or "-" (not in the epoch yet) */
const char *rv_row_ring(const struct rv_row *r);

/* Sum of the rows' known object counts (0 if none is known). */
uint64_t ring_view_objects_total(const struct ring_view *v);
void ring_view_print_text(const struct ring_view *v, FILE *f);
void ring_view_print_json(const struct ring_view *v, FILE *f);

/* --locate: the argument, parsed. */
struct rv_target {
	uint64_t oid;
	int      is_vdi;               /* VDI:INDEX form */
	char     vdi[256];
	uint32_t index;
};
/* "OID" (hex, optional 0x, 1-16 digits) or "VDI:INDEX" (split at the last
 * ':', INDEX decimal < 2^20). 0 or -EINVAL with err set. */
int rv_target_parse(const char *s, struct rv_target *t, char *err, size_t errlen);

/* Replica row pointers for t->oid into out[RING_MAX_COPIES]; returns how
 * many (min(copies, placed nodes)) or -EINVAL. */
int ring_view_locate(const struct ring_view *v, uint64_t oid, unsigned copies,
		     const struct rv_row **out);
void ring_view_print_locate(const struct ring_view *v, const struct rv_target *t, unsigned copies,
			    int json, FILE *f);

/* The ring as an SVG picture (arcs per node, legend). 0 or -errno (write). */
int ring_view_svg(const struct ring_view *v, FILE *f);

/* 2n lowercase hex digits + NUL */
void rv_hex(const uint8_t *b, size_t n, char *out);
/* Internal to tools/ring_*.c: printf into err[errlen] (if err); member
 * lookup by id in a parsed (sorted) document, NULL if absent. */
void rv_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const struct rv_member *rv_members_find(const struct rv_members *ms, const uint8_t *id);

#endif
