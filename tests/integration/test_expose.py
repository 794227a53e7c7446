"""What handlers behind the module receive, through a real httpd: the CGI
environment (REMOTE_USER, AUTH_TYPE, NOMIS_SSO_*), the X-Nomis-* headers and
Authorization: Bearer a mod_proxy backend gets (backend_echo.py), removal of
spoofed identity headers, NomisSSOPass / NomisSSOPassAccessToken, answers to
requests without a session (XHR 401, navigation 302, NomisSSOUnauthAction),
the session-info endpoint and NomisSSOTrustForwardedHeaders.
"""

import json
import re
import time

import pytest
import requests

import harness as H
from harness import CALLBACK, COOKIE, STATE_PREFIX, cgi_env
from conftest import serving

INFO = "/nomis-sso/info"

# expected identity of the seeded users, as the module hands it on
IDENTITY = {
    "ALLOC_SPO": {"name": "Alloc Spo", "source": "nomis", "roles": {"ALLOC_MGR"},
                  "caseload": "LEI", "user_id": "485412"},
    "ALLOC_ADMIN": {"source": "nomis", "roles": {"MOIC_ADMIN", "ALLOC_MGR"},
                    "caseload": "LEI"},
    "DELIUS_SPO": {"name": "Delius Spo", "source": "delius", "roles": {"PROBATION"},
                   "caseload": None, "user_id": "2500077027"},
}

# client headers that claim an identity: none may reach a backend or CGI
SPOOF = {
    "X-Nomis-Roles": "MOIC_ADMIN",
    "x-nomis-user": "EVIL",
    "X_Nomis_Roles": "X",
    "X-NOMIS-CASELOAD": "MDI",
    "X-Nomis-Auth-Source": "auth",
    "X-Nomis-Name": "Evil Name",
    "X-Nomis-User-Id": "666",
    "X-Nomis-Expires": "9999999999",
}
SPOOF_VALUES = set(SPOOF.values())


def expose_extra(h, echo_port, server_lines=""):
    d = h.dir
    backend = "http://127.0.0.1:%d/" % echo_port
    return """
LoadModule proxy_module {moddir}/mod_proxy.so
LoadModule proxy_http_module {moddir}/mod_proxy_http.so
LoadModule setenvif_module {moddir}/mod_setenvif.so
{server_lines}
NomisSSOInfoURI {info}
ScriptAliasMatch "^/(ident|open|api401|public-cgi)/" "{d}/cgi-bin/env.cgi"
<Location /ident/>
    AuthType nomis-sso
    Require valid-user
</Location>
<Location /ident/headers>
    NomisSSOPass headers
</Location>
<Location /ident/environment>
    NomisSSOPass environment
</Location>
<Location /ident/none>
    NomisSSOPass none
</Location>
<Location /ident/token>
    NomisSSOPassAccessToken On
</Location>
<Location /ident/preset>
    SetEnvIf Request_URI . NOMIS_SSO_USER=SPOOF NOMIS_SSO_ROLES=MOIC_ADMIN
    SetEnvIf Request_URI . NOMIS_SSO_EXTRA=1
</Location>
<Location /open/>
    AuthType nomis-sso
    NomisSSOUnauthAction pass
    Require valid-user
</Location>
<Location /api401/>
    AuthType nomis-sso
    NomisSSOUnauthAction 401
    Require valid-user
</Location>
<Location /protected/app/>
    ProxyPass {backend}
</Location>
<Location /protected/app-token/>
    ProxyPass {backend}
    NomisSSOPassAccessToken On
</Location>
<Location /protected/app-env/>
    ProxyPass {backend}
    NomisSSOPass environment
</Location>
<Location /public-app/>
    ProxyPass {backend}
</Location>
""".format(moddir=H.MODDIR, server_lines=server_lines, info=INFO, d=d, backend=backend)


class Logins(H.Logins):
    """The shared per-user sign-ins, plus the session cookie as a header."""

    def cookie(self, user):
        return "%s=%s" % (COOKIE, self(user).session_id())


