"""Every refusal the module makes (400, 401, 403, 502, 503) honours the
sysadmin's ErrorDocument for its status, as httpd's own refusals do; without
one, the module's own pages look like an HMPPS service page: plain words,
sign-out links on a denial, a request id for the service desk (logged too),
no-store and a strict CSP."""
import os
import re
import time
from urllib.parse import unquote

import pytest
import requests

import harness as H
import test_shared_store as SS

STATUSES = (400, 401, 403, 502, 503)
DENY = """
ScriptAliasMatch "^/authz/" "{dir}/cgi-bin/env.cgi"
<Location /authz/>
    AuthType nomis-sso
    Require nomis-role ROLE_ALLOCATION_MANAGER_ADMIN ALLOC_MGR
</Location>
"""
BASE_CSP = "default-src 'none'; style-src 'unsafe-inline'"
REF = re.compile(r'id="nsso-ref">[^<]*<strong>([^<]+)</strong>')


def _error_docs(h, statuses=STATUSES):
    d = os.path.join(h.dir, "htdocs", "errors")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    for s in statuses:
        H.write_file(os.path.join(d, "%d.html" % s),
                     "<!DOCTYPE html><title>sysadmin %d</title><p id=sysadmin>sysadmin page %d</p>\n"
                     % (s, s))
    return "".join("ErrorDocument %d /errors/%d.html\n" % (s, s) for s in statuses)


def _site(httpd_factory, error_docs=True, extra="", **kw):
    h = httpd_factory(start=False, **kw)
    lines = DENY.format(dir=h.dir) + extra
    if error_docs:
        lines = _error_docs(h) + lines
    h.params["extra"] = lines
    h.write_conf()
    h.start()
    return h


def _sysadmin(h, r, status):
    assert r.status_code == status, h.explain(r, "expected %d" % status)
    assert "sysadmin page %d" % status in r.text, h.explain(r, "not the sysadmin's page")
    assert "nsso-ref" not in r.text


# ---------------------------------------------------------------------------
# the sysadmin's ErrorDocument wins
# ---------------------------------------------------------------------------
def test_denial_serves_error_document_403(httpd_factory, devauth):
    h = _site(httpd_factory)
    b = H.Browser(h, devauth)
    b.login("/protected/env", "ALLOC_POM")
    r = b.get("/authz/x", headers={"Accept": "text/html"})
    _sysadmin(h, r, 403)
    assert "REMOTE_USER" not in r.text
    assert r.headers.get("Cache-Control") == "no-store"
    assert "NSSO1520: refused with 403" in h.log_since(0)


@pytest.mark.parametrize("doc,check", [
    ('"Go away, says the sysadmin"', lambda r: r.status_code == 403
     and "Go away, says the sysadmin" in r.text),
    ("https://errors.example/403", lambda r: r.status_code == 302
     and r.headers["Location"] == "https://errors.example/403"),
], ids=["text", "url"])
def test_denial_error_document_text_and_url(httpd_factory, devauth, doc, check):
    h = _site(httpd_factory, error_docs=False, extra="ErrorDocument 403 %s\n" % doc)
    b = H.Browser(h, devauth)
    b.login("/protected/env", "ALLOC_POM")
    r = b.get("/authz/x")
    assert check(r), h.explain(r)
    assert "Access denied" not in r.text


def test_denial_with_401_action_serves_error_document_401(httpd_factory, devauth):
    h = _site(httpd_factory, extra="<Location /authz/>\nNomisSSOUnauthzAction 401\n</Location>\n")
    b = H.Browser(h, devauth)
    b.login("/protected/env", "ALLOC_POM")
    _sysadmin(h, b.get("/authz/x"), 401)


def test_bad_state_serves_error_document_400(httpd_factory):
    h = _site(httpd_factory)
    r = requests.get(h.url(H.CALLBACK), allow_redirects=False, timeout=10)
    _sysadmin(h, r, 400)
    assert "NSSO0312" in h.log_since(0)


def test_xhr_serves_error_document_401(httpd_factory):
    h = _site(httpd_factory)
    r = requests.get(h.url("/protected/env"), headers={"X-Requested-With": "XMLHttpRequest"},
                     allow_redirects=False, timeout=10)
    _sysadmin(h, r, 401)
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_auth_server_down_serves_error_document_502(httpd_factory, devauth):
    h = _site(httpd_factory)
    b = H.Browser(h, devauth)
    cb = b.authorize(b.begin("/protected/env"))
    devauth.fault("token", "500")
    _sysadmin(h, b.callback(cb), 502)


