"""Every claim a handler may need, through a real httpd: NOMIS_SSO_USER_UUID /
X-Nomis-User-Uuid from user_uuid, NomisSSOPassClaim's NOMIS_SSO_<NAME> /
X-Nomis-<Name> (from a signed-in user's token and from a bearer token, each
JSON type rendered or left out as docs/directives.md says, and never taken
from a client's own X-Nomis-* headers), and every caseload the user holds
(NOMIS_SSO_CASELOADS / X-Nomis-Caseloads) read from the Manage Users API's
/users/me/caseloads answer (devauth serves that shape).
"""

import json

import pytest
import requests

import harness as H
from harness import cgi_env

INFO = "/nomis-sso/info"
SPO_UUID = "6a0a7d5e-3c1b-4f7a-9a52-0c6f1a9d2b41"   # tests/devauth/users.json

PASS_CLAIMS = """
NomisSSOPassClaim grant_type GRANT
NomisSSOPassClaim scope SCOPES
NomisSSOPassClaim establishment ESTABLISHMENT_CODE
NomisSSOPassClaim level LEVEL
NomisSSOPassClaim mfa MFA
NomisSSOPassClaim nested OBJ
NomisSSOPassClaim ctl CTL
NomisSSOPassClaim mixed MIXED
"""

# client headers posing as the new values: none may reach a backend
SPOOF = {
    "X-Nomis-User-Uuid": "00000000-0000-0000-0000-000000000000",
    "X-Nomis-Caseloads": "BXI,WWI",
    "X-Nomis-Establishment-Code": "EVIL",
    "x_nomis_grant": "client_credentials",
}


def claims_extra(h, echo_port):
    return """
LoadModule proxy_module {moddir}/mod_proxy.so
LoadModule proxy_http_module {moddir}/mod_proxy_http.so
ScriptAliasMatch "^/api/" "{d}/cgi-bin/env.cgi"
<Location /api>
    AuthType nomis-bearer
    Require valid-user
</Location>
<Location /protected/app/>
    ProxyPass http://127.0.0.1:{port}/
</Location>
""".format(moddir=H.MODDIR, d=h.dir, port=echo_port)


def norm(name):
    return name.lower().replace("_", "-")


def nomis_headers(echo):
    got = {}
    for k, v in echo["headers"]:
        if norm(k).startswith("x-nomis-"):
            assert norm(k) not in got, "%s sent twice: %r" % (k, echo["headers"])
            got[norm(k)] = v
    return got


@pytest.fixture(scope="module")
def claims_httpd(devauth_server, echo_backend):
    conf = H.nsso_directives(
        devauth_server.auth_url,
        extra="NomisSSOCaseloadURL %s/users/me/caseloads\nNomisSSOInfoURI %s\n%s"
              % (devauth_server.auth_url, INFO, PASS_CLAIMS))
    h = H.Httpd(devauth_server.auth_url, nsso_conf=conf)
    try:
        h.params["extra"] = claims_extra(h, echo_backend.port)
        h.write_conf()
        h.start()
    except Exception:
        h.cleanup()
        raise
    yield h
    h.cleanup()


@pytest.fixture(scope="module")
def logins_module(claims_httpd, devauth_server):
    return H.Logins(claims_httpd, devauth_server)


@pytest.fixture
def site(claims_httpd, devauth):
    if not claims_httpd.running():
        pytest.fail("claims httpd is down\n" + claims_httpd.log_tail())
    return claims_httpd


@pytest.fixture
def logins(logins_module, site):
    return logins_module


def test_signed_in_user_environment(logins, site):
    env = cgi_env(logins.get("ALLOC_SPO", "/protected/env").text)
    assert env.get("REMOTE_USER") == "ALLOC_SPO", env
    assert env.get("NOMIS_SSO_USER_UUID") == SPO_UUID, env
    # Manage Users API: the active one and every one held (NWEB left out)
    assert env.get("NOMIS_SSO_CASELOAD") == "LEI", env
    assert env.get("NOMIS_SSO_CASELOADS") == "LEI,MDI", env
    # passed claims: a string, and an array comma-joined
    assert env.get("NOMIS_SSO_GRANT") == "authorization_code", env
    assert env.get("NOMIS_SSO_SCOPES") == "read,write", env
    # claims the token does not have are not passed
    for name in ("ESTABLISHMENT_CODE", "LEVEL", "MFA", "OBJ", "CTL", "MIXED"):
        assert "NOMIS_SSO_" + name not in env, env


def test_caseloads_exclude_the_pseudo_caseload(logins, site):
    """ALLOC_ADMIN holds LEI, MDI and NWEB: NWEB is not a prison."""
    env = cgi_env(logins.get("ALLOC_ADMIN", "/protected/env").text)
    assert env.get("NOMIS_SSO_CASELOADS") == "LEI,MDI", env
    assert env.get("NOMIS_SSO_CASELOAD") == "LEI", env