def raw(h, path, headers=None, method="GET", body=None):
    """A request with header names exactly as given: (status, {lower: value}, text)."""
    hdrs = {"Accept": "text/html"}
    hdrs.update(headers or {})
    status, hl, data = H.raw_request(h.port, method, path, headers=hdrs, body=body)
    return status, {k.lower(): v for k, v in hl}, data.decode("utf-8", "replace")


def norm(name):
    return name.lower().replace("_", "-")


def identity_headers(echo):
    """[(name, value)] of the X-Nomis-* headers (any spelling) a backend got."""
    return [(k, v) for k, v in echo["headers"] if norm(k).startswith("x-nomis")]


def nomis_env(env):
    return {k: v for k, v in env.items() if k.startswith("NOMIS_SSO")}


def http_nomis_env(env):
    return {k: v for k, v in env.items() if k.upper().startswith("HTTP_X_NOMIS")}


def assert_identity_env(h, env, user):
    want = IDENTITY[user]
    assert env.get("REMOTE_USER") == user, env
    assert env.get("AUTH_TYPE") == H.AUTH_TYPE, env
    assert env.get("NOMIS_SSO_USER") == user, env
    if "name" in want:
        assert env.get("NOMIS_SSO_NAME") == want["name"], env
    assert env.get("NOMIS_SSO_AUTH_SOURCE") == want["source"], env
    roles = env.get("NOMIS_SSO_ROLES", "")
    assert set(roles.split(",")) == want["roles"], env
    assert "ROLE_" not in roles and " " not in roles, env
    if want["caseload"] is None:
        assert "NOMIS_SSO_CASELOAD" not in env or env["NOMIS_SSO_CASELOAD"] == "", env
    else:
        assert env.get("NOMIS_SSO_CASELOAD") == want["caseload"], env
    if "user_id" in want:
        assert env.get("NOMIS_SSO_USER_ID") == want["user_id"], env
    exp = env.get("NOMIS_SSO_EXPIRES", "")
    assert exp.isdigit(), env
    now = time.time()
    assert now < int(exp) <= now + 1200 + 60, (exp, now)
    assert "NOMIS_SSO_ACCESS_TOKEN" not in env, "access token passed without " \
        "NomisSSOPassAccessToken On"
    assert not any(v.startswith("eyJ") for v in env.values()), "a JWT in the environment"


def assert_jwt_shape(token):
    assert token.startswith("eyJ"), token[:20]
    parts = token.split(".")
    assert len(parts) == 3 and all(parts), "not a compact JWS"
    return parts


def verify_jwt(devauth, token):
    """The token verifies against devauth's JWKS (RS256, issuer); its claims."""
    jwt = pytest.importorskip("jwt")
    from jwt.algorithms import RSAAlgorithm
    kid = jwt.get_unverified_header(token).get("kid")
    keys = {k["kid"]: k for k in devauth.jwks()["keys"]}
    assert kid in keys, (kid, list(keys))
    key = RSAAlgorithm.from_jwk(json.dumps(keys[kid]))
    return jwt.decode(token, key, algorithms=["RS256"], issuer=devauth.auth_url + "/issuer",
                      options={"verify_aud": False})


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def expose_httpd(module_httpd_factory, echo_backend):
    return module_httpd_factory(mpm="event",
                                extra=lambda h: expose_extra(h, echo_backend.port))


@pytest.fixture(scope="module")
def logins_module(expose_httpd, devauth_server):
    return Logins(expose_httpd, devauth_server)


@pytest.fixture
def site(expose_httpd, devauth, request):
    return serving(request, expose_httpd)


@pytest.fixture
def logins(logins_module, site):
    return logins_module


# ---------------------------------------------------------------------------
# the CGI environment
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("user", ["ALLOC_SPO", "ALLOC_ADMIN", "DELIUS_SPO"])
def test_cgi_environment(logins, site, user):
    r = logins.get(user, "/protected/env")
    assert r.status_code == 200, site.explain(r)
    env = cgi_env(r.text)
    assert_identity_env(site, env, user)


