"""Bearer-only servers and configtest for every AuthType (issue 11 part 4),
through a real httpd and the dev auth server.

An API server whose only use of the module is `AuthType nomis-bearer` needs
NomisSSOAuthURL and nothing else (no client, secret, passphrase or redirect
URI), with the shared-memory store or a shared socache engine (redis);
`httpd -t` checks what every AuthType line in httpd.conf needs; an AuthType
in .htaccess on a server lacking what it needs answers 500 and logs the
missing directive at most once a minute."""

import os
import re

import pytest
import requests

import harness as H
from conftest import _track
from test_shared_store import REDIS, Engine, _need

XHR = {"Accept": "application/json"}


class BearerHttpd(H.Httpd):
    """The harness's site with every `AuthType nomis-sso` made nomis-bearer:
    nothing in it signs anyone in."""

    def write_conf(self):
        path = super().write_conf()
        with open(path, encoding="utf-8") as f:
            text = f.read()
        H.write_file(path, text.replace("AuthType nomis-sso", "AuthType nomis-bearer"))
        return path


@pytest.fixture
def made(request):
    hs = []

    def make(nsso_conf, start=True, cls=BearerHttpd, extra=""):
        h = cls(nsso_conf=nsso_conf, extra=extra)
        hs.append(h)
        _track(request, h)
        if start:
            h.start()
        return h

    yield make
    for h in hs:
        h.cleanup()


def api(h, token=None, path="/protected/env"):
    headers = dict(XHR)
    if token:
        headers["Authorization"] = "Bearer " + token
    return requests.get(h.url(path), headers=headers, allow_redirects=False, timeout=15)


def assert_api_works(h, auth):
    r = api(h)
    assert r.status_code == 401 and r.headers.get("WWW-Authenticate", "").startswith(
        "Bearer"), h.explain(r, "no token: a Bearer challenge")
    tok = auth.mint(username="ALLOC_SPO")["access_token"]
    r = api(h, tok)
    assert r.status_code == 200, h.explain(r, "a good token must be served")
    env = H.cgi_env(r.text)
    assert env.get("REMOTE_USER") == "ALLOC_SPO" and env.get("AUTH_TYPE") == "nomis-bearer"
    r = api(h, tok[:-4] + ("AAAA" if not tok.endswith("AAAA") else "BBBB"))
    assert r.status_code == 401 and "invalid_token" in r.headers.get("WWW-Authenticate", "")


def test_auth_url_alone_serves_an_api(made, devauth):
    h = made("NomisSSOAuthURL %s\n" % devauth.auth_url, start=False)
    rc, out = h.config_test()
    assert rc == 0, out
    h.start()
    assert_api_works(h, devauth)
    # nothing of sign-in is served: the callback path is not the module's
    r = requests.get(h.url("/nomis-sso/callback?code=x&state=y"), timeout=10)
    assert r.status_code == 404, h.explain(r)
    assert "NomisSSOClientID" not in h.log_since(), h.log_tail()


def test_auth_url_alone_with_a_shared_store(made, devauth):
    """socache needs sealing keys: with no passphrase anywhere the host makes
    its own, and cached tokens are still served."""
    _need(REDIS, "redis")
    engine = Engine("redis").start()
    try:
        load = ("LoadModule socache_redis_module %s/mod_socache_redis.so\nRedisTimeout 2\n"
                % H.MODDIR)
        h = made(load + "NomisSSOAuthURL %s\nNomisSSOSessionStore socache:redis:127.0.0.1:%d\n"
                 % (devauth.auth_url, engine.port))
        assert_api_works(h, devauth)
        keys = engine.redis("KEYS", "*")
        assert keys, "the token check was not cached in redis"
        tok = devauth.mint(username="ALLOC_POM")["access_token"]
        for _ in range(3):
            assert api(h, tok).status_code == 200
    finally:
        engine.stop()


def test_configtest_names_auth_url_for_a_bearer_location(made):
    h = made("", start=False)
    rc, out = h.config_test()
    assert rc != 0, out
    assert re.search(r"NomisSSOAuthURL is required: 'AuthType nomis-bearer' is used at "
                     r"\S+httpd\.conf:\d+", out), out


def test_configtest_still_names_sign_in_settings_for_nomis_sso(made, devauth):
    """One nomis-sso location beside the APIs needs all of sign-in's."""
    h = made("NomisSSOAuthURL %s\n" % devauth.auth_url, start=False,
             extra="<Location /web>\n    AuthType Nomis-SSO\n    Require valid-user\n"
                   "</Location>\n")  # (capitals: BearerHttpd leaves it alone)
    rc, out = h.config_test()
    assert rc != 0 and "NomisSSOClientID is required: 'AuthType nomis-sso' is used at" in out, out


