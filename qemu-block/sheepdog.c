/*
 * sheepdog.c: sheepmesh's `sheepdog` block driver for QEMU 7.2's block
 * layer. It speaks the Sheepdog client protocol (shared/spec/
 * sheepdog-protocol.md; § numbers refer to it) to sheepnode.
 *
 * State kept per open image: the inode header (wire bytes) and the data
 * index (host order). Reads go to the object named by the index slot, or are
 * zero-filled for slot 0. Writes overwrite own objects, create missing ones
 * (copy-on-write from an ancestor's object when the slot names another vid)
 * and then write the changed index slots back to the inode.
 *
 * Differences from QEMU 5.2's client, on purpose (spec §0 and §7):
 *  - snapshot delete never touches the working VDI's index (§0.7);
 *  - the READ_VDIS result is checked, the listing walks the vid run with the
 *    allocation rule (hash 0 -> 1, wrap to 1) and skips unreadable entries;
 *  - writes to overlapping objects are serialized here, so two creates of
 *    one object cannot race;
 *  - a clone takes the base snapshot's object size unless one is given;
 *  - the async connection gives up after reconnect-timeout seconds (EIO).
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-visit-sockets.h"
#include "qapi/qobject-input-visitor.h"
#include "qapi/qmp/qdict.h"
#include "qapi/util.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/host-utils.h"
#include "qemu/module.h"
#include "qemu/option.h"
#include "block/block_int.h"
#include "block/qdict.h"
#include "sheepdog-int.h"

typedef struct SheepRange {
    uint32_t first, last;
    QLIST_ENTRY(SheepRange) link;
} SheepRange;

typedef struct BDRVSheepdogState {
    SocketAddress *addr;
    char name[SD_NAME_LEN];
    char tag[SD_TAG_LEN];
    uint32_t snap_id;
    bool at_snapshot;           /* opened at a snapshot: branch on write */

    uint8_t hdr[SD_INODE_HEADER_SIZE];
    uint32_t *index;            /* SD_MAX_DATA_OBJS slots, host order */
    uint32_t vid;
    int shift;
    uint64_t size;
    uint8_t copies;

    uint16_t cache_flag;        /* SD_FLAG_CMD_CACHE or _DIRECT */
    bool need_flush;
    bool discard_off;           /* the server refused an index discard */

    SheepConn conn;
    CoMutex meta_lock;          /* branch creation and inode reloads */
    QLIST_HEAD(, SheepRange) ranges;  /* objects being written */
    CoQueue range_q;
} BDRVSheepdogState;

/* ---- inode helpers --------------------------------------------------------- */

static uint64_t hdr64(const uint8_t *h, int off) { return sd_get64(h + off); }
static uint32_t hdr32(const uint8_t *h, int off) { return sd_get32(h + off); }

static uint64_t sheep_obj_size(int shift) { return UINT64_C(1) << shift; }

/* Nothing read from the server is trusted: check what we rely on. */
static int sheep_hdr_check(const uint8_t *h, uint32_t vid, Error **errp)
{
    int shift = h[SD_INODE_OFF_BLOCK_SHIFT];

    if (hdr32(h, SD_INODE_OFF_VDI_ID) != vid) {
        error_setg(errp, "sheepdog: inode of vid %" PRIx32 " has vdi_id %"
                   PRIx32, vid, hdr32(h, SD_INODE_OFF_VDI_ID));
        return -EIO;
    }
    if (shift < SD_MIN_SHIFT || shift > SD_MAX_SHIFT) {
        error_setg(errp, "sheepdog: inode %" PRIx32 " has invalid "
                   "block_size_shift %d", vid, shift);
        return -EIO;
    }
    if (h[SD_INODE_OFF_STORE_POLICY] != 0) {
        error_setg(errp, "sheepdog: inode %" PRIx32 " has store_policy %d, "
                   "only 0 (flat index) is supported", vid,
                   h[SD_INODE_OFF_STORE_POLICY]);
        return -ENOTSUP;
    }
    if (hdr64(h, SD_INODE_OFF_VDI_SIZE) >
        sheep_obj_size(shift) * SD_MAX_DATA_OBJS) {
        error_setg(errp, "sheepdog: inode %" PRIx32 " has vdi_size %" PRIu64
                   " beyond the limit of its object size", vid,
                   hdr64(h, SD_INODE_OFF_VDI_SIZE));
        return -EIO;
    }
    return 0;
}

static void sheep_hdr_apply(BDRVSheepdogState *s, const uint8_t *h)
{
    memcpy(s->hdr, h, SD_INODE_HEADER_SIZE);
    s->vid = hdr32(h, SD_INODE_OFF_VDI_ID);
    s->shift = h[SD_INODE_OFF_BLOCK_SHIFT];
    s->size = hdr64(h, SD_INODE_OFF_VDI_SIZE);
    s->copies = h[SD_INODE_OFF_NR_COPIES] ? h[SD_INODE_OFF_NR_COPIES] : 1;
}

static void sheep_req_init(struct sd_req *r, uint8_t op, uint16_t flags,
                           uint32_t len)
{
    memset(r, 0, sizeof(*r));
    r->opcode = op;
    r->flags = flags;
    r->data_length = len;
}

static int sheep_res_errno(uint32_t res)
{
    switch (res) {
    case SD_RES_SUCCESS:
        return 0;
    case SD_RES_NO_VDI:
    case SD_RES_NO_TAG:
        return -ENOENT;
    case SD_RES_VDI_LOCKED:
        return -EBUSY;
    case SD_RES_VDI_EXIST:
        return -EEXIST;
    case SD_RES_NO_SPACE:
        return -ENOSPC;
    case SD_RES_INVALID_PARMS:
        return -EINVAL;
    default:
        return -EIO;
    }
}

/* GET_VDI_INFO or LOCK_VDI: name (+ tag, snapid) -> vid (§5.7). */
static int sheep_lookup(SocketAddress *addr, const char *name, const char *tag,
                        uint32_t snapid, bool lock, uint32_t *vid, Error **errp)
{
    uint8_t buf[SD_NAME_LEN + SD_TAG_LEN] = { 0 };
    struct sd_req req;
    struct sd_rsp rsp;
    int ret;

    pstrcpy((char *)buf, SD_NAME_LEN, name);
    if (tag) {
        memcpy(buf + SD_NAME_LEN, tag, strnlen(tag, SD_TAG_LEN));
    }
    sheep_req_init(&req, lock ? SD_OP_LOCK_VDI : SD_OP_GET_VDI_INFO,
                   SD_FLAG_CMD_WRITE, sizeof(buf));
    req.proto_ver = 1;
    req.vdi.snapid = snapid;
    ret = sheep_sync_req(addr, &req, buf, NULL, 0, &rsp, errp);
    if (ret < 0) {
        return ret;
    }
    if (rsp.result != SD_RES_SUCCESS) {
        if (rsp.result == SD_RES_NO_TAG || (rsp.result == SD_RES_NO_VDI &&
                                            ((tag && tag[0]) || snapid))) {
            char idbuf[16];

            snprintf(idbuf, sizeof(idbuf), "%" PRIu32, snapid);
            error_setg(errp, "sheepdog: VDI '%s' has no snapshot %s%s", name,
                       tag && tag[0] ? "tagged " : "with ID ",
                       tag && tag[0] ? tag : idbuf);
        } else if (rsp.result == SD_RES_NO_VDI) {
            error_setg(errp, "sheepdog: no VDI named '%s'", name);
        } else {
            error_setg(errp, "sheepdog: looking up VDI '%s' failed: %s", name,
                       sheep_result_str(rsp.result));
        }
        return sheep_res_errno(rsp.result);
    }
    if (rsp.vdi.vdi_id == 0 || rsp.vdi.vdi_id >= SD_NR_VDIS) {
        error_setg(errp, "sheepdog: server answered invalid vid %" PRIx32,
                   rsp.vdi.vdi_id);
        return -EIO;
    }
    *vid = rsp.vdi.vdi_id;
    return 0;
}