def test_module_values_win_over_configured_variables(logins, site):
    """A SetEnvIf between reading the request and check_authn (after the
    early look set the variables for <If>) cannot leave its own user or
    roles in place of the signed-in user's."""
    r = logins.get("ALLOC_SPO", "/ident/preset")
    assert r.status_code == 200, site.explain(r)
    env = cgi_env(r.text)
    assert env.get("REMOTE_USER") == "ALLOC_SPO", env
    assert_identity_env(site, env, "ALLOC_SPO")
    assert env.get("NOMIS_SSO_EXTRA") == "1", env  # not ours: left alone


def test_pass_access_token_environment(logins, site, devauth):
    r = logins.get("ALLOC_SPO", "/ident/token")
    assert r.status_code == 200, site.explain(r)
    env = cgi_env(r.text)
    assert env.get("REMOTE_USER") == "ALLOC_SPO"
    token = env.get("NOMIS_SSO_ACCESS_TOKEN", "")
    assert_jwt_shape(token)
    claims = verify_jwt(devauth, token)
    assert claims.get("user_name", claims.get("sub")) == "ALLOC_SPO", claims
    assert "ROLE_ALLOC_MGR" in claims.get("authorities", []), claims
    # the same request elsewhere does not carry it
    other = cgi_env(logins.get("ALLOC_SPO", "/ident/").text)
    assert "NOMIS_SSO_ACCESS_TOKEN" not in other


@pytest.mark.parametrize("mode,want_env,want_headers", [
    ("both-default", True, True),
    ("headers", False, True),
    ("environment", True, False),
    ("none", False, False),
])
def test_pass_modes(logins, site, mode, want_env, want_headers):
    path = "/ident/" if mode == "both-default" else "/ident/%s" % mode
    r = logins.get("ALLOC_SPO", path)
    assert r.status_code == 200, site.explain(r)
    env = cgi_env(r.text)
    # httpd's own variables whatever NomisSSOPass says
    assert env.get("REMOTE_USER") == "ALLOC_SPO", env
    assert env.get("AUTH_TYPE") == H.AUTH_TYPE, env
    ne, he = nomis_env(env), http_nomis_env(env)
    if want_env:
        assert ne.get("NOMIS_SSO_USER") == "ALLOC_SPO" and \
            ne.get("NOMIS_SSO_ROLES") == "ALLOC_MGR", env
    else:
        assert ne == {}, "NomisSSOPass %s: NOMIS_SSO_* set: %r" % (mode, ne)
    if want_headers:
        assert he.get("HTTP_X_NOMIS_USER") == "ALLOC_SPO", env
        assert he.get("HTTP_X_NOMIS_ROLES") == "ALLOC_MGR", env
        assert he.get("HTTP_X_NOMIS_CASELOAD") == "LEI", env
    else:
        assert he == {}, "NomisSSOPass %s: identity headers set: %r" % (mode, he)


def test_cgi_never_sees_spoofed_headers(logins, site):
    cookie = logins.cookie("ALLOC_SPO")
    hdrs = dict(SPOOF, Cookie=cookie)
    # protected, headers passed: only the module's values
    status, _, text = raw(site, "/protected/env", hdrs)
    assert status == 200, text[:500]
    env = cgi_env(text)
    he = http_nomis_env(env)
    assert he.get("HTTP_X_NOMIS_USER") == "ALLOC_SPO", he
    assert he.get("HTTP_X_NOMIS_ROLES") == "ALLOC_MGR", he
    assert he.get("HTTP_X_NOMIS_CASELOAD") == "LEI", he
    assert he.get("HTTP_X_NOMIS_AUTH_SOURCE") == "nomis", he
    assert not SPOOF_VALUES & set(he.values()), he
    assert env.get("NOMIS_SSO_ROLES") == "ALLOC_MGR", env
    # protected, environment only: no identity header at all
    status, _, text = raw(site, "/ident/environment", hdrs)
    assert status == 200
    assert http_nomis_env(cgi_env(text)) == {}, cgi_env(text)
    # unprotected CGI: nothing at all
    status, _, text = raw(site, "/public-cgi/", SPOOF)
    assert status == 200, text[:500]
    env = cgi_env(text)
    assert http_nomis_env(env) == {} and nomis_env(env) == {}, env
    assert not env.get("REMOTE_USER"), env


