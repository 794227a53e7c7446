"""Bearer tokens for API callers through a real httpd and the dev auth server.

<Location /api> uses AuthType nomis-bearer (Require valid-user; /api/mgr
also needs the ALLOC_MGR role) and <Location /both> uses AuthType nomis-sso
with NomisSSOAcceptBearer On. Every URL runs env.cgi, so a served request
shows REMOTE_USER, AUTH_TYPE and the NOMIS_SSO_* environment.

Tokens come from a dev auth server of this module's own (real password and
client-credentials grants, or /__test__/mint for exact and hostile shapes).
NomisSSOClockSkew is 0 so that expiry is tested to the second.
"""

import base64
import json
import re
import threading
import time

import pytest
import requests

import harness as H
from harness import cgi_env
from conftest import _track, serving

API = "/api/env"
MGR = "/api/mgr/env"
BOTH = "/both/env"

XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
NAV = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def bearer_extra(h):
    d = h.dir
    return """
ScriptAliasMatch "^/api/" "{d}/cgi-bin/env.cgi"
ScriptAliasMatch "^/both/" "{d}/cgi-bin/env.cgi"
<Location /api>
    AuthType nomis-bearer
    Require valid-user
</Location>
<Location /api/mgr>
    Require nomis-role ALLOC_MGR
</Location>
<Location /both>
    AuthType nomis-sso
    NomisSSOAcceptBearer On
    Require valid-user
</Location>
""".format(d=d)


# the HttpdFactory options of this module's httpds
BEARER = dict(nsso_extra="NomisSSOClockSkew 0", extra=bearer_extra)


def call(h, path, token=None, authorization=None, headers=None, cookies=None, session=None):
    hdrs = dict(XHR)
    if token is not None:
        hdrs["Authorization"] = "Bearer " + token
    if authorization is not None:
        hdrs["Authorization"] = authorization
    hdrs.update(headers or {})
    return (session or requests).get(h.url(path), headers=hdrs, cookies=cookies,
                                     allow_redirects=False, timeout=15)