static int sheep_obj_read_sync(QIOChannelSocket *sioc, SocketAddress *addr,
                               uint64_t oid, uint64_t off, uint32_t len,
                               void *buf, uint16_t flags, Error **errp)
{
    struct sd_req req;
    struct sd_rsp rsp;
    int ret;

    sheep_req_init(&req, SD_OP_READ_OBJ, flags, len);
    req.obj.oid = oid;
    req.obj.offset = off;
    ret = sioc ? sheep_sync_do(sioc, &req, NULL, buf, len, &rsp, errp)
               : sheep_sync_req(addr, &req, NULL, buf, len, &rsp, errp);
    if (ret < 0) {
        return ret;
    }
    if (rsp.result != SD_RES_SUCCESS || rsp.data_length != len) {
        error_setg(errp, "sheepdog: reading object %" PRIx64 " failed: %s",
                   oid, rsp.result ? sheep_result_str(rsp.result)
                                   : "short reply");
        return -EIO;
    }
    return 0;
}

static int sheep_obj_write_sync(BDRVSheepdogState *s, uint64_t oid,
                                uint64_t off, uint32_t len, const void *buf,
                                Error **errp)
{
    struct sd_req req;
    struct sd_rsp rsp;
    int ret;

    sheep_req_init(&req, SD_OP_WRITE_OBJ, SD_FLAG_CMD_WRITE | s->cache_flag,
                   len);
    req.obj.oid = oid;
    req.obj.offset = off;
    req.obj.copies = s->copies;
    ret = sheep_sync_req(s->addr, &req, buf, NULL, 0, &rsp, errp);
    if (ret < 0) {
        return ret;
    }
    if (rsp.result != SD_RES_SUCCESS) {
        error_setg(errp, "sheepdog: writing object %" PRIx64 " failed: %s",
                   oid, sheep_result_str(rsp.result));
        return sheep_res_errno(rsp.result);
    }
    return 0;
}

/* Read the whole QEMU-view inode of vid into s (§4.3). */
static int sheep_load_inode(BDRVSheepdogState *s, uint32_t vid, Error **errp)
{
    g_autofree uint8_t *buf = g_try_malloc(SD_INODE_SIZE);
    const uint8_t *ix;
    int ret;

    if (!buf) {
        error_setg(errp, "sheepdog: out of memory for the inode");
        return -ENOMEM;
    }
    ret = sheep_obj_read_sync(NULL, s->addr, sd_inode_oid(vid), 0,
                              SD_INODE_SIZE, buf, s->cache_flag, errp);
    if (ret < 0) {
        return ret;
    }
    ret = sheep_hdr_check(buf, vid, errp);
    if (ret < 0) {
        return ret;
    }
    sheep_hdr_apply(s, buf);
    ix = buf + SD_INODE_INDEX_OFF;
    for (uint32_t i = 0; i < SD_MAX_DATA_OBJS; i++) {
        uint32_t v = sd_get32(ix + 4 * i);

        if (v >= SD_NR_VDIS) {
            error_setg(errp, "sheepdog: inode %" PRIx32 " index slot %" PRIu32
                       " holds invalid vid %" PRIx32, vid, i, v);
            return -EIO;
        }
        /* slots beyond the disk size are kept but never used */
        s->index[i] = v;
    }
    return 0;
}

static int sheep_load_hdr(BDRVSheepdogState *s, uint32_t vid, uint8_t *h,
                          Error **errp)
{
    int ret = sheep_obj_read_sync(NULL, s->addr, sd_inode_oid(vid), 0,
                                  SD_INODE_HEADER_SIZE, h, s->cache_flag, errp);

    return ret < 0 ? ret : sheep_hdr_check(h, vid, errp);
}

/* ---- options and open --------------------------------------------------------- */

static QemuOptsList sheep_runtime_opts = {
    .name = "sheepdog",
    .head = QTAILQ_HEAD_INITIALIZER(sheep_runtime_opts.head),
    .desc = {
        { .name = "vdi", .type = QEMU_OPT_STRING, .help = "VDI name" },
        { .name = "snap-id", .type = QEMU_OPT_NUMBER,
          .help = "snapshot ID (not 0)" },
        { .name = "tag", .type = QEMU_OPT_STRING, .help = "snapshot tag" },
        { .name = "reconnect-delay", .type = QEMU_OPT_NUMBER,
          .help = "seconds between reconnection attempts (default 1)" },
        { .name = "reconnect-timeout", .type = QEMU_OPT_NUMBER,
          .help = "seconds without server after which I/O fails "
                  "(default 60)" },
        { /* end of list */ }
    },
};

static void sheep_parse_filename(const char *filename, QDict *options,
                                 Error **errp)
{
    sheep_loc_parse(filename, options, errp);
}

static SocketAddress *sheep_server_config(QDict *options, Error **errp)
{
    SocketAddress *saddr = NULL;
    QDict *addr = NULL;
    Visitor *iv;

    qdict_extract_subqdict(options, &addr, "server.");
    if (!qdict_size(addr)) {
        error_setg(errp, "sheepdog: server address missing (server.host or "
                   "server.path)");
        qobject_unref(addr);
        return NULL;
    }
    iv = qobject_input_visitor_new_flat_confused(addr, errp);
    if (iv) {
        visit_type_SocketAddress(iv, NULL, &saddr, errp);
        visit_free(iv);
    }
    qobject_unref(addr);
    return saddr;
}

static int sheep_open(BlockDriverState *bs, QDict *options, int flags,
                      Error **errp)
{
    BDRVSheepdogState *s = bs->opaque;
    QemuOpts *opts;
    const char *vdi, *tag;
    uint64_t snap_id, delay, timeout;
    uint32_t vid;
    int ret;

    opts = qemu_opts_create(&sheep_runtime_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        ret = -EINVAL;
        goto out_opts;
    }
    s->addr = sheep_server_config(options, errp);
    if (!s->addr) {
        ret = -EINVAL;
        goto out_opts;
    }
    vdi = qemu_opt_get(opts, "vdi");
    tag = qemu_opt_get(opts, "tag");
    snap_id = qemu_opt_get_number(opts, "snap-id", 0);
    delay = qemu_opt_get_number(opts, "reconnect-delay",
                                SHEEP_RECONNECT_DELAY_DEFAULT);
    timeout = qemu_opt_get_number(opts, "reconnect-timeout",
                                  SHEEP_RECONNECT_TIMEOUT_DEFAULT);
    if (!vdi || !vdi[0]) {
        error_setg(errp, "sheepdog: parameter 'vdi' is missing");
        ret = -EINVAL;
        goto out_addr;
    }
    if (strlen(vdi) >= SD_NAME_LEN || (tag && strlen(tag) >= SD_TAG_LEN)) {
        error_setg(errp, "sheepdog: '%s' is longer than %d bytes",
                   strlen(vdi) >= SD_NAME_LEN ? "vdi" : "tag", 255);
        ret = -EINVAL;
        goto out_addr;
    }
    if (qemu_opt_find(opts, "snap-id") && (snap_id == 0 ||
                                           snap_id > UINT32_MAX)) {
        error_setg(errp, "sheepdog: 'snap-id' must be 1..4294967295");
        ret = -EINVAL;
        goto out_addr;
    }
    if (delay == 0 || delay > 3600 || timeout > 86400) {
        error_setg(errp, "sheepdog: 'reconnect-delay' must be 1..3600 and "
                   "'reconnect-timeout' at most 86400 seconds");
        ret = -EINVAL;
        goto out_addr;
    }
    pstrcpy(s->name, sizeof(s->name), vdi);
    pstrcpy(s->tag, sizeof(s->tag), tag ? tag : "");
    s->snap_id = snap_id;
    s->at_snapshot = snap_id || s->tag[0];
    s->cache_flag = (flags & BDRV_O_NOCACHE) ? SD_FLAG_CMD_DIRECT
                                              : SD_FLAG_CMD_CACHE;
    qemu_co_mutex_init(&s->meta_lock);
    qemu_co_queue_init(&s->range_q);
    QLIST_INIT(&s->ranges);

    s->index = g_try_new0(uint32_t, SD_MAX_DATA_OBJS);
    if (!s->index) {
        error_setg(errp, "sheepdog: out of memory for the data index");
        ret = -ENOMEM;
        goto out_addr;
    }
    ret = sheep_conn_open(&s->conn, s->addr, bdrv_get_aio_context(bs),
                          delay * NANOSECONDS_PER_SECOND,
                          timeout * NANOSECONDS_PER_SECOND, errp);
    if (ret < 0) {
        goto out_index;
    }
    ret = sheep_lookup(s->addr, s->name, s->tag, s->snap_id, true, &vid, errp);
    if (ret < 0) {
        goto out_conn;
    }
    ret = sheep_load_inode(s, vid, errp);
    if (ret < 0) {
        goto out_conn;
    }
    if (s->at_snapshot && hdr64(s->hdr, SD_INODE_OFF_SNAP_CTIME) == 0) {
        error_setg(errp, "sheepdog: VDI %" PRIx32 " found for the snapshot is "
                   "not a snapshot", vid);
        ret = -EIO;
        goto out_conn;
    }
    qemu_opts_del(opts);
    return 0;

out_conn:
    sheep_conn_close(&s->conn);
out_index:
    g_free(s->index);
    s->index = NULL;
out_addr:
    qapi_free_SocketAddress(s->addr);
    s->addr = NULL;
out_opts:
    qemu_opts_del(opts);
    return ret;
}