# ---------------------------------------------------------------------------
# a mod_proxy backend
# ---------------------------------------------------------------------------
def test_backend_gets_identity_headers(logins, site):
    expires = cgi_env(logins.get("ALLOC_SPO", "/protected/env").text)["NOMIS_SSO_EXPIRES"]
    r = logins.get("ALLOC_SPO", "/protected/app/some/path?q=1")
    assert r.status_code == 200, site.explain(r)
    echo = r.json()
    assert echo["path"] == "/some/path?q=1", echo
    got = {}
    for k, v in identity_headers(echo):
        assert norm(k) not in got, "%s sent twice: %r" % (k, echo["headers"])
        got[norm(k)] = v
    assert got == {
        "x-nomis-user": "ALLOC_SPO",
        "x-nomis-name": "Alloc Spo",
        "x-nomis-auth-source": "nomis",
        "x-nomis-roles": "ALLOC_MGR",
        "x-nomis-caseload": "LEI",
        "x-nomis-caseloads": "LEI",   # /api/user/me names the active one only
        "x-nomis-user-id": "485412",
        "x-nomis-user-uuid": "6a0a7d5e-3c1b-4f7a-9a52-0c6f1a9d2b41",
        "x-nomis-expires": expires,
    }, echo["headers"]
    assert not any(norm(k) == "authorization" for k, _ in echo["headers"]), \
        "Authorization sent without NomisSSOPassAccessToken On"
    assert "eyJ" not in json.dumps(echo)


@pytest.mark.parametrize("user", ["ALLOC_ADMIN", "DELIUS_SPO"])
def test_backend_headers_per_user(logins, site, user):
    r = logins.get(user, "/protected/app/")
    assert r.status_code == 200, site.explain(r)
    got = {norm(k): v for k, v in identity_headers(r.json())}
    want = IDENTITY[user]
    assert got.get("x-nomis-user") == user
    assert got.get("x-nomis-auth-source") == want["source"]
    assert set(got.get("x-nomis-roles", "").split(",")) == want["roles"], got
    assert got.get("x-nomis-caseload") == want["caseload"], got  # absent when none


def test_backend_never_sees_spoofed_headers_protected(logins, site):
    status, _, text = raw(site, "/protected/app/x",
                          dict(SPOOF, Cookie=logins.cookie("ALLOC_POM")))
    assert status == 200, text[:500]
    echo = json.loads(text)
    ids = identity_headers(echo)
    assert not SPOOF_VALUES & {v for _, v in ids}, echo["headers"]
    got = {}
    for k, v in ids:
        assert norm(k) not in got, "%s sent twice: %r" % (k, echo["headers"])
        got[norm(k)] = v
    assert got["x-nomis-user"] == "ALLOC_POM", got
    assert got["x-nomis-roles"] == "ALLOC_CASE_MGR", got
    assert got["x-nomis-caseload"] == "LEI", got
    assert got["x-nomis-user-id"] != "666" and got["x-nomis-expires"] != "9999999999"


def test_backend_never_sees_spoofed_headers_unprotected(site):
    status, _, text = raw(site, "/public-app/x", SPOOF)
    assert status == 200, text[:500]
    echo = json.loads(text)
    assert identity_headers(echo) == [], echo["headers"]
    # a request that `requests` builds (normalised names) is stripped as well
    r = requests.get(site.url("/public-app/y"), headers=SPOOF, timeout=10)
    assert r.status_code == 200
    assert identity_headers(r.json()) == [], r.json()["headers"]


