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

/* One SipRound on the four state words, kept in registers (a function on
 * an array of them was half of a cached bearer token's hashing). */
#define SIP_ROUND(v0, v1, v2, v3)                                             \
    do {                                                                      \
        v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32);         \
        v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                              \
        v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                              \
        v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32);         \
    } while (0)

#define SIP_ABSORB(v0, v1, v2, v3, m)                                         \
    do {                                                                      \
        v3 ^= (m);                                                            \
        SIP_ROUND(v0, v1, v2, v3);                                            \
        SIP_ROUND(v0, v1, v2, v3);                                            \
        v0 ^= (m);                                                            \
    } while (0)

apr_uint64_t nsso_siphash24(const unsigned char key[16], const void *msg,
                            apr_size_t len)
{
    const unsigned char *in = msg;
    apr_uint64_t k0 = load_le64(key, 8), k1 = load_le64(key + 8, 8), m;
    apr_uint64_t v0 = k0 ^ APR_UINT64_C(0x736f6d6570736575);
    apr_uint64_t v1 = k1 ^ APR_UINT64_C(0x646f72616e646f6d);
    apr_uint64_t v2 = k0 ^ APR_UINT64_C(0x6c7967656e657261);
    apr_uint64_t v3 = k1 ^ APR_UINT64_C(0x7465646279746573);
    apr_size_t off;

    for (off = 0; len - off >= 8; off += 8) {
        m = load_le64(in + off, 8);
        SIP_ABSORB(v0, v1, v2, v3, m);
    }
    /* len > off guard: msg may be NULL when len is 0 */
    m = (len > off ? load_le64(in + off, len - off) : 0) | ((apr_uint64_t)(len & 0xff) << 56);
    SIP_ABSORB(v0, v1, v2, v3, m);
    v2 ^= 0xff;
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    SIP_ROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}
