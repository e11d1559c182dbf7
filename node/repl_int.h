/* repl_int.h: what node/repl.c (gateway), node/repl_serve.c (replica side)
 * and node/catalog.c (the VDI catalog on every node) share. */
#ifndef NODE_REPL_INT_H
#define NODE_REPL_INT_H

#include "node/repl.h"

struct store_vdi_rsp;

#define CATALOG_LIST_MAX   (12u * 1024 * 1024)   /* VDI_LIST reply: 12 bytes per VDI */
#define CATALOG_EXPORT_MAX (16u * 1024 * 1024)   /* one VDI export (record + sparse index) */

uint64_t node__mono_ms(void);
int node__repl_wait(struct node_repl *rp, struct node_view **v, uint64_t deadline);
int node__repl_read(struct node_req *r, struct node_view **vp, uint64_t oid, uint64_t off,
		    uint32_t len, unsigned copies, uint8_t **out, uint32_t *out_len);
/* A copy read from one replica. */
struct repl_got {
	uint8_t *b;                 /* malloc'd */
	uint32_t len;
	uint64_t version;
	int unverified;             /* predates that replica's (re)join */
};
/* A request's prefix under view v. */
void node__prefix(struct peer_prefix *p, const struct node_view *v, uint64_t version, uint32_t arg);
/* PEER_READ_OBJ of len bytes (0 = the whole object) from the node at to. */
int node__remote_get(struct node_ctx *c, const struct node_view *v, const struct swim_addr *to,
		     uint64_t oid, uint64_t off, uint32_t len, struct repl_got *g);
/* Local read, len 0 = the whole object. SD_RES_*. */
int node__local_get(struct node_ctx *c, uint64_t oid, uint64_t off, uint32_t len, struct repl_got *g);
/* Raise the HLC past a version seen from a peer. */
void node__repl_observe(struct node_repl *rp, uint64_t version);

/* repl_serve.c: 1 if our copy of oid exists and may be stale. */
int node__copy_unverified(struct node_ctx *c, uint64_t oid);

/* recovery.c: the PEER_SUMMARY digests (node/peer.h) of the objects this
 * node holds whose replicas under v include node index peer. SD_RES_*. */
int node__summary(struct node_ctx *c, struct node_view *v, uint32_t peer, uint8_t *out);

/* catalog.c */
int node__catalog_has(struct node_ctx *c, uint32_t vid);
/* Hand node index `target` of v the catalog record of vid (fetched from the
 * leader first if we lack it). 0 or an error. */
int node__catalog_give(struct node_req *r, struct node_view *v, uint32_t target, uint32_t vid);
/* A metadata request (repl.c is_meta): run it as the leader, or forward it. */
int node__catalog_route(struct node_req *r, struct node_view **vp, struct store_vdi_rsp *vrsp, int *vdi);
/* PEER_FORWARD on the leader: payload = client header + its payload. */
int node__catalog_serve_forward(struct node_req *r, struct node_view *v, const uint8_t *data,
				uint32_t len);
int node__is_meta(const struct sd_req *h);

#endif