def test_backend_environment_mode_gets_no_headers(logins, site):
    status, _, text = raw(site, "/protected/app-env/x",
                          dict(SPOOF, Cookie=logins.cookie("ALLOC_SPO")))
    assert status == 200, text[:500]
    echo = json.loads(text)
    assert identity_headers(echo) == [], echo["headers"]


def test_backend_not_reached_without_session(site):
    status, headers, text = raw(site, "/protected/app/x", SPOOF)
    assert status == 302, (status, headers)
    assert "/oauth/authorize?" in headers.get("location", "")
    assert '"headers"' not in text


@pytest.mark.parametrize("client_auth", [None, "Bearer eyJhbGciOiJub25lIn0.e30.",
                                         "Basic dXNlcjpwYXNz"])
def test_backend_gets_bearer_token(logins, site, devauth, client_auth):
    token = cgi_env(logins.get("ALLOC_SPO", "/ident/token").text)["NOMIS_SSO_ACCESS_TOKEN"]
    hdrs = {"Cookie": logins.cookie("ALLOC_SPO")}
    if client_auth:
        hdrs["Authorization"] = client_auth
    status, _, text = raw(site, "/protected/app-token/x", hdrs)
    assert status == 200, text[:500]
    echo = json.loads(text)
    auths = [v for k, v in echo["headers"] if k.lower() == "authorization"]
    assert len(auths) == 1, echo["headers"]
    scheme, _, sent = auths[0].partition(" ")
    assert scheme == "Bearer", auths
    assert_jwt_shape(sent)
    assert sent == token, "the backend got a different token than the session's"
    assert verify_jwt(devauth, sent).get("sub") == "ALLOC_SPO"
    # the identity headers come along too
    assert {norm(k): v for k, v in identity_headers(echo)}.get("x-nomis-user") == "ALLOC_SPO"


# ---------------------------------------------------------------------------
# requests without a session
# ---------------------------------------------------------------------------
def _no_state_cookie(headers_list):
    return not any(k.lower() == "set-cookie" and v.startswith(STATE_PREFIX)
                   for k, v in headers_list)


@pytest.mark.parametrize("headers", [
    {"X-Requested-With": "XMLHttpRequest", "Accept": "text/html"},
    {"Sec-Fetch-Mode": "cors", "Accept": "*/*"},
    {"Accept": "application/json"},
], ids=["x-requested-with", "sec-fetch-mode-cors", "accept-json"])
def test_xhr_without_session_gets_401(site, headers):
    status, hl, body = H.raw_request(site.port, "GET", "/protected/env", headers=headers)
    h = {k.lower(): v for k, v in hl}
    assert status == 401, (status, hl)
    assert re.match(r'^Bearer realm="[^"]+"', h.get("www-authenticate", "")), hl
    assert "location" not in h, hl
    assert _no_state_cookie(hl), hl
    assert b"REMOTE_USER=" not in body


