"""A client's own token (client credentials) is a client, never a member of
staff, through a real httpd and the dev auth server.

HMPPS Auth gives any client a client_credentials token naming any user
(username=X, even auth_source=nomis). Such a token, and any token that lacks
what a signed-in user's always has (user_name, user_id, an auth_source other
than none), is its client: REMOTE_USER is the client_id,
NOMIS_SSO_CLIENT_CREDENTIALS / X-Nomis-Client-Credentials is 1, and the user
it names is only NOMIS_SSO_ON_BEHALF_OF / X-Nomis-On-Behalf-Of. Require
nomis-user and nomis-auth-source never match it; nomis-role, nomis-scope and
nomis-client do. NomisSSOBearerClients refuses other clients' tokens.

Every URL under /api and /both runs env.cgi (the CGI environment); /app is
proxied to backend_echo.py (the headers a backend gets).
"""

import json
import os
import re

import pytest
import requests

import harness as H
from harness import cgi_env
from conftest import _track, serving

CLIENT = H.CLIENT_ID            # allocation-manager: may use client_credentials
OTHER = "other-service"         # a second client of devauth's
CLIENT_ROLES = {"SYSTEM_USER", "VIEW_POM_ALLOCATIONS"}
XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}


def client_extra(h, echo_port):
    return """
LoadModule proxy_module {moddir}/mod_proxy.so
LoadModule proxy_http_module {moddir}/mod_proxy_http.so
ScriptAliasMatch "^/(api|both)/" "{d}/cgi-bin/env.cgi"
<Location /api/>
    AuthType nomis-bearer
    Require valid-user
</Location>
<Location /api/user/>
    Require nomis-user ALLOC_SPO
</Location>
<Location /api/source/>
    Require nomis-auth-source nomis
</Location>
<Location /api/role/>
    Require nomis-role SYSTEM_USER
</Location>
<Location /api/scope/>
    Require nomis-scope read
</Location>
<Location /api/client/>
    Require nomis-client {client}
</Location>
<Location /api/other-client/>
    Require nomis-client {other} third-service
</Location>
<Location /api/only-ours/>
    NomisSSOBearerClients {client}
</Location>
<Location /api/only-other/>
    NomisSSOBearerClients {other} third-service
</Location>
<Location /both/>
    AuthType nomis-sso
    NomisSSOAcceptBearer On
    NomisSSOBearerClients {other}
    Require valid-user
</Location>
<Location /app/>
    AuthType nomis-bearer
    Require valid-user
    ProxyPass http://127.0.0.1:{port}/
</Location>
""".format(moddir=H.MODDIR, d=h.dir, port=echo_port, client=CLIENT, other=OTHER)


@pytest.fixture(scope="module")
def client_httpd(module_httpd_factory, echo_backend):
    return module_httpd_factory(mpm="event",
                                extra=lambda h: client_extra(h, echo_backend.port))