CHALLENGE_PARAM = re.compile(r'\s*([A-Za-z_]+)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_challenge(value):
    """'Bearer realm="x", error="y"' -> ('Bearer', {'realm': 'x', 'error': 'y'});
    fails on anything RFC 6750's syntax does not allow."""
    assert value, "no WWW-Authenticate header"
    scheme, _, rest = value.partition(" ")
    params = {}
    pos = 0
    while pos < len(rest):
        m = CHALLENGE_PARAM.match(rest, pos)
        assert m, "malformed challenge %r" % value
        assert m.group(1) not in params, "repeated attribute in %r" % value
        params[m.group(1)] = m.group(2)
        pos = m.end()
    return scheme, params


def assert_challenge(h, resp, error=None):
    """401 with a Bearer challenge; error=None means a bare challenge."""
    assert resp.status_code == 401, h.explain(resp, "expected 401")
    scheme, params = parse_challenge(resp.headers.get("WWW-Authenticate"))
    assert scheme == "Bearer", resp.headers.get("WWW-Authenticate")
    assert params.get("realm"), "no realm in %r" % resp.headers.get("WWW-Authenticate")
    if error is None:
        assert set(params) == {"realm"}, \
            "a request without a token gets a bare challenge (RFC 6750 3.1): %r" % params
    else:
        assert params.get("error") == error, params
        assert params.get("error_description"), "no error_description: %r" % params
    assert H.new_session_cookie(resp) is None, "a bearer refusal created a session"
    return params


def assert_served(h, resp, user, auth_type="nomis-bearer"):
    assert resp.status_code == 200, h.explain(resp, "bearer request not served")
    env = cgi_env(resp.text)
    assert env.get("REMOTE_USER") == user, env
    assert env.get("AUTH_TYPE") == auth_type, env
    assert H.new_session_cookie(resp) is None, "a bearer request created a session cookie"
    return env


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_grant(auth, **form):
    r = requests.post(auth.auth_url + "/oauth/token", data=form,
                      auth=(H.CLIENT_ID, H.CLIENT_SECRET), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


# ---------------------------------------------------------------------------
# fixtures: one dev auth server and one httpd for the module
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bauth():
    d = H.DevAuth().start()
    yield d
    d.cleanup()


@pytest.fixture(scope="module")
def bhttpd(module_httpd_factory, bauth):
    return module_httpd_factory(auth_url=bauth.auth_url, mpm="event", **BEARER)


@pytest.fixture
def auth(bauth, request):
    if bauth.proc is None or bauth.proc.poll() is not None:
        pytest.fail("devauth is down\n" + bauth.log_tail())
    bauth.clear_faults()
    _track(request, bauth)
    yield bauth
    bauth.clear_faults()


@pytest.fixture
def h(bhttpd, auth, request):
    return serving(request, bhttpd)


# ---------------------------------------------------------------------------
# valid tokens
# ---------------------------------------------------------------------------
def test_minted_user_token_served(h, auth):
    tok = auth.mint(username="ALLOC_SPO")["access_token"]
    r = call(h, API, tok)
    env = assert_served(h, r, "ALLOC_SPO")
    assert "ALLOC_MGR" in env.get("NOMIS_SSO_ROLES", "").split(","), env
    assert env.get("NOMIS_SSO_AUTH_SOURCE") == "nomis", env
    assert env.get("NOMIS_SSO_USER") == "ALLOC_SPO", env
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers
    # the token itself is not exposed unless NomisSSOPassAccessToken On
    assert tok not in r.text


def test_password_grant_token_served(h, auth):
    tok = token_grant(auth, grant_type="password", username="alloc_pom",
                      password=H.PASSWORD)
    env = assert_served(h, call(h, API, tok), "ALLOC_POM")
    assert env.get("NOMIS_SSO_ROLES") == "ALLOC_CASE_MGR", env


def test_code_flow_token_served(h, auth):
    """The access token a browser sign-in got, used as a bearer token."""
    b = H.Browser(h, auth)
    r = b.s.get(auth.auth_url + "/oauth/authorize", params={
        "response_type": "code", "client_id": H.CLIENT_ID,
        "redirect_uri": h.url("/cb"), "state": "s" * 24},
        allow_redirects=False, timeout=10)
    assert r.status_code == 200 and 'id="signin"' in r.text, r.text
    code = H.query_of(b.submit_form(r.text, "ALLOC_ADMIN"))["code"]
    tok = token_grant(auth, grant_type="authorization_code", code=code,
                      redirect_uri=h.url("/cb"))
    env = assert_served(h, call(h, API, tok), "ALLOC_ADMIN")
    assert set(env["NOMIS_SSO_ROLES"].split(",")) == {"MOIC_ADMIN", "ALLOC_MGR"}, env


def test_scheme_is_case_insensitive(h, auth):
    tok = auth.mint(username="ALLOC_SPO")["access_token"]
    assert_served(h, call(h, API, authorization="bearer " + tok), "ALLOC_SPO")
    assert_served(h, call(h, API, authorization="BEARER  " + tok), "ALLOC_SPO")


def test_client_credentials_token(h, auth):
    tok = token_grant(auth, grant_type="client_credentials")
    env = assert_served(h, call(h, API, tok), H.CLIENT_ID)
    # a client has no auth source: the client picks its token's (default none)
    assert "NOMIS_SSO_AUTH_SOURCE" not in env, env
    assert set(env.get("NOMIS_SSO_ROLES", "").split(",")) == \
        {"SYSTEM_USER", "VIEW_POM_ALLOCATIONS"}, env


def test_client_credentials_flagged_in_environment(h, auth):
    tok = token_grant(auth, grant_type="client_credentials")
    cc_env = assert_served(h, call(h, API, tok), H.CLIENT_ID)
    user_env = assert_served(h, call(h, API, auth.mint(username="ALLOC_SPO")["access_token"]),
                             "ALLOC_SPO")
    flags = {k for k in cc_env if k.startswith("NOMIS_SSO_") and "CLIENT" in k}
    assert flags, "no NOMIS_SSO_*CLIENT* variable for a client-credentials token: %r" % \
        sorted(k for k in cc_env if k.startswith("NOMIS_SSO_"))
    assert any(cc_env[k] != user_env.get(k) for k in flags), (cc_env, user_env)


# ---------------------------------------------------------------------------
# refused tokens: RFC 6750 challenges
# ---------------------------------------------------------------------------
HOSTILE = ["expired_token", "wrong_issuer", "hs256", "alg_none", "unknown_kid",
           "bad_signature"]


@pytest.mark.parametrize("mode", HOSTILE)
def test_hostile_token_refused(h, auth, mode):
    tok = auth.mint(username="ALLOC_SPO", mode=mode)["access_token"]
    assert_challenge(h, call(h, API, tok), "invalid_token")
    # the role-protected location refuses it the same way (401, not 403)
    assert_challenge(h, call(h, MGR, tok), "invalid_token")
    # and so does the session location that also accepts bearer tokens
    assert_challenge(h, call(h, BOTH, tok, headers=NAV), "invalid_token")


def test_error_description_names_the_cause(h, auth):
    # an alg:none token has no signature part at all: refused as malformed
    # before its header is read, so its description is the generic one
    expect = {"expired_token": "expired", "wrong_issuer": "issued",
              "hs256": "algorithm", "alg_none": "invalid"}
    got = {}
    for mode in expect:
        tok = auth.mint(username="ALLOC_SPO", mode=mode)["access_token"]
        got[mode] = assert_challenge(h, call(h, API, tok), "invalid_token")["error_description"]
    assert all(expect[m] in got[m].lower() for m in expect), got


def test_minted_expired_by_lifetime_refused(h, auth):
    tok = auth.mint(username="ALLOC_SPO", lifetime=-5)["access_token"]
    assert_challenge(h, call(h, API, tok), "invalid_token")


def test_tampered_payload_refused(h, auth):
    tok = auth.mint(username="ALLOC_POM")["access_token"]
    head, payload, sig = tok.split(".")
    claims = json.loads(unb64url(payload))
    claims["authorities"] = ["ROLE_ALLOC_MGR", "ROLE_MOIC_ADMIN"]
    forged = ".".join([head, b64url(json.dumps(claims).encode()), sig])
    assert_challenge(h, call(h, API, forged), "invalid_token")
    assert_challenge(h, call(h, MGR, forged), "invalid_token")
    # the untampered one is fine (so the refusal was the tampering)
    assert_served(h, call(h, API, tok), "ALLOC_POM")


def test_signature_of_another_token_refused(h, auth):
    a = auth.mint(username="ALLOC_POM")["access_token"].split(".")
    b = auth.mint(username="ALLOC_SPO")["access_token"].split(".")
    assert_challenge(h, call(h, API, ".".join([b[0], b[1], a[2]])), "invalid_token")


def test_unsigned_token_refused(h, auth):
    claims = json.loads(unb64url(auth.mint(username="ALLOC_SPO")["access_token"].split(".")[1]))
    for header in ({"alg": "none", "typ": "JWT"}, {"alg": "None"}, {"alg": "RS256"}):
        tok = "%s.%s." % (b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()))
        assert_challenge(h, call(h, API, tok), "invalid_token")


@pytest.mark.parametrize("token", [
    "garbage", "a.b.c", "a.b", "....", "eyJhbGciOiJSUzI1NiJ9.e30.AAAA", "x" * 200,
    "eyJ" + "A" * 5000,
])
def test_garbage_token_refused(h, token):
    assert_challenge(h, call(h, API, token), "invalid_token")


@pytest.mark.parametrize("value", [
    "Bearer", "Bearer ", "Bearer    ", "Bearer a b", "Bearer tok,en", 'Bearer "abc"',
    "Bearer abc;def", "Bearer a\tb",
])
def test_malformed_authorization_is_invalid_request(h, value):
    status, headers, _ = H.raw_request(h.port, "GET", API,
                                       headers=dict(XHR, Authorization=value))
    hdrs = {k.lower(): v for k, v in headers}
    assert status == 401, (value, status, headers)
    scheme, params = parse_challenge(hdrs.get("www-authenticate"))
    assert scheme == "Bearer" and params.get("realm"), hdrs
    assert params.get("error") == "invalid_request", (value, params)
    assert params.get("error_description"), params


def test_oversized_token_refused(h):
    status, headers, _ = H.raw_request(h.port, "GET", API,
                                       headers=dict(XHR, Authorization="Bearer " + "A" * 20000))
    assert status in (400, 401, 431), (status, headers)
    if status == 401:
        hdrs = {k.lower(): v for k, v in headers}
        assert hdrs["www-authenticate"].startswith("Bearer "), hdrs


def test_missing_token_bare_challenge(h):
    params = assert_challenge(h, call(h, API), None)
    assert params["realm"] == "127.0.0.1", params


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "Token abc", "Bearerabc", "Digest x"])
def test_other_scheme_bare_challenge(h, value):
    """Another scheme is 'no bearer credentials' (RFC 6750 3.1: no error code)."""
    assert_challenge(h, call(h, API, authorization=value), None)