def test_configtest_half_a_sign_in_without_authtype(made, devauth):
    """NomisSSO* directives and no AuthType line: a client id asks for the
    rest of sign-in's settings (an .htaccess file may use them)."""
    h = made("NomisSSOAuthURL %s\nNomisSSOClientID x\n" % devauth.auth_url, start=False,
             cls=H.Httpd)
    # the harness's site uses AuthType: take it out
    with open(h.conf_path, encoding="utf-8") as f:
        text = f.read()
    H.write_file(h.conf_path, text.replace("AuthType nomis-sso", "AuthType None"))
    rc, out = h.config_test()
    assert rc != 0 and "NomisSSOClientSecret is required: other NomisSSO* directives" in out, out
    H.write_file(h.conf_path, text.replace("AuthType nomis-sso", "AuthType None")
                 .replace("NomisSSOClientID x\n", ""))
    rc, out = h.config_test()
    assert rc == 0, out


def htaccess_site(made, nsso_conf, authtype):
    h = made(nsso_conf, start=False, cls=H.Httpd)
    d = os.path.join(h.dir, "htdocs", "team")
    os.mkdir(d)
    os.chmod(d, 0o755)
    H.write_file(os.path.join(d, "page.html"), "<p>team</p>\n")
    H.write_file(os.path.join(d, ".htaccess"), "AuthType %s\nRequire valid-user\n" % authtype)
    h.params["extra"] = '<Directory "%s">\n    AllowOverride AuthConfig\n</Directory>\n' % d
    h.write_conf()
    with open(h.conf_path, encoding="utf-8") as f:
        text = f.read()
    # nothing in httpd.conf itself uses the module
    H.write_file(h.conf_path, text.replace("AuthType nomis-sso", "AuthType None"))
    rc, out = h.config_test()
    assert rc == 0, out  # configtest cannot see .htaccess
    h.start()
    return h


@pytest.mark.parametrize("nsso_conf, authtype, missing", [
    ("", "nomis-bearer", "NomisSSOAuthURL"),
    ("NomisSSOAuthURL http://127.0.0.1:9/auth\n", "nomis-sso", "NomisSSOClientID"),
])
def test_htaccess_missing_directive_500_logged_once_a_minute(made, nsso_conf, authtype,
                                                             missing):
    h = htaccess_site(made, nsso_conf, authtype)
    mark = h.log_mark()
    for _ in range(6):
        r = requests.get(h.url("/team/page.html"), headers=XHR, timeout=10)
        assert r.status_code == 500, h.explain(r)
    log = h.log_since(mark)
    lines = [l for l in log.splitlines() if "AuthType %s is used" % authtype in l]
    pids = [re.search(r"\[pid (\d+)", l).group(1) for l in lines]
    # once per child process (the harness runs two), not once per request
    assert lines and len(pids) == len(set(pids)) < 6, log
    assert re.search(r":error\].*AuthType %s is used \(for /team/page\.html\) but %s is "
                     r"not set for this server" % (authtype, missing), lines[0]), lines[0]


def test_htaccess_bearer_on_an_auth_url_only_server(made, devauth):
    h = htaccess_site(made, "NomisSSOAuthURL %s\n" % devauth.auth_url, "nomis-bearer")
    tok = devauth.mint(username="ALLOC_SPO")["access_token"]
    r = api(h, tok, "/team/page.html")
    assert r.status_code == 200 and "team" in r.text, h.explain(r)


def test_issuer_and_jwks_url_without_auth_url(made, devauth):
    """The other minimal API configuration: whose tokens (issuer) and where
    the keys are; no discovery then (no NomisSSOAuthURL to find it under)."""
    d0 = devauth.stats()["requests"].get("discovery", 0)
    h = made("NomisSSOIssuer %s/issuer\nNomisSSOJWKSURL %s/.well-known/jwks.json\n"
             % (devauth.auth_url, devauth.auth_url), start=False)
    rc, out = h.config_test()
    assert rc == 0, out
    h.start()
    assert_api_works(h, devauth)
    assert devauth.stats()["requests"].get("discovery", 0) == d0


@pytest.mark.parametrize("conf", ["NomisSSOIssuer http://127.0.0.1:9/auth/issuer\n",
                                  "NomisSSOJWKSURL http://127.0.0.1:9/auth/jwks\n"])
def test_issuer_or_jwks_url_alone_is_not_enough(made, conf):
    h = made(conf, start=False)
    rc, out = h.config_test()
    assert rc != 0, out
    assert "NomisSSOAuthURL is required: 'AuthType nomis-bearer' is used at" in out, out
    assert "or, for bearer tokens only, NomisSSOIssuer and NomisSSOJWKSURL" in out, out


def test_jwks_url_wins_over_discovery(made, devauth):
    devauth.fault("discovery", "moved")
    h = made("NomisSSOAuthURL %s\nNomisSSOJWKSURL %s/.well-known/jwks.json\n"
             % (devauth.auth_url, devauth.auth_url))
    j0 = devauth.stats()["requests"]
    assert_api_works(h, devauth)
    j1 = devauth.stats()["requests"]
    assert j1.get("jwks", 0) > j0.get("jwks", 0), (j0, j1)
    assert j1.get("jwks_alt", 0) == j0.get("jwks_alt", 0), (j0, j1)
