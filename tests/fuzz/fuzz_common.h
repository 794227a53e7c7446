/* fuzz_common.h - what the libFuzzer targets in tests/fuzz share: a root APR
 * pool (each input gets its own child pool, destroyed after it), copying an
 * input into an exact-size C string, and the fixed keys, clock and policy
 * the seed corpora were made with (fuzz_jose.c). */
#ifndef NSSO_FUZZ_COMMON_H
#define NSSO_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <apr_pools.h>

/* The clock of every target and seed (2023-11-14T22:13:20Z). */
#define NSSO_FUZZ_NOW 1700000000LL
#define NSSO_FUZZ_ISS "https://sign-in-dev.hmpps.service.justice.gov.uk/auth/issuer"
/* State/crypto passphrases: the first seals, both open. */
#define NSSO_FUZZ_PASS1 "fuzz-passphrase-current-3c9e0d6b8a1f4e27b5d0c6a9f1e2d3c4"
#define NSSO_FUZZ_PASS2 "fuzz-passphrase-previous-7a1b2c3d4e5f60718293a4b5c6d7e8f9"

/* A fresh pool for one input (child of a process-wide root, created with
 * apr_initialize on first use). Destroy it before returning. */
apr_pool_t *nsso_fuzz_pool(void);
/* The root pool, for objects made once (keys). */
apr_pool_t *nsso_fuzz_root(void);

/* data[0..size) copied into exactly size + 1 bytes, NUL-terminated (so an
 * input holding a NUL is seen up to it, as a header would be). */
char *nsso_fuzz_cstr(apr_pool_t *p, const uint8_t *data, size_t size);

/* Report a broken invariant (a finding even without a memory error). */
void nsso_fuzz_fail(const char *target, const char *what)
    __attribute__((noreturn));
#define NSSO_FUZZ_CHECK(target, cond) \
    do { if (!(cond)) nsso_fuzz_fail(target, #cond); } while (0)

#endif