# ---------------------------------------------------------------------------
# authorization
# ---------------------------------------------------------------------------
def test_role_required(h, auth):
    spo = auth.mint(username="ALLOC_SPO")["access_token"]
    pom = auth.mint(username="ALLOC_POM")["access_token"]
    assert_served(h, call(h, MGR, spo), "ALLOC_SPO")
    r = call(h, MGR, pom)
    assert r.status_code == 403, h.explain(r, "a token without the role must get 403")
    assert "REMOTE_USER=" not in r.text, "the CGI ran for a denied request"
    # ... while plain valid-user lets it in
    assert_served(h, call(h, API, pom), "ALLOC_POM")
    cc = token_grant(auth, grant_type="client_credentials")
    assert call(h, MGR, cc).status_code == 403


def test_role_denial_has_insufficient_scope_challenge(h, auth):
    r = call(h, MGR, auth.mint(username="ALLOC_POM")["access_token"])
    assert r.status_code == 403
    scheme, params = parse_challenge(r.headers.get("WWW-Authenticate"))
    assert scheme == "Bearer" and params.get("error") == "insufficient_scope", params


# ---------------------------------------------------------------------------
# sessions and bearer tokens side by side
# ---------------------------------------------------------------------------
def test_both_accepts_session_cookie(h, auth):
    b = H.Browser(h, auth)
    b.login(username="ALLOC_SPO")
    r = b.get(BOTH)
    assert r.status_code == 200, h.explain(r)
    assert cgi_env(r.text).get("REMOTE_USER") == "ALLOC_SPO"
    # the session cookie does not open the bearer-only location
    r = b.get(API, headers=XHR)
    assert_challenge(h, r, None)


