/*
 * sheepdog-int.h: contract between the files of sheepmesh's QEMU 7.2
 * `sheepdog` block driver (wire protocol: shared/spec/sheepdog-protocol.md).
 *
 *   sheepdog-loc.c  location syntaxes (legacy, URIs) -> block-layer options
 *   sheepdog-net.c  sync (metadata) connections and the pipelined async
 *                   connection: reader coroutine, reconnect, re-send
 *   sheepdog.c      the BlockDriver: open/close, I/O, create, snapshots
 *
 * Include after "qemu/osdep.h".
 */
#ifndef SHEEPMESH_SHEEPDOG_INT_H
#define SHEEPMESH_SHEEPDOG_INT_H

#include "qemu/coroutine.h"
#include "qemu/queue.h"
#include "qemu/iov.h"
#include "io/channel-socket.h"
#include "qapi/qapi-types-sockets.h"
#include "sheepdog_proto.h"

/* Defaults of the reconnect options (seconds). After the server has been
 * unreachable for reconnect-timeout, pending and new I/O fail with EIO. */
#define SHEEP_RECONNECT_DELAY_DEFAULT   1
#define SHEEP_RECONNECT_TIMEOUT_DEFAULT 60

/* ---- sheepdog-loc.c ---------------------------------------------------- */

/* Parse any `sheepdog` filename form (spec §8.1, §8.2) into block options:
 * server.type/host/port or server.type/path, vdi, snap-id, tag. */
void sheep_loc_parse(const char *filename, QDict *options, Error **errp);

/* ---- sheepdog-net.c ---------------------------------------------------- */

/* One request on the async connection. The caller fills hdr (opcode, flags,
 * data_length, obj.*) and qiov/qoff (write payload or read destination of
 * hdr.data_length bytes); the connection sets id and the outcome. */
typedef struct SheepWait SheepWait;
typedef struct SheepReq {
    struct sd_req hdr;
    QEMUIOVector *qiov;
    size_t qoff;
    uint32_t result;        /* SD_RES_* from the reply */
    int err;                /* 0, or -EIO when the connection gave up */
    bool done;
    uint32_t gen;           /* connection generation it was last sent on */
    SheepWait *wait;
    QTAILQ_ENTRY(SheepReq) link;
} SheepReq;

/* A group of requests one coroutine waits for. */
struct SheepWait {
    int pending;
    bool waiting;
    Coroutine *co;
};

enum { SHEEP_CONN_UP, SHEEP_CONN_BROKEN, SHEEP_CONN_DEAD };

typedef struct SheepConn {
    SocketAddress *addr;            /* borrowed from the driver state */
    AioContext *ctx;
    QIOChannelSocket *sioc;
    CoMutex send_lock;              /* one frame at a time on the wire */
    QTAILQ_HEAD(, SheepReq) inflight;
    uint32_t next_id;
    uint32_t gen;
    int state;
    Coroutine *reader;              /* runs while inflight is not empty */
    uint64_t delay_ns, timeout_ns;
} SheepConn;

int sheep_conn_open(SheepConn *c, SocketAddress *addr, AioContext *ctx,
                    uint64_t delay_ns, uint64_t timeout_ns, Error **errp);
void sheep_conn_close(SheepConn *c);
void sheep_conn_detach(SheepConn *c);
void sheep_conn_attach(SheepConn *c, AioContext *ctx);
/* Queue and send r; returns once it is on the wire (or queued for the
 * reconnect). Completion is reported through w. */
void coroutine_fn sheep_conn_submit(SheepConn *c, SheepReq *r, SheepWait *w);
void coroutine_fn sheep_wait_all(SheepWait *w);

/* Sync connections: one fresh blocking connection per metadata operation. */
QIOChannelSocket *sheep_sync_connect(SocketAddress *addr, Error **errp);
/* Send req (+ wbuf when it has the WRITE flag), read the reply header into
 * rsp and up to rcap payload bytes into rbuf. Returns 0 when a reply was
 * read (check rsp->result), -EIO with errp set on transport errors. */
int sheep_sync_do(QIOChannelSocket *sioc, const struct sd_req *req,
                  const void *wbuf, void *rbuf, uint32_t rcap,
                  struct sd_rsp *rsp, Error **errp);
/* Same, on its own connection. */
int sheep_sync_req(SocketAddress *addr, const struct sd_req *req,
                   const void *wbuf, void *rbuf, uint32_t rcap,
                   struct sd_rsp *rsp, Error **errp);
const char *sheep_result_str(uint32_t result);

#endif
