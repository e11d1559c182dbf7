/*
 * dispatch_locks.h: SD_OP_SM_LOCKS (0xE3, issue 8), the node's VDI locks as
 * one JSON document for `sheeptool vdi lock list` (schema in
 * doc/sheeptool.md, "vdi lock list --json"):
 *
 *   {"enforce_locks":BOOL,"locks":[{"vid":N,"vid_hex":"6 hex","name":S,
 *    "snapshot":BOOL,"snap_id":N,"tag":S,"type":"normal"|"shared",
 *    "holders":N,"taken":UNIX_SECONDS}, ...]}
 *
 * Header rules (node_dispatch_check): no WRITE flag, data_length (the reply
 * buffer the client offers) at most max_request. A document longer than
 * data_length is refused with INVALID_PARMS, not cut.
 */
#ifndef NODE_DISPATCH_LOCKS_H
#define NODE_DISPATCH_LOCKS_H

#include <stddef.h>

#include "node/dispatch.h"

struct store;

/* SM_LOCKS in a worker: fills r->out; SD_RES_*. */
int node_dispatch_locks_run(struct node_req *r);

/* The document itself (no trailing newline), malloc'd into *doc, at most
 * max bytes: 0, -E2BIG (longer than max), -ENOMEM or the store's -errno. */
int node_dispatch_locks_json(struct store *st, size_t max, char **doc, size_t *len);

#endif
