/* store_shm.h - the embedded session store: fixed-size slots in one shared
 * memory segment, shared by every child process, guarded by one robust
 * lock. A keyed hash (SipHash-2-4, key random per segment) indexes the
 * slots so crafted keys cannot flood one bucket; expired entries are reused
 * first, then the least recently used entry that is not a session, and only
 * when there is none the least recently used session. Every write of a
 * slot gets a generation of its own, so a reader can ask whether a value
 * it read is still there without reading it again (get_known, store.h).
 *
 * The segment layout is self-describing (magic, version, geometry, hash key)
 * so a segment created by the parent survives graceful restarts: post_config
 * re-attaches with init = 0 when the geometry still matches. */
#ifndef NSSO_STORE_SHM_H
#define NSSO_STORE_SHM_H

#include "store.h"

/* Bytes at the start of the segment that hold the store's lock (the rest
 * is the header and the index). */
#define NSSO_SHM_LOCK_AREA 64

/* Geometry limits: slot links inside the segment are 32-bit indices. */
#define NSSO_SHM_MAX_ENTRIES   ((apr_size_t)1 << 24)
#define NSSO_SHM_MAX_SLOT_SIZE ((apr_size_t)1 << 24)

/* Bytes of shared memory needed for this geometry (header + index + slots);
 * 0 when entries or slot_size is 0 or above the limits. */
apr_size_t nsso_shm_store_size(apr_size_t entries, apr_size_t slot_size);

/* Bind a store to memory at base (size bytes, from nsso_shm_store_size).
 * init = 1 formats the segment (new random hash key, and the store's own
 * robust, process-shared lock in its first bytes); init = 0 checks the
 * header and returns APR_EMISMATCH if it was formatted for another geometry
 * (caller then creates a new segment). The nsso_store is allocated from p. */
apr_status_t nsso_shm_store_attach(apr_pool_t *p, void *base, apr_size_t size,
                                   apr_size_t entries, apr_size_t slot_size,
                                   int init, nsso_store **out);

/* Walks the whole index under the lock (O(entries)): free list, hash chains,
 * LRU lists and counters must agree. APR_EGENERAL when they do not, and the
 * index is left as it is; APR_EINVAL if s is not a shared-memory store. The
 * same walk decides, after a process died holding the lock, whether the
 * index must be reformatted; operations reformat it themselves (and return
 * APR_EGENERAL) when they run into a broken index. The tests' and the
 * benchmark's oracle: the module does not call it. */
apr_status_t nsso_shm_store_check(nsso_store *s);

#endif