def test_auth_server_down_own_page_502(httpd_factory, devauth):
    h = _site(httpd_factory, error_docs=False)
    b = H.Browser(h, devauth)
    cb = b.authorize(b.begin("/protected/env"))
    devauth.fault("token", "500")
    r = b.callback(cb)
    assert r.status_code == 502 and "Sign-in service unavailable" in r.text, h.explain(r)
    _own_page(h, r)


def _store_down(httpd_factory, devauth, error_docs):
    SS._need(SS.REDIS, "redis")
    engine = SS.Engine("redis").start()
    try:
        load = "LoadModule socache_redis_module %s/mod_socache_redis.so\nRedisTimeout 2\n" \
               % H.MODDIR
        h = _site(httpd_factory, error_docs=error_docs, nsso_conf=load + H.nsso_directives(
            devauth.auth_url, extra="NomisSSOSessionStore socache:redis:127.0.0.1:%d"
            % engine.port))
        b = H.Browser(h, devauth)
        b.login("/protected/env")
        engine.stop()
        return h, b.get("/protected/env", headers={"Accept": "text/html"})
    finally:
        engine.stop()


def test_store_down_serves_error_document_503(httpd_factory, devauth):
    h, r = _store_down(httpd_factory, devauth, True)
    _sysadmin(h, r, 503)
    assert r.headers.get("Retry-After") == "30"


def test_store_down_own_page_503(httpd_factory, devauth):
    h, r = _store_down(httpd_factory, devauth, False)
    assert r.status_code == 503 and "temporarily unavailable" in r.text, h.explain(r)
    # httpd's custom response: no charset on the header, the page's <meta> says utf-8
    _own_page(h, r, content_type="text/html")
    assert '<meta charset="utf-8">' in r.text


# ---------------------------------------------------------------------------
# the module's own pages
# ---------------------------------------------------------------------------
def _own_page(h, r, content_type="text/html; charset=utf-8"):
    assert r.headers.get("Cache-Control") == "no-store", r.headers
    assert r.headers.get("Content-Security-Policy") == BASE_CSP, r.headers
    assert r.headers.get("Content-Type") == content_type, r.headers
    assert "HM Prison and Probation Service" in r.text
    assert "sysadmin page" not in r.text
    m = REF.search(r.text)
    assert m, h.explain(r, "no request id on the page")
    assert "request id %s" % m.group(1) in h.log_since(0), h.log_tail()
    return m.group(1)


def test_own_denial_page(httpd_factory, devauth):
    h = _site(httpd_factory, error_docs=False)
    b = H.Browser(h, devauth)
    b.login("/protected/env", "ALLOC_POM")
    r = b.get("/authz/x?a=1")
    assert r.status_code == 403, h.explain(r)
    _own_page(h, r)
    assert "needs one of these roles: Allocation manager admin, Alloc mgr." in r.text
    assert "Require" not in r.text and "ROLE_" not in r.text and "ALLOC_MGR" not in r.text
    out = re.search(r'id="nsso-sign-out" href="([^"]+)"', r.text).group(1)
    again = re.search(r'id="nsso-switch-user" href="([^"]+)"', r.text).group(1)
    assert out == "/nomis-sso/logout"
    assert unquote(again.replace("&amp;", "&")) == "/nomis-sso/logout?return=/authz/x?a=1"
    # "someone else" signs out and comes back to the page, through HMPPS Auth
    r = b.get(again.replace("&amp;", "&"), headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 302, h.explain(r)
    assert "redirect_uri=" in r.headers["Location"]
    assert "authz%2Fx" in r.headers["Location"], r.headers["Location"]
    assert b.get("/protected/env").status_code == 302  # signed out here


def test_own_bad_state_page(httpd_factory):
    h = _site(httpd_factory, error_docs=False)
    r = requests.get(h.url(H.CALLBACK), allow_redirects=False, timeout=10)
    assert r.status_code == 400
    _own_page(h, r)


def test_request_id_is_unique_id(httpd_factory, devauth):
    h = httpd_factory(start=False)
    h.params["extra"] = ("LoadModule unique_id_module %s/mod_unique_id.so\n"
                         "CustomLog \"%s/uid_log\" \"%%{UNIQUE_ID}e\"\n" % (H.MODDIR, h.dir))
    h.write_conf()
    h.start()
    r = requests.get(h.url(H.CALLBACK), allow_redirects=False, timeout=10)
    assert r.status_code == 400
    ref = _own_page(h, r)
    deadline = time.monotonic() + 5  # the access log line follows the answer
    while True:
        with open(os.path.join(h.dir, "uid_log")) as f:
            logged = f.read().split()
        if ref in logged or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert ref in logged  # (the harness asked something at start too)
    assert len(ref) > 8