def test_info_has_caseloads_and_uuid(logins, site):
    doc = logins.get("ALLOC_SPO", INFO, headers={"Accept": "application/json"}).json()
    assert doc["user"] == "ALLOC_SPO", doc
    assert doc["caseload"] == "LEI" and doc["caseloads"] == ["LEI", "MDI"], doc
    assert doc["userUuid"] == SPO_UUID, doc
    doc = logins.get("DELIUS_SPO", INFO, headers={"Accept": "application/json"}).json()
    assert doc["caseloads"] == [] and doc["caseload"] is None, doc


def test_user_without_caseloads(logins, site):
    """DELIUS_SPO holds no caseload: neither variable is set."""
    env = cgi_env(logins.get("DELIUS_SPO", "/protected/env").text)
    assert env.get("REMOTE_USER") == "DELIUS_SPO", env
    assert "NOMIS_SSO_CASELOADS" not in env and "NOMIS_SSO_CASELOAD" not in env, env
    assert env.get("NOMIS_SSO_USER_UUID") == "8e2d4c6f-0a1b-4e3d-9f75-b4c8a2e1d093", env


def test_token_without_uuid(site, devauth):
    tok = devauth.mint(username="ALLOC_SPO", claims={"user_uuid": None})["access_token"]
    r = requests.get(site.url("/api/x"), headers={"Authorization": "Bearer " + tok},
                     timeout=10)
    assert r.status_code == 200, site.explain(r)
    env = cgi_env(r.text)
    assert env.get("REMOTE_USER") == "ALLOC_SPO", env
    assert "NOMIS_SSO_USER_UUID" not in env, env


def test_backend_gets_the_new_headers_and_never_a_clients(logins, site):
    status, _, data = H.raw_request(
        site.port, "GET", "/protected/app/x",
        headers=dict(SPOOF, Cookie="%s=%s" % (H.COOKIE, logins("ALLOC_SPO").session_id())))
    assert status == 200, data[:500]
    got = nomis_headers(json.loads(data.decode("utf-8")))
    assert got["x-nomis-user-uuid"] == SPO_UUID, got
    assert got["x-nomis-caseloads"] == "LEI,MDI", got
    assert got["x-nomis-grant"] == "authorization_code", got
    assert got["x-nomis-scopes"] == "read,write", got
    # the client's own were removed, and the token has no establishment claim
    assert "x-nomis-establishment-code" not in got, got
    assert not set(SPOOF.values()) & set(got.values()), got


def test_bearer_token_claims_each_type(site, devauth):
    tok = devauth.mint(username="ALLOC_SPO", claims={
        "establishment": "LEI",
        "level": 3,
        "mfa": True,
        "nested": {"a": 1},
        "ctl": "a\r\nX-Evil: 1",
        "mixed": ["x", 2, False, "y,z"],
    })["access_token"]
    r = requests.get(site.url("/api/x"), headers={"Authorization": "Bearer " + tok},
                     timeout=10)
    assert r.status_code == 200, site.explain(r)
    env = cgi_env(r.text)
    assert env.get("REMOTE_USER") == "ALLOC_SPO", env
    assert env.get("NOMIS_SSO_ESTABLISHMENT_CODE") == "LEI", env
    assert env.get("NOMIS_SSO_LEVEL") == "3", env
    assert env.get("NOMIS_SSO_MFA") == "true", env
    assert "NOMIS_SSO_OBJ" not in env, env            # objects are not passed
    assert env.get("NOMIS_SSO_CTL") == "a??X-Evil: 1", env  # header-safe
    assert env.get("NOMIS_SSO_MIXED") == "x,2,false", env   # "y,z" left out
    assert env.get("NOMIS_SSO_USER_UUID") == SPO_UUID, env
    assert "HTTP_X_EVIL" not in env, env


@pytest.mark.parametrize("line,why", [
    ("NomisSSOPassClaim establishment lower", "A-Z"),
    ("NomisSSOPassClaim establishment ROLES", "passed by the module itself"),
    ("NomisSSOPassClaim establishment USER_UUID", "passed by the module itself"),
    ("NomisSSOPassClaim establishment", "two arguments"),
    ("NomisSSOPassClaim a A\nNomisSSOPassClaim a B", "passed already"),
])
def test_configtest_refuses_bad_pass_claim(devauth, httpd_factory, line, why):
    conf = H.nsso_directives(devauth.auth_url, extra=line)
    h = httpd_factory(start=False, nsso_conf=conf)
    code, out = h.config_test()
    assert code != 0 and "NomisSSOPassClaim" in out and why in out, out
