/* seq.c: store_last_version (store.h). */
#include "store/store_int.h"

uint64_t store_last_version(struct store *st)
{
	return atomic_load(&st->seq);
}