static void sheep_close(BlockDriverState *bs)
{
    BDRVSheepdogState *s = bs->opaque;
    struct sd_req req;
    struct sd_rsp rsp;
    Error *err = NULL;
    size_t len = strlen(s->name) + 1;

    /* RELEASE_VDI of the current vid; the server does not lock (§5.7). */
    sheep_req_init(&req, SD_OP_RELEASE_VDI, SD_FLAG_CMD_WRITE, len);
    req.vdi.base_vdi_id = s->vid;
    if (sheep_sync_req(s->addr, &req, s->name, NULL, 0, &rsp, &err) < 0) {
        error_free(err);
    } else if (rsp.result != SD_RES_SUCCESS &&
               rsp.result != SD_RES_VDI_NOT_LOCKED) {
        error_report("sheepdog: releasing VDI '%s' failed: %s", s->name,
                     sheep_result_str(rsp.result));
    }
    sheep_conn_close(&s->conn);
    g_free(s->index);
    qapi_free_SocketAddress(s->addr);
}

static int64_t sheep_getlength(BlockDriverState *bs)
{
    BDRVSheepdogState *s = bs->opaque;

    return s->size;
}

static void sheep_refresh_limits(BlockDriverState *bs, Error **errp)
{
    BDRVSheepdogState *s = bs->opaque;

    bs->bl.pdiscard_alignment = sheep_obj_size(s->shift);
}

static int sheep_reopen_prepare(BDRVReopenState *state,
                                BlockReopenQueue *queue, Error **errp)
{
    return 0;
}

static void sheep_reopen_commit(BDRVReopenState *state)
{
    BDRVSheepdogState *s = state->bs->opaque;

    s->cache_flag = (state->flags & BDRV_O_NOCACHE) ? SD_FLAG_CMD_DIRECT
                                                     : SD_FLAG_CMD_CACHE;
}

static void sheep_detach_aio_context(BlockDriverState *bs)
{
    BDRVSheepdogState *s = bs->opaque;

    sheep_conn_detach(&s->conn);
}

static void sheep_attach_aio_context(BlockDriverState *bs, AioContext *ctx)
{
    BDRVSheepdogState *s = bs->opaque;

    sheep_conn_attach(&s->conn, ctx);
}

/* ---- branch: the working VDI becomes a clone of a snapshot (§7.9) ------ */

static int sheep_branch(BDRVSheepdogState *s, uint32_t snap_vid,
                        const uint8_t *snap_hdr, Error **errp)
{
    uint8_t name[SD_NAME_LEN] = { 0 };
    struct sd_req req;
    struct sd_rsp rsp;
    bool deleted;
    int ret;

    pstrcpy((char *)name, sizeof(name), s->name);
    /* Delete the current working VDI (its state is what goto discards). */
    sheep_req_init(&req, SD_OP_DEL_VDI, SD_FLAG_CMD_WRITE, SD_NAME_LEN);
    ret = sheep_sync_req(s->addr, &req, name, NULL, 0, &rsp, errp);
    if (ret < 0) {
        return ret;
    }
    deleted = rsp.result == SD_RES_SUCCESS || rsp.result == SD_RES_NO_VDI;

    sheep_req_init(&req, SD_OP_NEW_VDI, SD_FLAG_CMD_WRITE, SD_NAME_LEN);
    req.vdi.vdi_size = hdr64(snap_hdr, SD_INODE_OFF_VDI_SIZE);
    req.vdi.base_vdi_id = snap_vid;
    req.vdi.copies = snap_hdr[SD_INODE_OFF_NR_COPIES];
    req.vdi.copy_policy = snap_hdr[SD_INODE_OFF_COPY_POLICY];
    req.vdi.block_size_shift = snap_hdr[SD_INODE_OFF_BLOCK_SHIFT];
    req.vdi.snapid = deleted ? 0 : 1;
    ret = sheep_sync_req(s->addr, &req, name, NULL, 0, &rsp, errp);
    if (ret < 0) {
        return ret;
    }
    if (rsp.result != SD_RES_SUCCESS) {
        error_setg(errp, "sheepdog: creating the working VDI of '%s' from "
                   "snapshot %" PRIx32 " failed: %s", s->name, snap_vid,
                   sheep_result_str(rsp.result));
        return sheep_res_errno(rsp.result);
    }
    ret = sheep_load_inode(s, rsp.vdi.vdi_id, errp);
    if (ret < 0) {
        return ret;
    }
    s->at_snapshot = false;
    s->snap_id = 0;
    s->tag[0] = '\0';
    return 0;
}

/* Re-read the working VDI's header after a READONLY reply: someone else
 * took a snapshot. The index is kept; its slots now name an ancestor, so
 * later writes become COW creates (§7.13). */
static int coroutine_fn sheep_reload_working(BDRVSheepdogState *s)
{
    uint8_t h[SD_INODE_HEADER_SIZE];
    Error *err = NULL;
    uint32_t vid;
    int ret;

    qemu_co_mutex_lock(&s->meta_lock);
    ret = sheep_lookup(s->addr, s->name, "", 0, false, &vid, &err);
    if (ret == 0 && vid != s->vid) {
        ret = sheep_load_hdr(s, vid, h, &err);
        if (ret == 0) {
            sheep_hdr_apply(s, h);
        }
    }
    qemu_co_mutex_unlock(&s->meta_lock);
    if (ret < 0) {
        error_report_err(err);
    }
    return ret;
}

static int coroutine_fn sheep_ensure_writable(BDRVSheepdogState *s)
{
    Error *err = NULL;
    int ret = 0;

    if (!s->at_snapshot) {
        return 0;
    }
    qemu_co_mutex_lock(&s->meta_lock);
    if (s->at_snapshot) {
        uint8_t h[SD_INODE_HEADER_SIZE];

        memcpy(h, s->hdr, sizeof(h));
        ret = sheep_branch(s, s->vid, h, &err);
    }
    qemu_co_mutex_unlock(&s->meta_lock);
    if (ret < 0) {
        error_report_err(err);
    }
    return ret;
}

/* ---- object ranges being modified ------------------------------------------ */

static void coroutine_fn sheep_range_lock(BDRVSheepdogState *s,
                                          SheepRange *rg)
{
    SheepRange *o;

again:
    QLIST_FOREACH(o, &s->ranges, link) {
        if (o->first <= rg->last && rg->first <= o->last) {
            qemu_co_queue_wait(&s->range_q, NULL);
            goto again;
        }
    }
    QLIST_INSERT_HEAD(&s->ranges, rg, link);
}

static void coroutine_fn sheep_range_unlock(BDRVSheepdogState *s,
                                            SheepRange *rg)
{
    QLIST_REMOVE(rg, link);
    qemu_co_queue_restart_all(&s->range_q);
}

/* ---- I/O ----------------------------------------------------------------- */

