/*
 * dispatch_ring.c: SD_OP_SM_RING (0xE2, issue 4): the node's current epoch
 * (gossip/epoch.h) as epoch_encode() bytes, for `sheeptool ring`.
 *
 * The agreed epoch lives in the gossip adapter (node/gossip_ring.c), which
 * sheepnode installs as node_ctx.ring_epoch. Without it (unit tests of the
 * dispatcher) the answer is a one-member epoch of this node alone.
 */
#include "node/dispatch.h"
#include "node/node_id.h"
#include "gossip/epoch.h"
#include "store/store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int node_dispatch_ring_local(struct store *st, uint8_t **buf, size_t *len)
{
	struct epoch e;
	struct epoch_member ev;
	char err[256];
	size_t cap = epoch_encoded_max(1, 1);
	int rc;

	*buf = NULL;
	memset(&ev, 0, sizeof(ev));
	if (node_id_load_or_create(store_dir(st), ev.id, err, sizeof(err)) < 0)
		return -EIO;
	ev.version = 1;
	ev.state = EPOCH_IN;
	ev.weight = RING_WEIGHT_DEFAULT;
	epoch_init(&e);
	rc = epoch_record(&e, ev.id, &ev);
	if (rc >= 0 && !(*buf = malloc(cap)))
		rc = -ENOMEM;
	if (rc >= 0)
		rc = epoch_encode(&e, *buf, cap, len);
	epoch_fini(&e);
	if (rc < 0) {
		free(*buf);
		*buf = NULL;
		return rc;
	}
	return 0;
}

int node_dispatch_ring_run(struct node_req *r)
{
	struct node_ctx *c = r->ctx;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = c->ring_epoch ? c->ring_epoch(c->ring_epoch_arg, &buf, &len)
			       : node_dispatch_ring_local(c->store, &buf, &len);

	if (rc < 0) {
		node_log_limited(c->log, NODE_LIMIT_STORE_RESULT, NODE_LOG_ERR,
				 "SM_RING: cannot produce the epoch: %s", strerror(-rc));
		return rc == -ENOMEM ? SD_RES_NO_MEM : SD_RES_SYSTEM_ERROR;
	}
	/* the request's data_length is the reply buffer the client offers */
	if (len > r->hdr.data_length) {
		free(buf);
		return SD_RES_INVALID_PARMS;
	}
	r->out = buf;
	r->out_len = (uint32_t)len;
	return SD_RES_SUCCESS;
}
