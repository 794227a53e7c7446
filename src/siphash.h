/* siphash.h - SipHash-2-4, the keyed hash for tables whose keys an
 * attacker chooses (pure layer). */
#ifndef NSSO_SIPHASH_H
#define NSSO_SIPHASH_H

#include <apr.h>

/* SipHash-2-4 of len bytes at msg (NULL allowed when len is 0) under a
 * 128-bit key. */
apr_uint64_t nsso_siphash24(const unsigned char key[16], const void *msg,
                            apr_size_t len);

#endif