static int coroutine_fn sheep_co_preadv(BlockDriverState *bs, int64_t offset,
                                        int64_t bytes, QEMUIOVector *qiov,
                                        BdrvRequestFlags flags)
{
    BDRVSheepdogState *s = bs->opaque;
    uint64_t osz = sheep_obj_size(s->shift);
    uint64_t pos = offset, end = offset + bytes;
    size_t n = (bytes >> s->shift) + 2, k = 0;
    g_autofree SheepReq *reqs = g_new0(SheepReq, n);
    SheepWait w = { 0 };
    int ret = 0;

    while (pos < end) {
        uint32_t idx = pos >> s->shift;
        uint64_t in = pos & (osz - 1);
        uint64_t len = MIN(osz - in, end - pos);
        uint32_t slot = idx < SD_MAX_DATA_OBJS ? s->index[idx] : 0;

        if (slot == 0) {
            qemu_iovec_memset(qiov, pos - offset, 0, len);
        } else {
            SheepReq *r = &reqs[k++];

            sheep_req_init(&r->hdr, SD_OP_READ_OBJ, s->cache_flag, len);
            r->hdr.obj.oid = sd_data_oid(slot, idx);
            r->hdr.obj.offset = in;
            r->hdr.obj.copies = s->copies;
            r->qiov = qiov;
            r->qoff = pos - offset;
            sheep_conn_submit(&s->conn, r, &w);
        }
        pos += len;
    }
    sheep_wait_all(&w);
    for (size_t i = 0; i < k; i++) {
        if (reqs[i].err || reqs[i].result != SD_RES_SUCCESS) {
            error_report("sheepdog: reading object %" PRIx64 " failed: %s",
                         reqs[i].hdr.obj.oid, reqs[i].err ? "connection lost"
                         : sheep_result_str(reqs[i].result));
            ret = -EIO;
        }
    }
    return ret;
}

/* Write the index slots [first, last] of the working inode from memory. */
static int coroutine_fn sheep_index_write(BDRVSheepdogState *s, uint32_t first,
                                          uint32_t last, uint32_t *result)
{
    uint32_t n = last - first + 1;
    g_autofree uint8_t *buf = g_malloc(4 * n);
    QEMUIOVector q;
    SheepReq r = { 0 };
    SheepWait w = { 0 };

    for (uint32_t i = 0; i < n; i++) {
        sd_put32(buf + 4 * i, s->index[first + i]);
    }
    qemu_iovec_init_buf(&q, buf, 4 * n);
    sheep_req_init(&r.hdr, SD_OP_WRITE_OBJ, SD_FLAG_CMD_WRITE | s->cache_flag,
                   4 * n);
    r.hdr.obj.oid = sd_inode_oid(s->vid);
    r.hdr.obj.offset = SD_INODE_INDEX_OFF + 4 * (uint64_t)first;
    r.hdr.obj.copies = s->copies;
    r.qiov = &q;
    sheep_conn_submit(&s->conn, &r, &w);
    sheep_wait_all(&w);
    *result = r.err ? SD_RES_EIO : r.result;
    return *result == SD_RES_SUCCESS ? 0 : -EIO;
}

