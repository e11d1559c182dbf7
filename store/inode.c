/*
 * inode.c: QEMU's view of an inode (§4.3) from a catalog record, and the
 * rules for what a client may write into it (§6.2).
 *
 * The header is synthesised, so a header write is checked by overlaying the
 * written bytes on the current synthesised header and comparing: QEMU
 * writes back exactly what it read, except the fields it owns.
 */
#include <string.h>

#include "store/store_int.h"

void inode_header_build(const struct meta_vdi *v, uint8_t *hdr)
{
	memset(hdr, 0, SD_INODE_HEADER_SIZE);
	if (!v->deleted) {
		memcpy(hdr + SD_INODE_OFF_NAME, v->name, SD_NAME_LEN);
		memcpy(hdr + SD_INODE_OFF_TAG, v->tag, SD_TAG_LEN);
		sd_put64(hdr + SD_INODE_OFF_VDI_SIZE, v->vdi_size);
	}
	sd_put64(hdr + SD_INODE_OFF_CREATE_TIME, v->create_time);
	sd_put64(hdr + SD_INODE_OFF_SNAP_CTIME, v->snap_ctime);
	sd_put64(hdr + SD_INODE_OFF_VM_CLOCK_NSEC, v->vm_clock_nsec);
	sd_put64(hdr + SD_INODE_OFF_VM_STATE_SIZE, v->vm_state_size);
	hdr[SD_INODE_OFF_COPY_POLICY] = v->copy_policy;
	hdr[SD_INODE_OFF_STORE_POLICY] = v->store_policy;
	hdr[SD_INODE_OFF_NR_COPIES] = v->nr_copies;
	hdr[SD_INODE_OFF_BLOCK_SHIFT] = v->block_size_shift;
	sd_put32(hdr + SD_INODE_OFF_SNAP_ID, v->snap_id);
	sd_put32(hdr + SD_INODE_OFF_VDI_ID, v->vid);
	sd_put32(hdr + SD_INODE_OFF_PARENT_VDI_ID, v->parent_vid);
	/* children area [568, 4664): zero (QEMU ignores it, writes it back) */
}

/* Byte ranges of the header a client may change. */
static int header_byte_writable(size_t i)
{
	return (i >= SD_INODE_OFF_TAG && i < SD_INODE_OFF_TAG + SD_TAG_LEN) ||
	       (i >= SD_INODE_OFF_VM_CLOCK_NSEC && i < SD_INODE_OFF_COPY_POLICY);
}

int inode_header_apply(const struct meta_vdi *cur, uint64_t off, const uint8_t *buf, size_t len,
		       struct meta_vdi *out, int *changed)
{
	uint8_t old[SD_INODE_HEADER_SIZE], hdr[SD_INODE_HEADER_SIZE];

	*out = *cur;
	*changed = 0;
	if (off >= SD_INODE_HEADER_SIZE)
		return SD_RES_SUCCESS;
	if (len > SD_INODE_HEADER_SIZE - off)
		len = SD_INODE_HEADER_SIZE - off;
	inode_header_build(cur, old);
	memcpy(hdr, old, sizeof(hdr));
	memcpy(hdr + off, buf, len);
	for (size_t i = off; i < off + len; i++)
		if (hdr[i] != old[i] && !header_byte_writable(i))
			return SD_RES_INVALID_PARMS;
	if (!memcmp(hdr, old, sizeof(hdr)))
		return SD_RES_SUCCESS;

	uint64_t size = sd_get64(hdr + SD_INODE_OFF_VDI_SIZE);
	/* resize: grow only, within QEMU's own limit (§4.2) */
	if (size < cur->vdi_size || size > inode_max_size(cur->block_size_shift))
		return SD_RES_INVALID_PARMS;
	memcpy(out->tag, hdr + SD_INODE_OFF_TAG, SD_TAG_LEN);
	out->vm_clock_nsec = sd_get64(hdr + SD_INODE_OFF_VM_CLOCK_NSEC);
	out->vm_state_size = sd_get64(hdr + SD_INODE_OFF_VM_STATE_SIZE);
	out->vdi_size = size;
	*changed = 1;
	return SD_RES_SUCCESS;
}

int inode_index_check(uint32_t vid, const uint8_t *cur, uint64_t a, uint64_t b,
		      uint64_t off, const uint8_t *buf, size_t len)
{
	for (uint64_t s = a; s < b; s += 4) {
		uint8_t slot[4];
		memcpy(slot, cur + (s - a), 4);
		for (unsigned k = 0; k < 4; k++)
			if (s + k >= off && s + k < off + len)
				slot[k] = buf[s + k - off];
		uint32_t nv = sd_get32(slot), ov = sd_get32(cur + (s - a));
		if (nv != 0 && nv != vid && nv != ov)
			return SD_RES_INVALID_PARMS;
	}
	return SD_RES_SUCCESS;
}
