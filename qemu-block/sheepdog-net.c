/*
 * sheepdog-net.c: connections to sheepnode (spec §1.3).
 *
 * Sync connections carry metadata operations, one request at a time, on a
 * blocking socket opened for the operation.
 *
 * The async connection carries object I/O, pipelined: senders take
 * send_lock for one whole frame; a reader coroutine, alive while requests
 * are in flight, matches replies to requests by id and wakes the waiting
 * coroutines. When the connection breaks (read/write error, EOF, an unknown
 * id, an oversized reply) the reader reconnects, first at once and then
 * every delay_ns, and re-sends every request in flight with its original id
 * (§7.14). Creates are safe to repeat: the server replaces the object
 * (§6.3). If no connection succeeds within timeout_ns, every pending request
 * fails with EIO and the connection is DEAD: each new request then tries one
 * connect and fails at once if the server is still gone.
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/timer.h"
#include "block/aio.h"
#include "sheepdog-int.h"

const char *sheep_result_str(uint32_t result)
{
    const char *n = sd_result_name(result);

    return n ? n : "unknown result code";
}

QIOChannelSocket *sheep_sync_connect(SocketAddress *addr, Error **errp)
{
    QIOChannelSocket *sioc = qio_channel_socket_new();

    if (qio_channel_socket_connect_sync(sioc, addr, errp) < 0) {
        object_unref(OBJECT(sioc));
        return NULL;
    }
    qio_channel_set_blocking(QIO_CHANNEL(sioc), true, NULL);
    qio_channel_set_delay(QIO_CHANNEL(sioc), false);
    return sioc;
}

int sheep_sync_do(QIOChannelSocket *sioc, const struct sd_req *req,
                  const void *wbuf, void *rbuf, uint32_t rcap,
                  struct sd_rsp *rsp, Error **errp)
{
    QIOChannel *ioc = QIO_CHANNEL(sioc);
    uint8_t hdr[SD_REQ_SIZE];
    struct iovec iov[2];
    int niov = 1;

    sd_req_encode(hdr, req);
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof(hdr);
    if ((req->flags & SD_FLAG_CMD_WRITE) && req->data_length) {
        iov[1].iov_base = (void *)wbuf;
        iov[1].iov_len = req->data_length;
        niov = 2;
    }
    if (qio_channel_writev_all(ioc, iov, niov, errp) < 0) {
        return -EIO;
    }
    if (qio_channel_read_all(ioc, (char *)hdr, sizeof(hdr), errp) < 0) {
        return -EIO;
    }
    sd_rsp_decode(rsp, hdr);
    if (rsp->data_length > rcap) {
        error_setg(errp, "sheepdog: reply to %s carries %" PRIu32
                   " bytes, more than the %" PRIu32 " requested",
                   sd_opcode_name(req->opcode), rsp->data_length, rcap);
        return -EIO;
    }
    if (rsp->data_length &&
        qio_channel_read_all(ioc, rbuf, rsp->data_length, errp) < 0) {
        return -EIO;
    }
    return 0;
}

int sheep_sync_req(SocketAddress *addr, const struct sd_req *req,
                   const void *wbuf, void *rbuf, uint32_t rcap,
                   struct sd_rsp *rsp, Error **errp)
{
    QIOChannelSocket *sioc = sheep_sync_connect(addr, errp);
    int ret;

    if (!sioc) {
        return -EIO;
    }
    ret = sheep_sync_do(sioc, req, wbuf, rbuf, rcap, rsp, errp);
    object_unref(OBJECT(sioc));
    return ret;
}

/* ---- async connection ---------------------------------------------------- */

static QIOChannelSocket *sheep_conn_dial(SheepConn *c, Error **errp)
{
    QIOChannelSocket *sioc = qio_channel_socket_new();

    if (qio_channel_socket_connect_sync(sioc, c->addr, errp) < 0) {
        object_unref(OBJECT(sioc));
        return NULL;
    }
    qio_channel_set_delay(QIO_CHANNEL(sioc), false);
    qio_channel_set_blocking(QIO_CHANNEL(sioc), false, NULL);
    qio_channel_attach_aio_context(QIO_CHANNEL(sioc), c->ctx);
    return sioc;
}

static void sheep_conn_drop(SheepConn *c)
{
    if (c->sioc) {
        qio_channel_shutdown(QIO_CHANNEL(c->sioc), QIO_CHANNEL_SHUTDOWN_BOTH,
                             NULL);
        qio_channel_detach_aio_context(QIO_CHANNEL(c->sioc));
        object_unref(OBJECT(c->sioc));
        c->sioc = NULL;
    }
}