static int coroutine_fn sheep_co_pwritev(BlockDriverState *bs, int64_t offset,
                                         int64_t bytes, QEMUIOVector *qiov,
                                         BdrvRequestFlags flags)
{
    BDRVSheepdogState *s = bs->opaque;
    uint64_t osz, end = offset + bytes;
    SheepRange rg;
    size_t n;
    g_autofree SheepReq *reqs = NULL;
    g_autofree bool *redo = NULL;
    g_autofree uint32_t *prev = NULL;   /* slot values before this write */
    uint32_t created_lo = UINT32_MAX, created_hi = 0, res;
    int ret = 0, attempt;
    bool locked = false;

    if (bytes <= 0) {
        return 0;
    }
    ret = sheep_ensure_writable(s);
    if (ret < 0) {
        return ret;
    }
    osz = sheep_obj_size(s->shift);
    n = (bytes >> s->shift) + 2;
    reqs = g_new0(SheepReq, n);
    redo = g_new(bool, n);
    prev = g_new0(uint32_t, n);
    for (size_t i = 0; i < n; i++) {
        redo[i] = true;
    }
    rg.first = offset >> s->shift;
    rg.last = (end - 1) >> s->shift;
    /* Overwrites of own objects run in parallel; anything that creates an
     * object (or races with a discard) is serialized per object range so
     * two creates of one object cannot overtake each other. */
    for (uint32_t i = rg.first; i <= rg.last; i++) {
        if (s->index[i] != s->vid) {
            locked = true;
            break;
        }
    }
    if (locked) {
        sheep_range_lock(s, &rg);
    }

    for (attempt = 0; attempt < 3; attempt++) {
        SheepWait w = { 0 };
        uint64_t pos = offset;
        size_t k = 0;
        bool again = false;

        while (pos < end) {
            uint32_t idx = pos >> s->shift;
            uint64_t in = pos & (osz - 1);
            uint64_t len = MIN(osz - in, end - pos);
            SheepReq *r = &reqs[k];

            if (redo[k]) {
                uint32_t slot = s->index[idx];

                prev[k] = slot;
                if (slot == s->vid) {
                    sheep_req_init(&r->hdr, SD_OP_WRITE_OBJ,
                                   SD_FLAG_CMD_WRITE | s->cache_flag, len);
                } else {
                    /* first write: create, copying the ancestor's object */
                    sheep_req_init(&r->hdr, SD_OP_CREATE_AND_WRITE_OBJ,
                                   SD_FLAG_CMD_WRITE | s->cache_flag, len);
                    if (slot) {
                        r->hdr.flags |= SD_FLAG_CMD_COW;
                        r->hdr.obj.cow_oid = sd_data_oid(slot, idx);
                    }
                }
                r->hdr.obj.oid = sd_data_oid(s->vid, idx);
                r->hdr.obj.offset = in;
                r->hdr.obj.copies = s->copies;
                r->qiov = qiov;
                r->qoff = pos - offset;
                sheep_conn_submit(&s->conn, r, &w);
            }
            k++;
            pos += len;
        }
        sheep_wait_all(&w);

        pos = offset;
        for (size_t i = 0; i < k; i++, pos = (pos | (osz - 1)) + 1) {
            SheepReq *r = &reqs[i];
            uint32_t idx = pos >> s->shift;

            if (!redo[i]) {
                continue;
            }
            redo[i] = false;
            if (!r->err && r->result == SD_RES_SUCCESS) {
                if (r->hdr.opcode == SD_OP_CREATE_AND_WRITE_OBJ) {
                    s->index[idx] = s->vid;
                    created_lo = MIN(created_lo, idx);
                    created_hi = MAX(created_hi, idx);
                }
            } else if (!r->err && r->result == SD_RES_READONLY) {
                redo[i] = again = true;
            } else {
                error_report("sheepdog: %s of object %" PRIx64 " failed: %s",
                             sd_opcode_name(r->hdr.opcode), r->hdr.obj.oid,
                             r->err ? "connection lost"
                                    : sheep_result_str(r->result));
                ret = -EIO;
            }
        }
        if (!again) {
            break;
        }
        if (!locked) {
            /* the retry turns overwrites into creates */
            sheep_range_lock(s, &rg);
            locked = true;
        }
        if (sheep_reload_working(s) < 0) {
            ret = -EIO;
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (redo[i] && i < (size_t)(rg.last - rg.first + 1)) {
            ret = -EIO;
        }
    }
    if (created_lo <= created_hi &&
        sheep_index_write(s, created_lo, created_hi, &res) < 0) {
        error_report("sheepdog: updating the index of VDI '%s' failed: %s",
                     s->name, sheep_result_str(res));
        /* The server's index does not name the new objects: forget them
         * too, so the next write creates them again (§6.3 replaces). */
        for (uint32_t i = created_lo; i <= created_hi; i++) {
            if (s->index[i] == s->vid && prev[i - rg.first] != s->vid) {
                s->index[i] = prev[i - rg.first];
            }
        }
        ret = -EIO;
    }
    s->need_flush = true;
    if (locked) {
        sheep_range_unlock(s, &rg);
    }
    return ret;
}

static int coroutine_fn sheep_co_flush(BlockDriverState *bs)
{
    BDRVSheepdogState *s = bs->opaque;
    SheepReq r = { 0 };
    SheepWait w = { 0 };

    if (s->cache_flag != SD_FLAG_CMD_CACHE || !s->need_flush) {
        return 0;
    }
    s->need_flush = false;
    sheep_req_init(&r.hdr, SD_OP_FLUSH_VDI, SD_FLAG_CMD_CACHE, 0);
    r.hdr.obj.oid = sd_inode_oid(s->vid);
    r.hdr.obj.copies = s->copies;
    sheep_conn_submit(&s->conn, &r, &w);
    sheep_wait_all(&w);
    if (!r.err && r.result == SD_RES_INVALID_PARMS) {
        /* the server acknowledges only durable writes (§6.4) */
        s->cache_flag = SD_FLAG_CMD_DIRECT;
        return 0;
    }
    if (r.err || r.result != SD_RES_SUCCESS) {
        s->need_flush = true;
        error_report("sheepdog: flush of VDI '%s' failed: %s", s->name,
                     r.err ? "connection lost" : sheep_result_str(r.result));
        return -EIO;
    }
    return 0;
}

/* Whole objects only: their index slots become 0 (§7.6). */
static int coroutine_fn sheep_co_pdiscard(BlockDriverState *bs,
                                          int64_t offset, int64_t bytes)
{
    BDRVSheepdogState *s = bs->opaque;
    uint64_t osz = sheep_obj_size(s->shift);
    uint64_t first = DIV_ROUND_UP((uint64_t)offset, osz);
    uint64_t end = offset + bytes, last;
    bool changed = false;
    SheepRange rg;
    uint32_t res;
    int ret;

    if (end == s->size) {
        end = ROUND_UP(end, osz);    /* the partial last object counts */
    }
    if (end / osz <= first || s->discard_off) {
        return 0;
    }
    last = end / osz - 1;
    ret = sheep_ensure_writable(s);
    if (ret < 0) {
        return ret;
    }
    rg.first = first;
    rg.last = last;
    sheep_range_lock(s, &rg);
    for (uint64_t i = first; i <= last; i++) {
        changed |= s->index[i] != 0;
        s->index[i] = 0;
    }
    ret = 0;
    if (changed && sheep_index_write(s, first, last, &res) < 0) {
        if (res == SD_RES_INVALID_PARMS) {
            s->discard_off = true;
        } else {
            ret = -EIO;
        }
    }
    s->need_flush = true;
    sheep_range_unlock(s, &rg);
    return ret;
}

static int coroutine_fn sheep_co_block_status(BlockDriverState *bs,
                                              bool want_zero, int64_t offset,
                                              int64_t bytes, int64_t *pnum,
                                              int64_t *map,
                                              BlockDriverState **file)
{
    BDRVSheepdogState *s = bs->opaque;
    uint64_t osz = sheep_obj_size(s->shift);
    uint64_t pos = offset, end = offset + bytes;
    bool alloc = s->index[pos >> s->shift] != 0;

    while (pos < end && (s->index[pos >> s->shift] != 0) == alloc) {
        pos = (pos | (osz - 1)) + 1;
    }
    *pnum = MIN(pos, end) - offset;
    *map = offset;
    *file = bs;
    return (alloc ? BDRV_BLOCK_DATA : BDRV_BLOCK_ZERO) | BDRV_BLOCK_OFFSET_VALID;
}

static int coroutine_fn sheep_co_truncate(BlockDriverState *bs, int64_t offset,
                                          bool exact, PreallocMode prealloc,
                                          BdrvRequestFlags flags, Error **errp)
{
    BDRVSheepdogState *s = bs->opaque;
    uint8_t h[SD_INODE_HEADER_SIZE];
    int ret;

    if (prealloc != PREALLOC_MODE_OFF) {
        error_setg(errp, "sheepdog: only preallocation=off is supported");
        return -ENOTSUP;
    }
    if ((uint64_t)offset < s->size) {
        error_setg(errp, "sheepdog: shrinking is not supported");
        return -ENOTSUP;
    }
    if ((uint64_t)offset > sheep_obj_size(s->shift) * SD_MAX_DATA_OBJS) {
        error_setg(errp, "sheepdog: %" PRId64 " bytes exceed the limit of "
                   "%" PRIu64 " for this object size", offset,
                   sheep_obj_size(s->shift) * SD_MAX_DATA_OBJS);
        return -EINVAL;
    }
    if (s->at_snapshot) {
        error_setg(errp, "sheepdog: cannot resize a snapshot");
        return -EPERM;
    }
    memcpy(h, s->hdr, sizeof(h));
    sd_put64(h + SD_INODE_OFF_VDI_SIZE, offset);
    ret = sheep_obj_write_sync(s, sd_inode_oid(s->vid), 0, sizeof(h), h, errp);
    if (ret < 0) {
        return ret;
    }
    sheep_hdr_apply(s, h);
    s->need_flush = true;
    return 0;
}

/* ---- create ----------------------------------------------------------- */

static QemuOptsList sheep_create_opts = {
    .name = "sheepdog-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(sheep_create_opts.head),
    .desc = {
        { .name = BLOCK_OPT_SIZE, .type = QEMU_OPT_SIZE,
          .help = "Virtual disk size" },
        { .name = BLOCK_OPT_BACKING_FILE, .type = QEMU_OPT_STRING,
          .help = "Snapshot to clone from (a sheepdog location)" },
        { .name = BLOCK_OPT_BACKING_FMT, .type = QEMU_OPT_STRING,
          .help = "Format of the backing image (sheepdog or raw)" },
        { .name = BLOCK_OPT_PREALLOC, .type = QEMU_OPT_STRING,
          .help = "Preallocation mode (allowed values: off)" },
        { .name = BLOCK_OPT_REDUNDANCY, .type = QEMU_OPT_STRING,
          .help = "Redundancy: number of copies (x) or erasure code (x:y)" },
        { .name = BLOCK_OPT_OBJECT_SIZE, .type = QEMU_OPT_SIZE,
          .help = "Object size (power of two, 1M..2G)" },
        { /* end of list */ }
    },
};

/* A location string -> server address, name, tag, snapid. */
static int sheep_loc_resolve(const char *filename, SocketAddress **addr,
                             char *name, char *tag, uint32_t *snapid,
                             Error **errp)
{
    QDict *o = qdict_new();
    Error *err = NULL;
    const char *v;
    int ret = -EINVAL;

    sheep_loc_parse(filename, o, &err);
    if (err) {
        error_propagate(errp, err);
        goto out;
    }
    pstrcpy(name, SD_NAME_LEN, qdict_get_try_str(o, "vdi"));
    v = qdict_get_try_str(o, "tag");
    pstrcpy(tag, SD_TAG_LEN, v ? v : "");
    v = qdict_get_try_str(o, "snap-id");
    *snapid = v ? strtoul(v, NULL, 10) : 0;
    qdict_del(o, "vdi");
    qdict_del(o, "tag");
    qdict_del(o, "snap-id");
    *addr = sheep_server_config(o, errp);
    ret = *addr ? 0 : -EINVAL;
out:
    qobject_unref(o);
    return ret;
}

static int sheep_parse_redundancy(const char *str, uint8_t *copies,
                                  uint8_t *policy, Error **errp)
{
    unsigned long x, y;
    char *end;

    x = strtoul(str, &end, 10);
    if (end == str) {
        goto bad;
    }
    if (*end == '\0') {
        if (x < 1 || x > SD_MAX_COPIES) {
            goto bad;
        }
        *copies = x;
        *policy = 0;
        return 0;
    }
    if (*end != ':') {
        goto bad;
    }
    y = strtoul(end + 1, &end, 10);
    if (*end || (x != 2 && x != 4 && x != 8 && x != 16) || y < 1 || y > 15) {
        goto bad;
    }
    *copies = x + y;
    *policy = (x / 2) << 4 | y;
    return 0;
bad:
    error_setg(errp, "sheepdog: invalid redundancy '%s': use copies (1..31) "
               "or data:parity with data 2/4/8/16 and parity 1..15", str);
    return -EINVAL;
}

static int coroutine_fn sheep_co_create_opts(BlockDriver *drv,
                                             const char *filename,
                                             QemuOpts *opts, Error **errp)
{
    SocketAddress *addr = NULL;
    char name[SD_NAME_LEN], tag[SD_TAG_LEN];
    uint8_t namebuf[SD_NAME_LEN] = { 0 };
    g_autofree char *backing = NULL, *backing_fmt = NULL, *prealloc = NULL;
    g_autofree char *redundancy = NULL;
    uint64_t size, objsize;
    uint32_t snapid, base_vid = 0;
    uint8_t copies = 0, policy = 0;
    int shift = 0, ret;
    struct sd_req req;
    struct sd_rsp rsp;

    ret = sheep_loc_resolve(filename, &addr, name, tag, &snapid, errp);
    if (ret < 0) {
        return ret;
    }
    if (tag[0] || snapid) {
        error_setg(errp, "sheepdog: cannot create a snapshot location; "
                   "use qemu-img snapshot -c");
        ret = -EINVAL;
        goto out;
    }
    size = ROUND_UP(qemu_opt_get_size_del(opts, BLOCK_OPT_SIZE, 0),
                    BDRV_SECTOR_SIZE);
    backing = qemu_opt_get_del(opts, BLOCK_OPT_BACKING_FILE);
    backing_fmt = qemu_opt_get_del(opts, BLOCK_OPT_BACKING_FMT);
    prealloc = qemu_opt_get_del(opts, BLOCK_OPT_PREALLOC);
    redundancy = qemu_opt_get_del(opts, BLOCK_OPT_REDUNDANCY);
    objsize = qemu_opt_get_size_del(opts, BLOCK_OPT_OBJECT_SIZE, 0);

    if (prealloc && strcmp(prealloc, "off")) {
        error_setg(errp, "sheepdog: preallocation '%s' is not supported "
                   "(only off)", prealloc);
        ret = -ENOTSUP;
        goto out;
    }
    if (redundancy && sheep_parse_redundancy(redundancy, &copies, &policy,
                                             errp) < 0) {
        ret = -EINVAL;
        goto out;
    }
    if (objsize) {
        if (!is_power_of_2(objsize) || objsize < (1u << SD_MIN_SHIFT) ||
            objsize > (UINT64_C(1) << SD_MAX_SHIFT)) {
            error_setg(errp, "sheepdog: object_size must be a power of two "
                       "from 1M to 2G");
            ret = -EINVAL;
            goto out;
        }
        shift = ctz64(objsize);
    }
    if (backing) {
        SocketAddress *baddr = NULL;
        char bname[SD_NAME_LEN], btag[SD_TAG_LEN];
        uint8_t h[SD_INODE_HEADER_SIZE];
        uint32_t bsnap;
        BDRVSheepdogState tmp = { .cache_flag = SD_FLAG_CMD_CACHE };

        if (backing_fmt && strcmp(backing_fmt, "sheepdog") &&
            strcmp(backing_fmt, "raw")) {
            error_setg(errp, "sheepdog: backing_fmt must be sheepdog or raw");
            ret = -EINVAL;
            goto out;
        }
        ret = sheep_loc_resolve(backing, &baddr, bname, btag, &bsnap, errp);
        if (ret < 0) {
            goto out;
        }
        qapi_free_SocketAddress(baddr);     /* one server per image (§1.1) */
        tmp.addr = addr;
        ret = sheep_lookup(addr, bname, btag, bsnap, false, &base_vid, errp);
        if (ret == 0) {
            ret = sheep_load_hdr(&tmp, base_vid, h, errp);
        }
        if (ret < 0) {
            goto out;
        }
        if (hdr64(h, SD_INODE_OFF_SNAP_CTIME) == 0) {
            error_setg(errp, "sheepdog: cannot clone from '%s': it is not a "
                       "snapshot (name a snapshot, e.g. %s:TAG)", backing,
                       bname);
            ret = -EINVAL;
            goto out;
        }
        if (!shift) {
            shift = h[SD_INODE_OFF_BLOCK_SHIFT];    /* COW needs one size */
        } else if (shift != h[SD_INODE_OFF_BLOCK_SHIFT]) {
            error_setg(errp, "sheepdog: object_size differs from the base "
                       "snapshot's");
            ret = -EINVAL;
            goto out;
        }
        if (!size) {
            size = hdr64(h, SD_INODE_OFF_VDI_SIZE);
        }
    }
    if (!shift) {
        sheep_req_init(&req, SD_OP_GET_CLUSTER_DEFAULT, 0, 0);
        req.proto_ver = 1;
        ret = sheep_sync_req(addr, &req, NULL, NULL, 0, &rsp, errp);
        if (ret < 0) {
            goto out;
        }
        shift = rsp.result == SD_RES_SUCCESS ? rsp.cluster.block_size_shift : 0;
        if (shift < SD_MIN_SHIFT || shift > SD_MAX_SHIFT) {
            shift = SD_DEFAULT_SHIFT;
        }
    }
    if (size > sheep_obj_size(shift) * SD_MAX_DATA_OBJS) {
        error_setg(errp, "sheepdog: size %" PRIu64 " exceeds the limit of %"
                   PRIu64 " for %" PRIu64 "-byte objects", size,
                   sheep_obj_size(shift) * SD_MAX_DATA_OBJS,
                   sheep_obj_size(shift));
        ret = -EFBIG;
        goto out;
    }

    pstrcpy((char *)namebuf, sizeof(namebuf), name);
    sheep_req_init(&req, SD_OP_NEW_VDI, SD_FLAG_CMD_WRITE, SD_NAME_LEN);
    req.vdi.vdi_size = size;
    req.vdi.base_vdi_id = base_vid;
    req.vdi.copies = copies;
    req.vdi.copy_policy = policy;
    req.vdi.block_size_shift = shift;
    ret = sheep_sync_req(addr, &req, namebuf, NULL, 0, &rsp, errp);
    if (ret < 0) {
        goto out;
    }
    if (rsp.result != SD_RES_SUCCESS) {
        error_setg(errp, "sheepdog: creating VDI '%s' failed: %s", name,
                   rsp.result == SD_RES_VDI_EXIST ? "VDI exists already"
                                                  : sheep_result_str(rsp.result));
        ret = sheep_res_errno(rsp.result);
        goto out;
    }
    ret = 0;
out:
    qapi_free_SocketAddress(addr);
    return ret;
}

/* ---- snapshots -------------------------------------------------------- */

static int sheep_snapshot_create(BlockDriverState *bs, QEMUSnapshotInfo *sn)
{
    BDRVSheepdogState *s = bs->opaque;
    uint8_t h[SD_INODE_HEADER_SIZE], nh[SD_INODE_HEADER_SIZE];
    uint8_t name[SD_NAME_LEN] = { 0 };
    struct sd_req req;
    struct sd_rsp rsp;
    Error *err = NULL;
    int ret;

    if (s->at_snapshot) {
        error_report("sheepdog: cannot take a snapshot of a snapshot; open "
                     "the working VDI '%s'", s->name);
        return -EINVAL;
    }
    /* tag and VM state fields go into the header of what becomes the
     * snapshot; the new working VDI gets them cleared by the server */
    memcpy(h, s->hdr, sizeof(h));
    memset(h + SD_INODE_OFF_TAG, 0, SD_TAG_LEN);
    memcpy(h + SD_INODE_OFF_TAG, sn->name, strnlen(sn->name, SD_TAG_LEN));
    sd_put64(h + SD_INODE_OFF_VM_STATE_SIZE, sn->vm_state_size);
    sd_put64(h + SD_INODE_OFF_VM_CLOCK_NSEC, sn->vm_clock_nsec);
    ret = sheep_obj_write_sync(s, sd_inode_oid(s->vid), 0, sizeof(h), h, &err);
    if (ret < 0) {
        goto fail;
    }

    pstrcpy((char *)name, sizeof(name), s->name);
    sheep_req_init(&req, SD_OP_NEW_VDI, SD_FLAG_CMD_WRITE, SD_NAME_LEN);
    req.vdi.vdi_size = s->size;
    req.vdi.base_vdi_id = s->vid;
    req.vdi.copies = s->copies;
    req.vdi.copy_policy = s->hdr[SD_INODE_OFF_COPY_POLICY];
    req.vdi.block_size_shift = s->shift;
    req.vdi.snapid = 1;
    ret = sheep_sync_req(s->addr, &req, name, NULL, 0, &rsp, &err);
    if (ret == 0 && rsp.result != SD_RES_SUCCESS) {
        error_setg(&err, "sheepdog: taking snapshot '%s' of '%s' failed: %s",
                   sn->name, s->name, sheep_result_str(rsp.result));
        ret = sheep_res_errno(rsp.result);
    }
    if (ret < 0) {
        /* undo the tag: the VDI stays the working one */
        Error *e2 = NULL;

        if (sheep_obj_write_sync(s, sd_inode_oid(s->vid), 0, sizeof(s->hdr),
                                 s->hdr, &e2) < 0) {
            error_free(e2);
        }
        goto fail;
    }
    /* The new working VDI's index is an exact copy of ours (§5.6), so only
     * the header is re-read. */
    ret = sheep_load_hdr(s, rsp.vdi.vdi_id, nh, &err);
    if (ret < 0) {
        goto fail;
    }
    sheep_hdr_apply(s, nh);
    return 0;
fail:
    error_report_err(err);
    return ret;
}

/* Resolve a snapshot given as ID and/or name, as qemu-img passes them. */
static int sheep_snapshot_find(BDRVSheepdogState *s, const char *id,
                               const char *name, uint32_t *vid, uint8_t *h,
                               Error **errp)
{
    uint64_t snapid = 0;
    Error *err = NULL;
    int ret;

    if (id && *id) {
        if (qemu_strtou64(id, NULL, 10, &snapid) < 0 || snapid == 0 ||
            snapid > UINT32_MAX) {
            if (name && *name) {
                error_setg(errp, "sheepdog: invalid snapshot ID '%s'", id);
                return -EINVAL;
            }
            /* goto passes one string that may be a tag */
            name = id;
            snapid = 0;
        }
    }
    if (name && strlen(name) >= SD_TAG_LEN) {
        error_setg(errp, "sheepdog: snapshot name is too long");
        return -EINVAL;
    }
    ret = sheep_lookup(s->addr, s->name, snapid ? "" : (name ? name : ""),
                       snapid, false, vid, &err);
    if (ret == -ENOENT && snapid) {
        /* "2" may also be a tag; with both given, the name decides */
        const char *t = name && *name ? name : id;

        error_free(err);
        err = NULL;
        ret = sheep_lookup(s->addr, s->name, t, 0, false, vid, &err);
        if (ret == 0 && !(name && *name)) {
            snapid = 0;
        }
    }
    if (ret < 0) {
        error_propagate(errp, err);
        return ret;
    }
    ret = sheep_load_hdr(s, *vid, h, errp);
    if (ret < 0) {
        return ret;
    }
    if (hdr64(h, SD_INODE_OFF_SNAP_CTIME) == 0) {
        error_setg(errp, "sheepdog: %s is not a snapshot", id ? id : name);
        return -ENOENT;
    }
    if (snapid && name && *name &&
        strncmp((char *)h + SD_INODE_OFF_TAG, name, SD_TAG_LEN)) {
        error_setg(errp, "sheepdog: snapshot %s is not named '%s'", id, name);
        return -ENOENT;
    }
    return 0;
}

static int sheep_snapshot_goto(BlockDriverState *bs, const char *snapshot_id)
{
    BDRVSheepdogState *s = bs->opaque;
    uint8_t h[SD_INODE_HEADER_SIZE];
    Error *err = NULL;
    uint32_t vid;
    int ret;

    ret = sheep_snapshot_find(s, snapshot_id, NULL, &vid, h, &err);
    if (ret == 0) {
        ret = sheep_branch(s, vid, h, &err);
    }
    if (ret < 0) {
        error_report_err(err);
    }
    return ret;
}

static int sheep_snapshot_delete(BlockDriverState *bs, const char *snapshot_id,
                                 const char *name, Error **errp)
{
    BDRVSheepdogState *s = bs->opaque;
    uint8_t h[SD_INODE_HEADER_SIZE];
    uint8_t buf[SD_NAME_LEN + SD_TAG_LEN] = { 0 };
    struct sd_req req;
    struct sd_rsp rsp;
    uint32_t vid;
    int ret;

    ret = sheep_snapshot_find(s, snapshot_id, name, &vid, h, errp);
    if (ret < 0) {
        return ret;
    }
    if (s->at_snapshot && vid == s->vid) {
        error_setg(errp, "sheepdog: cannot delete the snapshot that is open");
        return -EBUSY;
    }
    /* Only the snapshot goes; the working VDI's index is left alone. */
    pstrcpy((char *)buf, SD_NAME_LEN, s->name);
    sheep_req_init(&req, SD_OP_DEL_VDI, SD_FLAG_CMD_WRITE, sizeof(buf));
    req.vdi.snapid = hdr32(h, SD_INODE_OFF_SNAP_ID);
    ret = sheep_sync_req(s->addr, &req, buf, NULL, 0, &rsp, errp);
    if (ret < 0) {
        return ret;
    }
    if (rsp.result != SD_RES_SUCCESS) {
        error_setg(errp, "sheepdog: deleting snapshot %" PRIu32 " of '%s' "
                   "failed: %s", req.vdi.snapid, s->name,
                   sheep_result_str(rsp.result));
        return sheep_res_errno(rsp.result);
    }
    if (rsp.vdi.vdi_id && rsp.vdi.vdi_id != vid) {
        error_setg(errp, "sheepdog: server deleted vid %" PRIx32 " instead "
                   "of %" PRIx32, rsp.vdi.vdi_id, vid);
        return -EIO;
    }
    return 0;
}

#define SHEEP_MAX_SNAPSHOTS 1024

static int sheep_snapshot_list(BlockDriverState *bs, QEMUSnapshotInfo **out)
{
    BDRVSheepdogState *s = bs->opaque;
    g_autofree uint8_t *bm = g_try_malloc(SD_BITMAP_SIZE);
    QEMUSnapshotInfo *sn;
    QIOChannelSocket *sioc = NULL;
    struct sd_req req;
    struct sd_rsp rsp;
    Error *err = NULL;
    uint32_t start, v;
    int n = 0, ret;

    *out = NULL;
    if (!bm) {
        return -ENOMEM;
    }
    sheep_req_init(&req, SD_OP_READ_VDIS, 0, SD_BITMAP_SIZE);
    ret = sheep_sync_req(s->addr, &req, NULL, bm, SD_BITMAP_SIZE, &rsp, &err);
    if (ret == 0 && (rsp.result != SD_RES_SUCCESS ||
                     rsp.data_length != SD_BITMAP_SIZE)) {
        error_setg(&err, "sheepdog: reading the VDI bitmap failed: %s",
                   rsp.result ? sheep_result_str(rsp.result) : "short reply");
        ret = -EIO;
    }
    if (ret < 0) {
        error_report_err(err);
        return ret;
    }
    sioc = sheep_sync_connect(s->addr, &err);
    if (!sioc) {
        error_report_err(err);
        return -EIO;
    }
    sn = g_new0(QEMUSnapshotInfo, SHEEP_MAX_SNAPSHOTS);
    /* All VDIs of one name sit in the run of set bits from the allocation
     * start (§5.3), which may wrap to vid 1. */
    start = sd_vid_start(s->name, SD_NAME_LEN);
    for (v = start; sd_bitmap_test(bm, v) && n < SHEEP_MAX_SNAPSHOTS;) {
        uint8_t h[SD_INODE_HEADER_SIZE];
        uint64_t ctime;

        if (sheep_obj_read_sync(sioc, NULL, sd_inode_oid(v), 0, sizeof(h), h,
                                s->cache_flag, &err) < 0) {
            /* a broken stream cannot be reused; one bad entry is skipped */
            error_free(err);
            err = NULL;
            object_unref(OBJECT(sioc));
            sioc = sheep_sync_connect(s->addr, &err);
            if (!sioc) {
                error_report_err(err);
                g_free(sn);
                return -EIO;
            }
        } else if (!strncmp((char *)h, s->name, SD_NAME_LEN) &&
                   (ctime = hdr64(h, SD_INODE_OFF_SNAP_CTIME)) != 0) {
            QEMUSnapshotInfo *e = &sn[n++];

            snprintf(e->id_str, sizeof(e->id_str), "%" PRIu32,
                     hdr32(h, SD_INODE_OFF_SNAP_ID));
            memcpy(e->name, h + SD_INODE_OFF_TAG, sizeof(e->name) - 1);
            e->date_sec = ctime >> 32;
            e->date_nsec = (uint32_t)ctime;
            e->vm_state_size = hdr64(h, SD_INODE_OFF_VM_STATE_SIZE);
            e->vm_clock_nsec = hdr64(h, SD_INODE_OFF_VM_CLOCK_NSEC);
            e->icount = -1ULL;
        }
        v = (v + 1) & SD_VID_MASK;
        if (v == 0) {
            v = 1;
        }
        if (v == start) {
            break;
        }
    }
    object_unref(OBJECT(sioc));
    *out = sn;
    return n;
}

/* ---- VM state (savevm/loadvm, §6.5) -------------------------------------
 * Saved into vmstate objects of the working vid, which becomes the snapshot
 * right after; loaded from the parent of the working VDI that snapshot goto
 * made. Objects are created when a chunk starts at offset 0 of one. */
static int coroutine_fn sheep_vmstate_rw(BlockDriverState *bs,
                                         QEMUIOVector *qiov, int64_t pos,
                                         bool load)
{
    BDRVSheepdogState *s = bs->opaque;
    uint64_t osz = sheep_obj_size(s->shift);
    uint64_t p = pos, end = pos + qiov->size;
    uint32_t vid = load ? hdr32(s->hdr, SD_INODE_OFF_PARENT_VDI_ID) : s->vid;
    size_t n = (qiov->size >> s->shift) + 2, k = 0;
    g_autofree SheepReq *reqs = g_new0(SheepReq, n);
    SheepWait w = { 0 };
    int ret = 0;

    if (pos < 0 || vid == 0 || vid >= SD_NR_VDIS) {
        error_report("sheepdog: no VM state to %s for VDI '%s'",
                     load ? "load" : "save", s->name);
        return -EINVAL;
    }
    while (p < end) {
        uint64_t idx = p >> s->shift;
        uint64_t in = p & (osz - 1);
        uint64_t len = MIN(osz - in, end - p);
        SheepReq *r = &reqs[k++];

        if (idx >= SD_MAX_DATA_OBJS) {
            ret = -EFBIG;
            break;
        }
        if (load) {
            sheep_req_init(&r->hdr, SD_OP_READ_OBJ, s->cache_flag, len);
        } else {
            sheep_req_init(&r->hdr, in ? SD_OP_WRITE_OBJ
                                       : SD_OP_CREATE_AND_WRITE_OBJ,
                           SD_FLAG_CMD_WRITE | s->cache_flag, len);
        }
        r->hdr.obj.oid = sd_vmstate_oid(vid, idx);
        r->hdr.obj.offset = in;
        r->hdr.obj.copies = s->copies;
        r->qiov = qiov;
        r->qoff = p - pos;
        sheep_conn_submit(&s->conn, r, &w);
        p += len;
    }
    sheep_wait_all(&w);
    for (size_t i = 0; i < k; i++) {
        if (reqs[i].err || reqs[i].result != SD_RES_SUCCESS) {
            error_report("sheepdog: %s of VM state object %" PRIx64
                         " failed: %s", sd_opcode_name(reqs[i].hdr.opcode),
                         reqs[i].hdr.obj.oid, reqs[i].err ? "connection lost"
                         : sheep_result_str(reqs[i].result));
            ret = -EIO;
        }
    }
    if (!load) {
        s->need_flush = true;
    }
    return ret;
}

static int coroutine_fn sheep_save_vmstate(BlockDriverState *bs,
                                           QEMUIOVector *qiov, int64_t pos)
{
    return sheep_vmstate_rw(bs, qiov, pos, false);
}

static int coroutine_fn sheep_load_vmstate(BlockDriverState *bs,
                                           QEMUIOVector *qiov, int64_t pos)
{
    return sheep_vmstate_rw(bs, qiov, pos, true);
}

/* sheepdog://HOST:PORT/VDI[#SNAP] or sheepdog+unix:///VDI?socket=PATH[#SNAP] */
static void sheep_refresh_filename(BlockDriverState *bs)
{
    BDRVSheepdogState *s = bs->opaque;
    char snap[SD_TAG_LEN + 16] = "";

    if (s->at_snapshot) {
        if (s->tag[0]) {
            snprintf(snap, sizeof(snap), "#%s", s->tag);
        } else {
            snprintf(snap, sizeof(snap), "#%" PRIu32, s->snap_id);
        }
    }
    if (s->addr->type == SOCKET_ADDRESS_TYPE_INET) {
        const char *host = s->addr->u.inet.host;
        bool v6 = strchr(host, ':') != NULL;

        snprintf(bs->exact_filename, sizeof(bs->exact_filename),
                 "sheepdog://%s%s%s:%s/%s%s", v6 ? "[" : "", host,
                 v6 ? "]" : "", s->addr->u.inet.port, s->name, snap);
    } else if (s->addr->type == SOCKET_ADDRESS_TYPE_UNIX) {
        snprintf(bs->exact_filename, sizeof(bs->exact_filename),
                 "sheepdog+unix:///%s?socket=%s%s", s->name,
                 s->addr->u.q_unix.path, snap);
    }
}

static char *sheep_dirname(BlockDriverState *bs, Error **errp)
{
    error_setg(errp, "sheepdog: VDIs have no directory name; give backing "
               "files as full sheepdog locations");
    return NULL;
}

/* ---- registration ------------------------------------------------------ */

static const char *const sheep_strong_runtime_opts[] = {
    "vdi", "snap-id", "tag", "server.", NULL
};

#define SHEEP_DRIVER_COMMON                                              \
    .format_name = "sheepdog",                                           \
    .instance_size = sizeof(BDRVSheepdogState),                          \
    .bdrv_parse_filename = sheep_parse_filename,                         \
    .bdrv_file_open = sheep_open,                                        \
    .bdrv_close = sheep_close,                                           \
    .bdrv_refresh_filename = sheep_refresh_filename,                     \
    .bdrv_dirname = sheep_dirname,                                       \
    .bdrv_reopen_prepare = sheep_reopen_prepare,                         \
    .bdrv_reopen_commit = sheep_reopen_commit,                           \
    .bdrv_co_create_opts = sheep_co_create_opts,                         \
    .create_opts = &sheep_create_opts,                                   \
    .bdrv_has_zero_init = bdrv_has_zero_init_1,                          \
    .bdrv_getlength = sheep_getlength,                                   \
    .bdrv_refresh_limits = sheep_refresh_limits,                         \
    .bdrv_co_truncate = sheep_co_truncate,                               \
    .bdrv_co_preadv = sheep_co_preadv,                                   \
    .bdrv_co_pwritev = sheep_co_pwritev,                                 \
    .bdrv_co_flush_to_disk = sheep_co_flush,                             \
    .bdrv_co_pdiscard = sheep_co_pdiscard,                               \
    .bdrv_co_block_status = sheep_co_block_status,                       \
    .bdrv_snapshot_create = sheep_snapshot_create,                       \
    .bdrv_snapshot_goto = sheep_snapshot_goto,                           \
    .bdrv_snapshot_delete = sheep_snapshot_delete,                       \
    .bdrv_snapshot_list = sheep_snapshot_list,                           \
    .bdrv_save_vmstate = sheep_save_vmstate,                             \
    .bdrv_load_vmstate = sheep_load_vmstate,                             \
    .bdrv_detach_aio_context = sheep_detach_aio_context,                 \
    .bdrv_attach_aio_context = sheep_attach_aio_context,                 \
    .strong_runtime_opts = sheep_strong_runtime_opts

static BlockDriver bdrv_sheepdog = {
    .protocol_name = "sheepdog",
    SHEEP_DRIVER_COMMON,
};

static BlockDriver bdrv_sheepdog_tcp = {
    .protocol_name = "sheepdog+tcp",
    SHEEP_DRIVER_COMMON,
};

static BlockDriver bdrv_sheepdog_unix = {
    .protocol_name = "sheepdog+unix",
    SHEEP_DRIVER_COMMON,
};

static void bdrv_sheepdog_init(void)
{
    bdrv_register(&bdrv_sheepdog);
    bdrv_register(&bdrv_sheepdog_tcp);
    bdrv_register(&bdrv_sheepdog_unix);
}

block_init(bdrv_sheepdog_init);
