/*
 * dispatch_objects.h: SD_OP_SM_OBJECTS (0xE4) and SD_OP_SM_RECOVER (0xE5),
 * issue 8: what `sheeptool cluster check` asks of every node.
 *
 * SM_OBJECTS: one page of the node's object index (data and vmstate
 * objects only; inode records are the catalog's business), in oid order
 * from hdr.obj.oid on, as one JSON document (doc/sheeptool.md, "SM_OBJECTS"):
 *
 *   {"objects":[{"oid":"16 hex","size":N,"version":N,"csum_valid":BOOL,
 *     "csum":"64 hex"   (only when csum_valid),
 *     "file":BOOL}      (false: the index has a record but the object
 *                        file is gone from disk: the copy is missing),
 *    ...],"next":"16 hex"|null}
 *
 * The page fills the reply buffer the client offers (data_length) and no
 * more; "next" is the oid to send as obj.oid to continue, null at the end.
 * Header rules (node_dispatch_objects_check): no WRITE flag; data_length
 * from SM_OBJECTS_MIN_REPLY to max_request (a smaller buffer could not
 * hold one entry: INVALID_PARMS, counted as a bad length).
 *
 * SM_RECOVER: asks the node for a recovery/anti-entropy pass now
 * (node_recovery_kick). Before kicking, records of the object index whose
 * file is gone from disk are dropped (store_obj_remove), so the pass that
 * follows on the other replicas sees the copy as missing and pushes it
 * (their PEER_STAT_OBJ reads only the index). No payload either way, and
 * data_length must be 0 (no WRITE flag). SYSTEM_ERROR when the node runs
 * no recovery thread (not replicating).
 *
 * Cost: both check each listed object's file with a one-byte read, so an
 * SM_OBJECTS page costs one open per entry and SM_RECOVER one per local
 * object (a node with millions of objects answers it in seconds, in a
 * worker thread). A record dropped while a recovery put installs the same
 * object (file re-checked just before, but not under the store's lock)
 * only costs one more push.
 */
#ifndef NODE_DISPATCH_OBJECTS_H
#define NODE_DISPATCH_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "node/dispatch.h"

struct store;

#define SM_OBJECTS_MIN_REPLY 4096u   /* bytes: one entry (< 300) and the frame, with room */

/* 1 if op is one of the two opcodes of this file. */
int node_dispatch_objects_op(uint8_t op);
/* node_dispatch_check's rules for them (see above): 0 or SD_RES_*. */
int node_dispatch_objects_check(const struct node_ctx *ctx, const struct sd_req *h,
				enum node_bad_reason *why);
/* In a worker: fills r->out (SM_OBJECTS) or kicks recovery; SD_RES_*. */
int node_dispatch_objects_run(struct node_req *r);

/* One page from oid from, at most max bytes (>= SM_OBJECTS_MIN_REPLY),
 * malloc'd into *doc (no trailing newline). *count: entries written.
 * 0, -EINVAL (max too small), -ENOMEM, or the store's -errno. */
int node_dispatch_objects_json(struct store *st, uint64_t from, size_t max, char **doc, size_t *len,
			       size_t *count);

/* Drop the index records of data/vmstate objects whose file is gone.
 * Returns how many were dropped, or -errno. */
int node_dispatch_objects_drop_missing(struct store *st);

#endif