def test_both_accepts_bearer_token(h, auth):
    tok = auth.mint(username="ALLOC_POM")["access_token"]
    r = call(h, BOTH, tok, headers=NAV)
    assert r.status_code == 200, h.explain(r)
    assert cgi_env(r.text).get("REMOTE_USER") == "ALLOC_POM"
    assert H.new_session_cookie(r) is None


def test_both_bearer_wins_over_cookie(h, auth):
    b = H.Browser(h, auth)
    b.login(username="ALLOC_SPO")
    tok = auth.mint(username="ALLOC_POM")["access_token"]
    r = b.get(BOTH, headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200, h.explain(r)
    assert cgi_env(r.text).get("REMOTE_USER") == "ALLOC_POM"
    # a bad token is refused even with a good cookie beside it
    r = b.get(BOTH, headers={"Authorization": "Bearer garbage"})
    assert r.status_code == 401


def test_both_without_credentials(h, auth):
    # a navigation goes to sign-in ...
    r = requests.get(h.url(BOTH), headers=NAV, allow_redirects=False, timeout=10)
    assert r.status_code == 302, h.explain(r)
    assert r.headers["Location"].startswith(auth.auth_url + "/oauth/authorize?")
    # ... an XHR gets a bare challenge
    assert_challenge(h, call(h, BOTH), None)


# ---------------------------------------------------------------------------
# the validated-token cache
# ---------------------------------------------------------------------------
def test_cached_token_stops_at_exp(h, auth):
    m = auth.mint(username="ALLOC_SPO", lifetime=3)
    assert_served(h, call(h, API, m["access_token"]), "ALLOC_SPO")
    assert_served(h, call(h, API, m["access_token"]), "ALLOC_SPO")
    delay = m["exp"] + 1 - time.time()
    if delay > 0:
        time.sleep(delay)
    assert_challenge(h, call(h, API, m["access_token"]), "invalid_token")
    # and a fresh token for the same user still works
    assert_served(h, call(h, API, auth.mint(username="ALLOC_SPO")["access_token"]), "ALLOC_SPO")


def test_forgery_of_a_cached_token_refused(h, auth):
    """Each child keeps the tokens it accepted, indexed by length and the
    signature's tail: a forgery with the same length and signature lands in
    the same slot while the real token is cached there (one keep-alive
    connection, so one child), and is still refused."""
    tok = auth.mint(username="ALLOC_POM")["access_token"]
    head, payload, sig = tok.split(".")
    claims = unb64url(payload)
    assert b'"ALLOC_POM"' in claims
    forged = ".".join([head, b64url(claims.replace(b'"ALLOC_POM"', b'"ALLOC_SPO"')), sig])
    assert len(forged) == len(tok) and forged != tok
    s = requests.Session()
    for _ in range(3):
        assert_served(h, call(h, API, tok, session=s), "ALLOC_POM")
        assert_challenge(h, call(h, API, forged, session=s), "invalid_token")
    # and many tokens (more than the 64 slots) are each served as their own
    toks = [(u, auth.mint(username=u)["access_token"])
            for u in ("ALLOC_SPO", "ALLOC_POM", "ALLOC_ADMIN", "DELIUS_SPO") * 20]
    for _ in range(2):
        for user, t in toks:
            assert_served(h, call(h, API, t, session=s), user)


def test_token_cache_shared_across_children(auth, httpd_factory):
    """One RSA check per token, not one per request or per child: on a new
    prefork httpd (per-process JWKS caches, fetched lazily) 50 requests spread
    over several children fetch the JWKS once, for the first request."""
    h = httpd_factory(auth_url=auth.auth_url, mpm="prefork", **BEARER)
    tok = auth.mint(username="ALLOC_SPO")["access_token"]
    jwks0 = auth.stats()["requests"]["jwks"]
    assert_served(h, call(h, API, tok, headers={"Connection": "close"}), "ALLOC_SPO")
    assert auth.stats()["requests"]["jwks"] == jwks0 + 1
    skip_lines = len(h.access_lines())

    results = []
    lock = threading.Lock()
    start = time.monotonic()

    def worker():
        s = requests.Session()
        for _ in range(5):
            r = s.get(h.url(API), headers=dict(XHR, Connection="close",
                                               Authorization="Bearer " + tok),
                      allow_redirects=False, timeout=15)
            with lock:
                results.append((r.status_code, cgi_env(r.text).get("REMOTE_USER")))

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - start
    assert len(results) == 50
    assert all(res == (200, "ALLOC_SPO") for res in results), results
    assert elapsed < 15, "50 cached bearer requests took %.1fs" % elapsed
    pids = {line.split()[0] for line in h.access_lines()[skip_lines:]
            if API in line}
    assert len(pids) >= 2, "requests did not reach several children: %r" % pids
    assert auth.stats()["requests"]["jwks"] == jwks0 + 1, \
        "the JWKS was fetched again: tokens are verified per child, not cached"