def test_navigation_without_session_redirects(site, devauth):
    status, hl, _ = H.raw_request(site.port, "GET", "/protected/env", headers={
        "Accept": "text/html,application/xhtml+xml,*/*;q=0.8",
        "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
    h = {k.lower(): v for k, v in hl}
    assert status == 302, hl
    assert h["location"].startswith(devauth.auth_url + "/oauth/authorize?"), hl
    assert "www-authenticate" not in h


def test_post_without_session_gets_401(site):
    status, hl, body = H.raw_request(
        site.port, "POST", "/protected/env", body=b"a=1&b=2", headers={
            "Accept": "text/html", "Sec-Fetch-Mode": "navigate",
            "Content-Type": "application/x-www-form-urlencoded"})
    h = {k.lower(): v for k, v in hl}
    assert status == 401, hl
    assert "location" not in h, hl
    assert h.get("www-authenticate", "").startswith("Bearer realm="), hl
    assert b"REMOTE_USER=" not in body


def test_post_with_session_is_served(logins, site):
    r = logins("ALLOC_SPO").s.post(site.url("/protected/env"), data={"a": "1"},
                                   allow_redirects=False, timeout=10)
    assert r.status_code == 200, site.explain(r)
    env = cgi_env(r.text)
    assert env.get("REQUEST_METHOD") == "POST" and env.get("REMOTE_USER") == "ALLOC_SPO"


def test_unauth_action_401_for_navigation(site):
    status, hl, _ = H.raw_request(site.port, "GET", "/api401/x", headers={
        "Accept": "text/html", "Sec-Fetch-Mode": "navigate"})
    h = {k.lower(): v for k, v in hl}
    assert status == 401, hl
    assert "location" not in h
    assert h.get("www-authenticate", "").startswith("Bearer realm="), hl


def test_unauth_action_401_with_session(logins, site):
    r = logins.get("ALLOC_SPO", "/api401/x")
    assert r.status_code == 200, site.explain(r)
    assert cgi_env(r.text).get("REMOTE_USER") == "ALLOC_SPO"


def test_unauth_action_pass_without_session(site):
    status, hl, body = raw(site, "/open/page", SPOOF)
    assert status == 200, (status, hl, body[:300])
    env = cgi_env(body)
    assert env.get("REMOTE_USER", "") == "", env
    assert nomis_env(env) == {}, env
    assert http_nomis_env(env) == {}, env
    assert "location" not in hl


def test_unauth_action_pass_with_session(logins, site):
    r = logins.get("ALLOC_SPO", "/open/page")
    assert r.status_code == 200, site.explain(r)
    env = cgi_env(r.text)
    assert env.get("REMOTE_USER") == "ALLOC_SPO", env
    assert env.get("NOMIS_SSO_ROLES") == "ALLOC_MGR", env


# ---------------------------------------------------------------------------
# the session-info endpoint
# ---------------------------------------------------------------------------
def test_info_signed_in(logins, site):
    expires = cgi_env(logins.get("ALLOC_SPO", "/protected/env").text)["NOMIS_SSO_EXPIRES"]
    r = logins.get("ALLOC_SPO", INFO, headers={"Accept": "application/json"})
    assert r.status_code == 200, site.explain(r)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers
    doc = r.json()
    assert doc["user"] == "ALLOC_SPO"
    assert doc["name"] == "Alloc Spo"
    assert doc["authSource"] == "nomis"
    assert doc["roles"] == ["ALLOC_MGR"]
    assert doc["caseload"] == "LEI"
    assert doc["expiresAt"] == int(expires)
    assert "eyJ" not in r.text


def test_info_other_user(logins, site):
    """Each session sees its own user only."""
    doc = logins.get("DELIUS_SPO", INFO).json()
    assert doc["user"] == "DELIUS_SPO" and doc["authSource"] == "delius"
    assert doc["roles"] == ["PROBATION"]
    assert doc.get("caseload") is None
    doc = logins.get("ALLOC_ADMIN", INFO).json()
    assert doc["user"] == "ALLOC_ADMIN"
    assert sorted(doc["roles"]) == ["ALLOC_MGR", "MOIC_ADMIN"]


def test_info_without_session(site):
    r = requests.get(site.url(INFO), headers={"Accept": "application/json"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 401, site.explain(r)
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert isinstance(r.json(), dict)
    assert "Location" not in r.headers
    # a bogus cookie is no better
    r = requests.get(site.url(INFO), cookies={COOKIE: "A" * 43}, timeout=10,
                     allow_redirects=False)
    assert r.status_code == 401 and "user" not in r.json()


def test_info_post_not_allowed(logins, site):
    r = logins("ALLOC_SPO").s.post(site.url(INFO), data="x", allow_redirects=False,
                                   timeout=10)
    assert r.status_code == 405, site.explain(r)
    assert "ALLOC_SPO" not in r.text and "eyJ" not in r.text


def test_info_405_allows_get(site):
    r = requests.post(site.url(INFO), data="x", allow_redirects=False, timeout=10)
    assert r.status_code == 405
    allow = [m.strip() for m in r.headers.get("Allow", "").split(",")]
    assert "GET" in allow and "POST" not in allow, r.headers


# ---------------------------------------------------------------------------
# NomisSSOTrustForwardedHeaders
# ---------------------------------------------------------------------------
FWD_HTTPS = {"X-Forwarded-Host": "public.example", "X-Forwarded-Proto": "https",
             "Accept": "text/html"}


def _begin(h, headers):
    """Start a sign-in with these headers: (redirect_uri, {cookie: attrs}, response)."""
    r = requests.get(h.url("/protected/env"), headers=headers, allow_redirects=False,
                     timeout=10)
    assert r.status_code == 302, h.explain(r)
    cookies = H.cookies_set(r)
    states = {n: a for n, (v, a) in cookies.items() if n.startswith(STATE_PREFIX) and v}
    assert len(states) == 1, cookies
    return H.query_of(r.headers["Location"])["redirect_uri"], states, r


def test_forwarded_headers_ignored_by_default(site):
    uri, states, _ = _begin(site, FWD_HTTPS)
    assert uri == site.url(CALLBACK), uri
    assert not any("secure" in a for a in states.values()), states


@pytest.fixture
def trusting_httpd(httpd_factory):
    return httpd_factory(extra="NomisSSOTrustForwardedHeaders On\n")


def test_forwarded_headers_trusted(trusting_httpd):
    h = trusting_httpd
    uri, states, _ = _begin(h, FWD_HTTPS)
    assert uri == "https://public.example" + CALLBACK, uri
    assert all(a.get("secure") is True for a in states.values()), states
    uri, states, _ = _begin(h, {"X-Forwarded-Host": "public.example",
                                "X-Forwarded-Proto": "http", "Accept": "text/html"})
    assert uri == "http://public.example" + CALLBACK, uri
    assert not any("secure" in a for a in states.values()), states
    uri, _, _ = _begin(h, dict(FWD_HTTPS, **{"X-Forwarded-Port": "8443"}))
    assert uri == "https://public.example:8443" + CALLBACK, uri
    uri, states, _ = _begin(h, {"Accept": "text/html"})
    assert uri == h.url(CALLBACK), uri
    assert not any("secure" in a for a in states.values()), states


def test_forwarded_https_session_cookie_secure(trusting_httpd, devauth):
    """A whole sign-in behind a (pretend) TLS-terminating proxy: the session
    cookie is Secure."""
    h = trusting_httpd
    fwd = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "127.0.0.1:%d" % h.port,
           "Accept": "text/html"}
    uri, states, first = _begin(h, fwd)
    assert uri == "https://127.0.0.1:%d%s" % (h.port, CALLBACK), uri
    state_cookies = {n: v for n, (v, a) in H.cookies_set(first).items()
                     if n.startswith(STATE_PREFIX) and v}
    b = H.Browser(h, devauth)
    cb_url = b.authorize(first.headers["Location"], "ALLOC_SPO")
    assert cb_url.startswith(uri + "?"), cb_url
    # the proxy would have turned https into http towards httpd
    local = h.url(CALLBACK) + cb_url[len(uri):]
    cb = requests.get(local, headers=dict(fwd, Cookie="; ".join(
        "%s=%s" % kv for kv in state_cookies.items())), allow_redirects=False, timeout=15)
    assert cb.status_code == 302, h.explain(cb, "callback behind the proxy")
    value, attrs = H.cookies_set(cb)[COOKIE]
    assert value and attrs.get("secure") is True, attrs
    assert attrs.get("httponly") is True, attrs
    page = requests.get(h.url("/protected/env"), headers=dict(fwd, Cookie="%s=%s" % (
        COOKIE, value)), allow_redirects=False, timeout=10)
    assert page.status_code == 200 and cgi_env(page.text).get("REMOTE_USER") == "ALLOC_SPO"
