/*
 * sheepdog-loc.c: the `sheepdog` location syntaxes (spec §8.1, §8.2),
 * turned into the driver's block options (spec §8.3).
 *
 *   sheepdog:[HOST:PORT:]VDI[:SNAPID|:TAG]
 *   sheepdog[+tcp]://[HOST[:PORT]]/VDI[#SNAPID|#TAG]
 *   sheepdog+unix:///VDI?socket=PATH[#SNAPID|#TAG]
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qmp/qdict.h"
#include "qemu/ctype.h"
#include "qemu/cutils.h"
#include "qemu/uri.h"
#include "sheepdog-int.h"

/* The snapshot part: all decimal digits -> snapshot id, otherwise a tag. */
static bool sheep_loc_put_snap(const char *snap, QDict *options, Error **errp)
{
    uint64_t id;

    if (!snap || !*snap) {
        return true;
    }
    if (qemu_isdigit(snap[0]) && qemu_strtou64(snap, NULL, 10, &id) == 0) {
        if (id == 0 || id > UINT32_MAX) {
            error_setg(errp, "sheepdog: '%s' is not a valid snapshot ID", snap);
            return false;
        }
        qdict_put_str(options, "snap-id", snap);
        return true;
    }
    if (strlen(snap) >= SD_TAG_LEN) {
        error_setg(errp, "sheepdog: snapshot tag is longer than %d bytes",
                   SD_TAG_LEN - 1);
        return false;
    }
    qdict_put_str(options, "tag", snap);
    return true;
}

static bool sheep_loc_put_vdi(const char *vdi, QDict *options, Error **errp)
{
    if (!vdi || !*vdi) {
        error_setg(errp, "sheepdog: the VDI name is missing");
        return false;
    }
    if (strlen(vdi) >= SD_NAME_LEN) {
        error_setg(errp, "sheepdog: the VDI name is longer than %d bytes",
                   SD_NAME_LEN - 1);
        return false;
    }
    qdict_put_str(options, "vdi", vdi);
    return true;
}

static void sheep_loc_put_inet(QDict *options, const char *host, int port)
{
    g_autofree char *ps = g_strdup_printf("%d", port > 0 ? port : SD_DEFAULT_PORT);

    qdict_put_str(options, "server.type", "inet");
    qdict_put_str(options, "server.host", host && *host ? host : "localhost");
    qdict_put_str(options, "server.port", ps);
}

static void sheep_loc_parse_uri(const char *filename, QDict *options,
                                Error **errp)
{
    URI *uri = uri_parse(filename);
    QueryParams *qp = NULL;
    bool is_unix;

    if (!uri) {
        error_setg(errp, "sheepdog: cannot parse URI '%s'", filename);
        return;
    }
    if (!g_strcmp0(uri->scheme, "sheepdog") ||
        !g_strcmp0(uri->scheme, "sheepdog+tcp")) {
        is_unix = false;
    } else if (!g_strcmp0(uri->scheme, "sheepdog+unix")) {
        is_unix = true;
    } else {
        error_setg(errp, "sheepdog: URI scheme must be sheepdog, "
                   "sheepdog+tcp or sheepdog+unix");
        goto out;
    }
    if (!uri->path || !uri->path[0] || !strcmp(uri->path, "/")) {
        error_setg(errp, "sheepdog: the URI names no VDI (path is empty)");
        goto out;
    }
    qp = query_params_parse(uri->query);
    if (is_unix) {
        if (uri->server || uri->port) {
            error_setg(errp, "sheepdog+unix: a host or port is not allowed");
            goto out;
        }
        if (qp->n != 1 || strcmp(qp->p[0].name, "socket") ||
            !qp->p[0].value || !qp->p[0].value[0]) {
            error_setg(errp, "sheepdog+unix: exactly one query parameter, "
                       "socket=PATH, is required");
            goto out;
        }
        qdict_put_str(options, "server.type", "unix");
        qdict_put_str(options, "server.path", qp->p[0].value);
    } else {
        if (qp->n) {
            error_setg(errp, "sheepdog: query parameters are only allowed "
                       "with sheepdog+unix");
            goto out;
        }
        sheep_loc_put_inet(options, uri->server, uri->port);
    }
    if (!sheep_loc_put_vdi(uri->path + 1, options, errp)) {
        goto out;
    }
    sheep_loc_put_snap(uri->fragment, options, errp);
out:
    if (qp) {
        query_params_free(qp);
    }
    uri_free(uri);
}

/* sheepdog:[HOST:PORT:]VDI[:SNAP]: with two or more colons after the
 * prefix the first two fields are the address. */
static void sheep_loc_parse_legacy(const char *filename, QDict *options,
                                   Error **errp)
{
    g_autofree char *buf = NULL;
    char *p, *vdi, *snap;
    const char *host = NULL;
    int port = 0, colons = 0;

    if (g_str_has_prefix(filename, "sheepdog:")) {
        filename += strlen("sheepdog:");
    }
    buf = g_strdup(filename);
    for (p = buf; *p; p++) {
        colons += *p == ':';
    }
    vdi = buf;
    if (colons >= 2) {
        char *c1 = strchr(buf, ':');
        char *c2 = strchr(c1 + 1, ':');
        uint64_t v;

        *c1 = *c2 = '\0';
        host = buf;
        if (qemu_strtou64(c1 + 1, NULL, 10, &v) < 0 || v > 65535) {
            error_setg(errp, "sheepdog: '%s' is not a valid port", c1 + 1);
            return;
        }
        port = (int)v;
        vdi = c2 + 1;
    }
    snap = strchr(vdi, ':');
    if (snap) {
        *snap++ = '\0';
    }
    if (!sheep_loc_put_vdi(vdi, options, errp)) {
        return;
    }
    if (!sheep_loc_put_snap(snap, options, errp)) {
        return;
    }
    sheep_loc_put_inet(options, host, port);
}

void sheep_loc_parse(const char *filename, QDict *options, Error **errp)
{
    if (strstr(filename, "://")) {
        sheep_loc_parse_uri(filename, options, errp);
    } else {
        sheep_loc_parse_legacy(filename, options, errp);
    }
}