int sheep_conn_open(SheepConn *c, SocketAddress *addr, AioContext *ctx,
                    uint64_t delay_ns, uint64_t timeout_ns, Error **errp)
{
    memset(c, 0, sizeof(*c));
    c->addr = addr;
    c->ctx = ctx;
    c->delay_ns = delay_ns;
    c->timeout_ns = timeout_ns;
    c->gen = 1;
    qemu_co_mutex_init(&c->send_lock);
    QTAILQ_INIT(&c->inflight);
    c->sioc = sheep_conn_dial(c, errp);
    if (!c->sioc) {
        return -EIO;
    }
    c->state = SHEEP_CONN_UP;
    return 0;
}

/* Called drained: nothing in flight, so no reader either. */
void sheep_conn_close(SheepConn *c)
{
    assert(QTAILQ_EMPTY(&c->inflight) && !c->reader);
    sheep_conn_drop(c);
}

void sheep_conn_detach(SheepConn *c)
{
    if (c->sioc) {
        qio_channel_detach_aio_context(QIO_CHANNEL(c->sioc));
    }
}

void sheep_conn_attach(SheepConn *c, AioContext *ctx)
{
    c->ctx = ctx;
    if (c->sioc) {
        qio_channel_attach_aio_context(QIO_CHANNEL(c->sioc), ctx);
    }
}

static void sheep_req_finish(SheepConn *c, SheepReq *r, uint32_t result,
                             int err)
{
    SheepWait *w = r->wait;

    QTAILQ_REMOVE(&c->inflight, r, link);
    r->result = result;
    r->err = err;
    r->done = true;
    if (--w->pending == 0 && w->waiting) {
        aio_co_wake(w->co);
    }
}

/* Write one frame; the caller holds send_lock and the connection is up. */
static int coroutine_fn sheep_conn_send(SheepConn *c, SheepReq *r)
{
    uint8_t hdr[SD_REQ_SIZE];
    QEMUIOVector q;
    uint32_t len = 0;
    int ret;

    if ((r->hdr.flags & SD_FLAG_CMD_WRITE) && r->hdr.data_length) {
        len = r->hdr.data_length;
    }
    sd_req_encode(hdr, &r->hdr);
    r->gen = c->gen;
    if (len) {
        qemu_iovec_init_extended(&q, hdr, sizeof(hdr), r->qiov, r->qoff, len,
                                 NULL, 0);
    } else {
        qemu_iovec_init_buf(&q, hdr, sizeof(hdr));
    }
    ret = qio_channel_writev_all(QIO_CHANNEL(c->sioc), q.iov, q.niov, NULL);
    qemu_iovec_destroy(&q);
    if (ret < 0) {
        /* The reader notices the shutdown and reconnects. */
        c->state = SHEEP_CONN_BROKEN;
        qio_channel_shutdown(QIO_CHANNEL(c->sioc), QIO_CHANNEL_SHUTDOWN_BOTH,
                             NULL);
        return -EIO;
    }
    return 0;
}

static void coroutine_fn sheep_conn_reconnect(SheepConn *c)
{
    int64_t deadline = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + c->timeout_ns;
    SheepReq *r;

    /* Unblock a sender stuck on the old socket before taking the lock. */
    if (c->sioc) {
        qio_channel_shutdown(QIO_CHANNEL(c->sioc), QIO_CHANNEL_SHUTDOWN_BOTH,
                             NULL);
    }
    qemu_co_mutex_lock(&c->send_lock);
    sheep_conn_drop(c);
    for (;;) {
        Error *err = NULL;

        c->sioc = sheep_conn_dial(c, &err);
        if (c->sioc) {
            break;
        }
        if (qemu_clock_get_ns(QEMU_CLOCK_REALTIME) >= deadline) {
            error_reportf_err(err, "sheepdog: server unreachable for %" PRIu64
                              " s, failing I/O: ",
                              (uint64_t)(c->timeout_ns / NANOSECONDS_PER_SECOND));
            c->state = SHEEP_CONN_DEAD;
            while ((r = QTAILQ_FIRST(&c->inflight))) {
                sheep_req_finish(c, r, SD_RES_EIO, -EIO);
            }
            qemu_co_mutex_unlock(&c->send_lock);
            return;
        }
        error_free(err);
        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, c->delay_ns);
    }
    c->gen++;
    c->state = SHEEP_CONN_UP;
    QTAILQ_FOREACH(r, &c->inflight, link) {
        if (r->gen != c->gen && sheep_conn_send(c, r) < 0) {
            break;
        }
    }
    qemu_co_mutex_unlock(&c->send_lock);
}

