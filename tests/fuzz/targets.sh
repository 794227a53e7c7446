# tests/fuzz/targets.sh - sourced by build, replay and run: the fuzz
# targets and the longest input each is fuzzed with (-max_len), sized to
# what the module would let through (HTTP header fields up to 8 KB, tokens
# up to NSSO_JWT_MAX_LEN 16384 plus a margin to cross it, answers from
# HMPPS Auth a few KB).
NSSO_FUZZ_TARGETS="cookie redirect util state state_plain crypto_open \
jwt_verify jwt_signed jwt_claims jwks token_response caseload session directive \
discovery session_index"

nsso_fuzz_max_len() {
    case $1 in
    cookie|redirect|util|crypto_open|state|caseload) echo 8192 ;;
    state_plain|directive) echo 4096 ;;
    jwt_verify) echo 16500 ;;
    jwt_signed) echo 8192 ;;      # payload; the token is ~4/3 of it
    jwt_claims) echo 12800 ;;     # payload; long ones cross the 16384 limit
    jwks|token_response|session|discovery|session_index) echo 16384 ;;
    *) echo 4096 ;;
    esac
}
