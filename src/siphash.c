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

static void sip_round(apr_uint64_t v[4])
{
    v[0] += v[1]; v[1] = rotl64(v[1], 13); v[1] ^= v[0]; v[0] = rotl64(v[0], 32);
    v[2] += v[3]; v[3] = rotl64(v[3], 16); v[3] ^= v[2];
    v[0] += v[3]; v[3] = rotl64(v[3], 21); v[3] ^= v[0];
    v[2] += v[1]; v[1] = rotl64(v[1], 17); v[1] ^= v[2]; v[2] = rotl64(v[2], 32);
}

static void sip_absorb(apr_uint64_t v[4], apr_uint64_t m)
{
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

apr_uint64_t nsso_siphash24(const unsigned char key[16], const void *msg,
                            apr_size_t len)
{
    const unsigned char *in = msg;
    apr_uint64_t k0 = load_le64(key, 8), k1 = load_le64(key + 8, 8);
    apr_uint64_t v[4];
    apr_size_t off;

    v[0] = k0 ^ APR_UINT64_C(0x736f6d6570736575);
    v[1] = k1 ^ APR_UINT64_C(0x646f72616e646f6d);
    v[2] = k0 ^ APR_UINT64_C(0x6c7967656e657261);
    v[3] = k1 ^ APR_UINT64_C(0x7465646279746573);
    for (off = 0; len - off >= 8; off += 8)
        sip_absorb(v, load_le64(in + off, 8));
    /* len > off guard: msg may be NULL when len is 0 */
    sip_absorb(v, (len > off ? load_le64(in + off, len - off) : 0)
                  | ((apr_uint64_t)(len & 0xff) << 56));
    v[2] ^= 0xff;
    sip_round(v); sip_round(v); sip_round(v); sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}
