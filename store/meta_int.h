/*
 * meta_int.h: helpers shared by meta.c and meta_codec.c (and the unit
 * test). Not part of the store/ contract.
 */
#ifndef STORE_META_INT_H
#define STORE_META_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store/meta.h"

/* Lock records and single-u64 "misc" values, same rules as meta.h's codecs:
 * encode 0/-EINVAL/-ENOMEM (*buf malloc'd), decode 0/-EBADMSG/-ENOMEM. */
int meta__lock_encode(const struct meta_lock *l, void **buf, size_t *len);
int meta__lock_decode(const void *buf, size_t len, struct meta_lock *l);
int meta__u64_encode(uint64_t v, void **buf, size_t *len);
int meta__u64_decode(const void *buf, size_t len, uint64_t *v);

#endif
