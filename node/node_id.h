/*
 * node_id.h: the files that give a node its gossip identity and keys.
 *
 *   DIR/node-id       "<32 lowercase hex>\n": the 128-bit node id, made
 *                     once (randombytes_buf), mode 0600, never rewritten.
 *   DIR/gossip-state  "incarnation N\n": the last incarnation used; the
 *                     daemon starts at N + 1 and saves every raise
 *                     (write tmp, fsync, rename, fsync DIR).
 *   key files         exactly 32 raw bytes, no group/other permission bits.
 *
 * A file that exists but does not parse is an error naming the file: a node
 * never silently takes a new identity (the cluster would see a stranger and
 * a dead twin).  Errors are one line in err; nothing here logs.
 */
#ifndef NODE_NODE_ID_H
#define NODE_NODE_ID_H

#include <stddef.h>
#include <stdint.h>

#define NODE_ID_LEN   16
#define NODE_KEY_LEN  32
#define NODE_ID_FILE  "node-id"
#define NODE_STATE_FILE "gossip-state"

/* Reads DIR/node-id, or creates it if absent. 0 loaded, 1 created, -1 (err set). */
int node_id_load_or_create(const char *dir, uint8_t id[NODE_ID_LEN], char *err, size_t errlen);

/* DIR/gossip-state: *inc = the saved incarnation, 0 when the file is absent.
 * 0 or -1 (err set: unreadable or corrupt). */
int node_state_load(const char *dir, uint64_t *inc, char *err, size_t errlen);
/* Durably replaces DIR/gossip-state. 0 or -1 (err set). */
int node_state_save(const char *dir, uint64_t inc, char *err, size_t errlen);

/* A cluster key file: regular, exactly 32 bytes, mode without group/other
 * bits. 0 or -1 (err names the file and the problem). */
int node_key_load(const char *path, uint8_t key[NODE_KEY_LEN], char *err, size_t errlen);
/* Writes a new random key to path (0600, O_EXCL: never overwrites). 0 or -1. */
int node_keygen(const char *path, char *err, size_t errlen);

/* 32 lowercase hex digits + NUL. */
void node_id_hex(const uint8_t id[NODE_ID_LEN], char out[2 * NODE_ID_LEN + 1]);
/* Exactly 32 hex digits (either case) -> id. 0 or -1. */
int node_id_parse(const char *s, size_t len, uint8_t id[NODE_ID_LEN]);

#endif