@pytest.fixture
def site(client_httpd, devauth, request):
    return serving(request, client_httpd)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def client_token(auth, **form):
    """A client_credentials token from devauth's token endpoint, as any
    holder of our client's secret can get one."""
    form["grant_type"] = "client_credentials"
    r = requests.post(auth.auth_url + "/oauth/token", data=form,
                      auth=(H.CLIENT_ID, H.CLIENT_SECRET), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def impersonating(auth):
    """The attack: our client's token naming ALLOC_SPO, auth source nomis."""
    return client_token(auth, username="ALLOC_SPO", auth_source="nomis")


def staff(auth, user="ALLOC_SPO", **kw):
    return auth.mint(username=user, **kw)["access_token"]


def call(h, path, token, headers=None, session=None):
    hdrs = dict(XHR)
    hdrs["Authorization"] = "Bearer " + token
    hdrs.update(headers or {})
    return (session or requests).get(h.url(path), headers=hdrs, allow_redirects=False,
                                     timeout=15)


def served(h, resp, user):
    assert resp.status_code == 200, h.explain(resp, "not served")
    env = cgi_env(resp.text)
    assert env.get("REMOTE_USER") == user, env
    return env


def challenge_error(h, resp):
    """The error of a 401 Bearer challenge."""
    assert resp.status_code == 401, h.explain(resp, "expected 401")
    value = resp.headers.get("WWW-Authenticate", "")
    assert value.startswith("Bearer "), value
    return dict(re.findall(r'([a-z_]+)="([^"]*)"', value)).get("error")


def denied(h, resp):
    assert resp.status_code in (401, 403), h.explain(resp, "expected a denial")
    assert "REMOTE_USER=" not in resp.text, "the CGI ran for a denied request"


def assert_client_env(env, on_behalf_of):
    assert env.get("REMOTE_USER") == CLIENT, env
    assert env.get("NOMIS_SSO_USER") == CLIENT, env
    assert env.get("NOMIS_SSO_CLIENT_CREDENTIALS") == "1", env
    if on_behalf_of is None:
        assert "NOMIS_SSO_ON_BEHALF_OF" not in env, env
    else:
        assert env.get("NOMIS_SSO_ON_BEHALF_OF") == on_behalf_of, env
    # nothing of a member of staff's identity
    for k in ("NOMIS_SSO_AUTH_SOURCE", "NOMIS_SSO_USER_ID", "NOMIS_SSO_NAME"):
        assert k not in env, env
    assert set(env.get("NOMIS_SSO_ROLES", "").split(",")) == CLIENT_ROLES, env


# ---------------------------------------------------------------------------
# who a client token is
# ---------------------------------------------------------------------------
def test_client_token_naming_a_user_is_the_client(site, devauth):
    env = served(site, call(site, "/api/env", impersonating(devauth)), CLIENT)
    assert_client_env(env, "ALLOC_SPO")


def test_client_token_naming_no_user(site, devauth):
    env = served(site, call(site, "/api/env", client_token(devauth)), CLIENT)
    assert_client_env(env, None)


def test_staff_token_is_not_flagged(site, devauth):
    env = served(site, call(site, "/api/env", staff(devauth)), "ALLOC_SPO")
    assert env.get("NOMIS_SSO_USER_ID") == "485412", env
    assert "NOMIS_SSO_CLIENT_CREDENTIALS" not in env, env
    assert "NOMIS_SSO_ON_BEHALF_OF" not in env, env


# a token without grant_type (older servers) is a client's unless it has all
# of user_name, user_id and an auth_source other than none; with a grant
# other than client_credentials, the same (strict)
@pytest.mark.parametrize("claims,obo", [
    ({"grant_type": None, "user_id": None}, "ALLOC_SPO"),
    ({"grant_type": None, "auth_source": "none"}, "ALLOC_SPO"),
    ({"grant_type": None, "auth_source": None}, "ALLOC_SPO"),
    ({"grant_type": None, "user_name": None}, None),
    ({"grant_type": "authorization_code", "user_id": None}, "ALLOC_SPO"),
    ({"grant_type": "password", "auth_source": "none"}, "ALLOC_SPO"),
], ids=["no-grant-no-user-id", "no-grant-source-none", "no-grant-no-source",
        "no-grant-no-user-name", "code-no-user-id", "password-source-none"])
def test_token_lacking_a_users_claims_is_a_client(site, devauth, claims, obo):
    claims = dict(claims, authorities=["ROLE_SYSTEM_USER", "ROLE_VIEW_POM_ALLOCATIONS"])
    tok = staff(devauth, claims=claims)
    assert_client_env(served(site, call(site, "/api/env", tok), CLIENT), obo)


def test_token_without_grant_type_with_users_claims_is_staff(site, devauth):
    tok = staff(devauth, claims={"grant_type": None})
    env = served(site, call(site, "/api/env", tok), "ALLOC_SPO")
    assert "NOMIS_SSO_CLIENT_CREDENTIALS" not in env, env


def test_client_token_without_client_id_refused(site, devauth):
    tok = devauth.mint(claims={"client_id": None})["access_token"]
    assert challenge_error(site, call(site, "/api/env", tok)) == "invalid_token"


def test_client_token_naming_an_unsafe_user_refused(site, devauth):
    tok = devauth.mint(claims={"user_name": "EVIL\r\nX-Injected: yes"})["access_token"]
    assert challenge_error(site, call(site, "/api/env", tok)) == "invalid_token"


# ---------------------------------------------------------------------------
# what a proxied backend gets
# ---------------------------------------------------------------------------
FORGED = {"X-Nomis-On-Behalf-Of": "EVIL", "x_nomis_on_behalf_of": "EVIL2",
          "X-Nomis-Client-Credentials": "0", "X-Nomis-User": "ALLOC_ADMIN"}


def nomis_headers(resp):
    assert resp.status_code == 200, resp.text
    got = {}
    for k, v in resp.json()["headers"]:
        k = k.lower().replace("_", "-")
        if k.startswith("x-nomis-"):
            assert k not in got, "%s sent twice: %r" % (k, resp.json()["headers"])
            got[k] = v
    return got


def test_backend_gets_the_client_and_forgeries_are_stripped(site, devauth):
    got = nomis_headers(call(site, "/app/x", impersonating(devauth), headers=FORGED))
    assert got.get("x-nomis-user") == CLIENT, got
    assert got.get("x-nomis-client-credentials") == "1", got
    assert got.get("x-nomis-on-behalf-of") == "ALLOC_SPO", got
    for k in ("x-nomis-auth-source", "x-nomis-user-id", "x-nomis-name"):
        assert k not in got, got


def test_backend_gets_no_client_headers_for_staff(site, devauth):
    got = nomis_headers(call(site, "/app/x", staff(devauth), headers=FORGED))
    assert got.get("x-nomis-user") == "ALLOC_SPO", got
    assert "x-nomis-client-credentials" not in got, got
    assert "x-nomis-on-behalf-of" not in got, got


def test_cgi_never_sees_forged_client_headers(site, devauth):
    env = served(site, call(site, "/api/env", staff(devauth), headers=FORGED), "ALLOC_SPO")
    # the X-Nomis-* a CGI sees (as HTTP_X_NOMIS_*) are the module's own
    assert env.get("HTTP_X_NOMIS_USER") == "ALLOC_SPO", env
    for k in ("HTTP_X_NOMIS_ON_BEHALF_OF", "HTTP_X_NOMIS_CLIENT_CREDENTIALS",
              "NOMIS_SSO_ON_BEHALF_OF", "NOMIS_SSO_CLIENT_CREDENTIALS"):
        assert k not in env, env
    env = served(site, call(site, "/api/env", impersonating(devauth), headers=FORGED), CLIENT)
    assert env.get("HTTP_X_NOMIS_ON_BEHALF_OF") == "ALLOC_SPO", env
    assert env.get("HTTP_X_NOMIS_CLIENT_CREDENTIALS") == "1", env


# ---------------------------------------------------------------------------
# authorization
# ---------------------------------------------------------------------------
def test_nomis_user_never_matches_a_client(site, devauth):
    mark = site.log_mark()
    denied(site, call(site, "/api/user/env", impersonating(devauth)))
    assert "is a client calling with its own token" in site.log_since(mark)
    served(site, call(site, "/api/user/env", staff(devauth)), "ALLOC_SPO")


def test_nomis_auth_source_never_matches_a_client(site, devauth):
    denied(site, call(site, "/api/source/env", impersonating(devauth)))
    served(site, call(site, "/api/source/env", staff(devauth)), "ALLOC_SPO")


def test_nomis_role_and_scope_match_the_clients(site, devauth):
    tok = impersonating(devauth)
    assert_client_env(served(site, call(site, "/api/role/env", tok), CLIENT), "ALLOC_SPO")
    served(site, call(site, "/api/scope/env", tok), CLIENT)
    # a member of staff without the role is still refused
    denied(site, call(site, "/api/role/env", staff(devauth)))


def test_nomis_client(site, devauth):
    served(site, call(site, "/api/client/env", impersonating(devauth)), CLIENT)
    served(site, call(site, "/api/client/env", client_token(devauth)), CLIENT)
    # another client is not this one
    denied(site, call(site, "/api/other-client/env", client_token(devauth)))
    other = devauth.mint(client_id=OTHER)["access_token"]
    served(site, call(site, "/api/other-client/env", other), OTHER)
    # a member of staff signed in through our client is not a calling client
    mark = site.log_mark()
    denied(site, call(site, "/api/client/env", staff(devauth)))
    assert "not a client calling with its own token" in site.log_since(mark)


# ---------------------------------------------------------------------------
# NomisSSOBearerClients
# ---------------------------------------------------------------------------
def test_bearer_clients_refuses_other_clients(site, devauth):
    ours, other = impersonating(devauth), devauth.mint(client_id=OTHER)["access_token"]
    s = requests.Session()  # one connection: the child's own token cache answers
    for _ in range(2):
        # accepted (and cached) where any client may call ...
        served(site, call(site, "/api/env", ours, session=s), CLIENT)
        # ... refused where only others may, on every request
        assert challenge_error(site, call(site, "/api/only-other/env", ours,
                                          session=s)) == "invalid_token"
        served(site, call(site, "/api/only-other/env", other, session=s), OTHER)
        served(site, call(site, "/api/only-ours/env", ours, session=s), CLIENT)
        assert challenge_error(site, call(site, "/api/only-ours/env", other,
                                          session=s)) == "invalid_token"


def test_bearer_clients_applies_to_staff_tokens(site, devauth):
    # a member of staff's token comes from the client that signed them in
    assert challenge_error(site, call(site, "/api/only-other/env",
                                      staff(devauth))) == "invalid_token"
    served(site, call(site, "/api/only-ours/env", staff(devauth)), "ALLOC_SPO")


def test_bearer_clients_leaves_session_cookies_alone(site, devauth):
    tok = impersonating(devauth)
    assert challenge_error(site, call(site, "/both/env", tok)) == "invalid_token"
    b = H.Browser(site, devauth)
    _, page = b.login("/both/env")
    assert page.status_code == 200, site.explain(page)
    assert cgi_env(page.text).get("REMOTE_USER") == "ALLOC_SPO"


# ---------------------------------------------------------------------------
# sign-in: a token classified as a client's is refused
# ---------------------------------------------------------------------------
@pytest.fixture
def no_user_id_auth(request, tmp_path):
    """A devauth whose ALLOC_SPO has no user_id: its sign-in token looks like a
    client's (an authorization_code token without user_id)."""
    with open(os.path.join(H.HERE, "..", "devauth", "users.json")) as f:
        users = json.load(f)
    for u in users["users"]:
        if u["username"] == "ALLOC_SPO":
            u.pop("user_id")
    path = tmp_path / "users.json"
    path.write_text(json.dumps(users))
    os.chmod(tmp_path, 0o755)
    os.chmod(path, 0o644)
    d = H.DevAuth(extra_args=("--users", str(path))).start()
    _track(request, d)
    yield d
    d.cleanup()


def test_signin_refuses_a_token_without_user_id(no_user_id_auth, httpd_factory):
    h = httpd_factory(auth_url=no_user_id_auth.auth_url)
    b = H.Browser(h, no_user_id_auth)
    mark = h.log_mark()
    cb = b.callback(b.authorize(b.begin("/protected/env"), "ALLOC_SPO"))
    assert cb.status_code == 502, h.explain(cb, "a client-shaped token signed someone in")
    assert b.session_id() is None
    assert "client's own token" in h.log_since(mark)


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("line,words", [
    ("NomisSSOBearerClients", ["NomisSSOBearerClients"]),
    ("Require nomis-client", ["nomis-client"]),
    ("Require nomis-client a,b", ["nomis-client"]),
])
def test_config_refused(httpd_factory, line, words):
    h = httpd_factory(start=False)
    h.params["extra"] = "<Location /x>\n    AuthType nomis-bearer\n    %s\n</Location>\n" % line
    h.write_conf()
    rc, out = h.config_test()
    assert rc != 0, "accepted: %s\n%s" % (line, out)
    for w in words:
        assert w in out, out


def test_bearer_clients_in_htaccess(httpd_factory, devauth):
    """AllowOverride AuthConfig lets .htaccess name the clients (it may set
    Require lines there anyway)."""
    h = httpd_factory(start=False)
    d = os.path.join(h.dir, "htdocs", "svc")
    os.mkdir(d)
    os.chmod(d, 0o755)
    H.write_file(os.path.join(d, "page.html"), "<p>svc</p>\n")
    H.write_file(os.path.join(d, ".htaccess"),
                 "AuthType nomis-bearer\nRequire valid-user\n"
                 "NomisSSOBearerClients %s\n" % OTHER)
    h.params["extra"] = '<Directory "%s/htdocs/svc">\n    AllowOverride AuthConfig\n' \
                        '</Directory>\n' % h.dir
    h.write_conf()
    h.start()
    assert challenge_error(h, call(h, "/svc/page.html", impersonating(devauth))) \
        == "invalid_token"
    r = call(h, "/svc/page.html", devauth.mint(client_id=OTHER)["access_token"])
    assert r.status_code == 200 and "svc" in r.text, h.explain(r)
