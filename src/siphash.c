/* siphash.c - SipHash-2-4 (Aumasson & Bernstein, 2012): a keyed 64-bit
 * hash. Pure: no httpd, no state. Used where an attacker chooses what is
 * hashed (the store's bucket index, bearer.c's per-child token slots), so
 * that without the random key no input can be aimed at one bucket. */
#include "siphash.h"

#include <string.h>

static apr_uint64_t rotl64(apr_uint64_t x, unsigned b)
{
    return (x << b) | (x >> (64 - b));
}

static apr_uint64_t load_le64(const unsigned char *b, apr_size_t n)
{
    apr_uint64_t v = 0;
    apr_size_t i;

#if !APR_IS_BIGENDIAN
    if (n == 8) {
        memcpy(&v, b, 8); /* one load where the byte order is already right */
        return v;
    }
#endif
    for (i = 0; i < n; i++)
        v |= (apr_uint64_t)b[i] << (8 * i);
    return v;
}

/* The four state words. Passed by value and given back, so that once
 * inlined they live in registers (a function on an array of them, called
 * per round, was half of a cached bearer token's hashing). */
typedef struct {
    apr_uint64_t v0, v1, v2, v3;
} sip_state;

static inline sip_state sip_round(sip_state s)
{
    s.v0 += s.v1; s.v1 = rotl64(s.v1, 13); s.v1 ^= s.v0; s.v0 = rotl64(s.v0, 32);
    s.v2 += s.v3; s.v3 = rotl64(s.v3, 16); s.v3 ^= s.v2;
    s.v0 += s.v3; s.v3 = rotl64(s.v3, 21); s.v3 ^= s.v0;
    s.v2 += s.v1; s.v1 = rotl64(s.v1, 17); s.v1 ^= s.v2; s.v2 = rotl64(s.v2, 32);
    return s;
}

static inline sip_state sip_absorb(sip_state s, apr_uint64_t m)
{
    s.v3 ^= m;
    s = sip_round(sip_round(s));
    s.v0 ^= m;
    return s;
}

apr_uint64_t nsso_siphash24(const unsigned char key[16], const void *msg,
                            apr_size_t len)
{
    const unsigned char *in = msg;
    apr_uint64_t k0 = load_le64(key, 8), k1 = load_le64(key + 8, 8);
    sip_state s = { k0 ^ APR_UINT64_C(0x736f6d6570736575), k1 ^ APR_UINT64_C(0x646f72616e646f6d),
                    k0 ^ APR_UINT64_C(0x6c7967656e657261), k1 ^ APR_UINT64_C(0x7465646279746573) };
    apr_size_t off;

    for (off = 0; len - off >= 8; off += 8)
        s = sip_absorb(s, load_le64(in + off, 8));
    /* len > off guard: msg may be NULL when len is 0 */
    s = sip_absorb(s, (len > off ? load_le64(in + off, len - off) : 0)
                      | ((apr_uint64_t)(len & 0xff) << 56));
    s.v2 ^= 0xff;
    s = sip_round(sip_round(sip_round(sip_round(s))));
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