static SheepReq *sheep_conn_find(SheepConn *c, uint32_t id)
{
    SheepReq *r;

    QTAILQ_FOREACH(r, &c->inflight, link) {
        if (r->hdr.id == id && r->gen == c->gen) {
            return r;
        }
    }
    return NULL;
}

/* Read and drop n payload bytes. */
static int coroutine_fn sheep_conn_skip(SheepConn *c, uint32_t n)
{
    char buf[4096];

    while (n) {
        uint32_t k = MIN(n, sizeof(buf));

        if (qio_channel_read_all(QIO_CHANNEL(c->sioc), buf, k, NULL) < 0) {
            return -EIO;
        }
        n -= k;
    }
    return 0;
}

/* Handle one reply. Returns -EIO when the stream is no longer usable. */
static int coroutine_fn sheep_conn_read_reply(SheepConn *c)
{
    QIOChannel *ioc = QIO_CHANNEL(c->sioc);
    uint8_t hdr[SD_RSP_SIZE];
    struct sd_rsp rsp;
    SheepReq *r;
    uint32_t want;

    if (qio_channel_read_all(ioc, (char *)hdr, sizeof(hdr), NULL) < 0) {
        return -EIO;
    }
    sd_rsp_decode(&rsp, hdr);
    r = sheep_conn_find(c, rsp.id);
    if (!r) {
        error_report("sheepdog: reply with unknown id %" PRIu32
                     ", reconnecting", rsp.id);
        return -EIO;
    }
    want = (r->hdr.flags & SD_FLAG_CMD_WRITE) ? 0 : r->hdr.data_length;
    if (rsp.data_length > want) {
        error_report("sheepdog: reply to %s carries %" PRIu32 " bytes, "
                     "expected at most %" PRIu32 ", reconnecting",
                     sd_opcode_name(r->hdr.opcode), rsp.data_length, want);
        return -EIO;
    }
    if (rsp.data_length) {
        if (rsp.result == SD_RES_SUCCESS) {
            QEMUIOVector q;
            int ret;

            qemu_iovec_init_slice(&q, r->qiov, r->qoff, rsp.data_length);
            ret = qio_channel_readv_all(ioc, q.iov, q.niov, NULL);
            qemu_iovec_destroy(&q);
            if (ret < 0) {
                return -EIO;
            }
        } else if (sheep_conn_skip(c, rsp.data_length) < 0) {
            return -EIO;
        }
    }
    if (rsp.result == SD_RES_SUCCESS && rsp.data_length != want) {
        /* A short read would leave stale bytes in the guest buffer. */
        sheep_req_finish(c, r, SD_RES_EIO, 0);
    } else {
        sheep_req_finish(c, r, rsp.result, 0);
    }
    return 0;
}

static void coroutine_fn sheep_conn_reader(void *opaque)
{
    SheepConn *c = opaque;

    while (!QTAILQ_EMPTY(&c->inflight)) {
        if (c->state != SHEEP_CONN_UP) {
            sheep_conn_reconnect(c);
            continue;
        }
        if (sheep_conn_read_reply(c) < 0) {
            c->state = SHEEP_CONN_BROKEN;
        }
    }
    c->reader = NULL;
}

void coroutine_fn sheep_conn_submit(SheepConn *c, SheepReq *r, SheepWait *w)
{
    r->wait = w;
    r->done = false;
    r->gen = 0;
    r->err = 0;
    r->hdr.id = c->next_id++;
    w->pending++;
    QTAILQ_INSERT_TAIL(&c->inflight, r, link);
    if (!c->reader) {
        c->reader = qemu_coroutine_create(sheep_conn_reader, c);
        aio_co_enter(c->ctx, c->reader);
    }

    qemu_co_mutex_lock(&c->send_lock);
    if (r->done || r->gen == c->gen) {
        /* failed or re-sent by the reader while we waited for the lock */
        goto out;
    }
    if (c->state == SHEEP_CONN_DEAD) {
        sheep_conn_drop(c);
        c->sioc = sheep_conn_dial(c, NULL);
        if (!c->sioc) {
            sheep_req_finish(c, r, SD_RES_EIO, -EIO);
            goto out;
        }
        c->gen++;
        c->state = SHEEP_CONN_UP;
    }
    if (c->state == SHEEP_CONN_UP) {
        sheep_conn_send(c, r);
    }
    /* BROKEN: the reader re-sends it after reconnecting */
out:
    qemu_co_mutex_unlock(&c->send_lock);
}

void coroutine_fn sheep_wait_all(SheepWait *w)
{
    while (w->pending) {
        w->co = qemu_coroutine_self();
        w->waiting = true;
        qemu_coroutine_yield();
        w->waiting = false;
    }
}
