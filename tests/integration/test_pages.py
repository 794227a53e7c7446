"""Every HTML page the module writes (error pages, the sign-out confirmation,
the password form) has the same headers and skeleton: no-store, nosniff, a
strict CSP, never framed where it holds a form; and log lines carry their
message number (NSSOnnnn), listed in docs/operations.md."""
import requests

import harness as H

BASE_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _common(r):
    assert r.headers.get("Cache-Control") == "no-store", r.headers
    assert r.headers.get("Content-Type") == "text/html; charset=utf-8", r.headers
    assert r.headers.get("X-Content-Type-Options") == "nosniff", r.headers
    assert r.text.startswith("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>"), r.text
    assert r.text.endswith("</body></html>\n"), r.text


def test_error_page_headers_and_log_number(site):
    mark = site.log_mark()
    r = requests.get(site.url("/nomis-sso/callback"), allow_redirects=False, timeout=10)
    assert r.status_code == 400
    _common(r)
    assert r.headers.get("Content-Security-Policy") == BASE_CSP, r.headers
    assert "X-Frame-Options" not in r.headers
    assert "NSSO0312: sign-in callback refused" in site.log_since(mark)


def test_logout_confirmation_is_never_framed(browser, site):
    cb = browser.authorize(browser.begin("/protected/env"))
    browser.get(cb)
    r = browser.get("/nomis-sso/logout")
    assert r.status_code == 200 and "Sign out?" in r.text, site.explain(r)
    _common(r)
    assert r.headers.get("Content-Security-Policy") == BASE_CSP + "; frame-ancestors 'none'"
    assert r.headers.get("X-Frame-Options") == "DENY"


def test_password_form_headers_and_startup_warning(devauth_server):
    conf = H.nsso_directives(devauth_server.auth_url,
                             extra="NomisSSOGrantType password\nNomisSSOPasswordAllowHTTP On")
    h = H.Httpd(devauth_server.auth_url, nsso_conf=conf)
    h.start()
    try:
        assert "NSSO0500: NomisSSOGrantType password: this server receives staff passwords" \
            in h.log_since(0), h.log_tail()
        s = requests.Session()
        r = s.get(h.url("/protected/env"), headers={"Accept": "text/html"}, timeout=10)
        assert r.status_code == 200 and 'type="password"' in r.text, h.explain(r)
        _common(r)
        assert r.headers.get("Content-Security-Policy") == \
            BASE_CSP + "; form-action 'self'; frame-ancestors 'none'"
    finally:
        h.cleanup()


def test_no_password_warning_without_the_form(site):
    assert "NSSO0500" not in site.log_since(0)
