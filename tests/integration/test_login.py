"""Sign-in through a real httpd with the built module and the dev auth server."""

import base64
import re
import secrets
import time
from urllib.parse import urljoin, urlsplit

import pytest
import requests

import harness as H
from harness import COOKIE, STATE_PREFIX, CALLBACK, cgi_env

MPMS = ["event", "prefork"]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def assert_signed_in(h, resp, user="ALLOC_SPO"):
    assert resp.status_code == 200, h.explain(resp, "protected page not served")
    env = cgi_env(resp.text)
    assert env.get("REMOTE_USER") == user, h.explain(resp, "REMOTE_USER")
    assert env.get("AUTH_TYPE") == H.AUTH_TYPE, h.explain(resp, "AUTH_TYPE")
    return env


def assert_cookie_flags(h, resp, name, value_expected=True):
    sc = H.cookies_set(resp)
    assert name in sc, h.explain(resp, "no Set-Cookie for %s" % name)
    value, attrs = sc[name]
    assert attrs.get("httponly") is True, "HttpOnly missing: %r" % (attrs,)
    assert str(attrs.get("samesite", "")).lower() == "lax", "SameSite=Lax missing: %r" % (attrs,)
    assert "secure" not in attrs, "Secure set over plain http: %r" % (attrs,)
    assert attrs.get("path") == "/", attrs
    if value_expected:
        assert value, "empty %s cookie" % name
    return value, attrs


def assert_no_session_created(h, resp):
    assert H.new_session_cookie(resp) is None, h.explain(resp, "a session cookie was set")


def assert_redirects_to_login(h, b, resp):
    assert resp.status_code == 302, h.explain(resp, "expected a redirect to sign-in")
    assert resp.headers["Location"].startswith(b.devauth.auth_url + "/oauth/authorize?"), \
        h.explain(resp, "redirect does not go to HMPPS Auth")


def is_error_page(resp, status):
    return (resp.status_code == status and "text/html" in resp.headers.get("Content-Type", "")
            and "<h1>" in resp.text)


def no_tokens_logged(h):
    log = h.log_since(0)
    assert "eyJ" not in log, "a JWT (or part of one) reached the error_log:\n" + \
        "\n".join(line for line in log.splitlines() if "eyJ" in line)[:2000]


# ---------------------------------------------------------------------------
# the basic flow, under both MPMs
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mpm", MPMS)
def test_full_login(httpd_factory, devauth, mpm):
    h = httpd_factory(mpm=mpm)
    b = H.Browser(h, devauth)

    first = b.get("/protected/env")
    assert_redirects_to_login(h, b, first)
    loc = first.headers["Location"]
    q = H.query_of(loc)
    assert urlsplit(loc).path == "/auth/oauth/authorize"
    assert q.get("response_type") == "code"
    assert q.get("client_id") == H.CLIENT_ID
    assert q.get("redirect_uri") == h.url(CALLBACK)
    assert q.get("code_challenge_method") == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", q.get("code_challenge", "")), q
    state = q.get("state", "")
    assert re.fullmatch(r"[A-Za-z0-9_-]{22,64}", state), q
    assert first.headers.get("Cache-Control") == "no-store"
    # the state rides in a cookie named after it
    value, attrs = assert_cookie_flags(h, first, STATE_PREFIX + state)
    assert int(attrs.get("max-age", "0")) > 0
    assert state not in value  # the cookie value is sealed, not the bare state

    cb_url = b.authorize(loc, "ALLOC_SPO")
    assert cb_url.startswith(h.url(CALLBACK) + "?")
    assert H.query_of(cb_url).get("state") == state
    cb = b.callback(cb_url)
    assert cb.status_code == 302, h.explain(cb, "callback")
    assert cb.headers["Location"] == "/protected/env"
    sid, _ = assert_cookie_flags(h, cb, COOKIE)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", sid)
    # the spent state cookie is cleared
    st_value, st_attrs = H.cookies_set(cb)[STATE_PREFIX + state]
    assert st_value == "" and st_attrs.get("max-age") == "0"
    assert b.state_cookies() == {}

    page = b.get(cb.headers["Location"])
    env = assert_signed_in(h, page)
    assert env.get("NOMIS_SSO_USER") == "ALLOC_SPO"
    assert "ALLOC_MGR" in env.get("NOMIS_SSO_ROLES", "").split(",")
    static = b.get("/protected/page.html")
    assert static.status_code == 200 and "protected page" in static.text
    no_tokens_logged(h)


def test_returns_to_original_url_with_query(browser, site):
    cb, page = browser.login("/protected/env?prison=LEI&x=1%202")
    assert cb.headers["Location"] == "/protected/env?prison=LEI&x=1%202"
    env = assert_signed_in(site, page)
    assert env.get("QUERY_STRING") == "prison=LEI&x=1%202"
    assert env.get("REQUEST_URI") == "/protected/env?prison=LEI&x=1%202"


def test_returns_to_static_page(browser, site):
    cb, page = browser.login("/protected/page.html")
    assert cb.headers["Location"] == "/protected/page.html"
    assert page.status_code == 200 and "protected page" in page.text, site.explain(page)


def test_session_used_without_devauth(browser, site, devauth):
    browser.login()
    before = devauth.stats()
    for path in ("/protected/env", "/protected/page.html", "/protected/env?again=1"):
        r = browser.get(path)
        assert r.status_code == 200, site.explain(r, path)
    assert_signed_in(site, browser.get("/protected/env"))
    after = devauth.stats()
    assert after["grants"] == before["grants"], (before, after)
    for ep in ("authorize", "sign_in", "token"):
        assert after["requests"][ep] == before["requests"][ep], (ep, before, after)


def test_two_tabs_finish_in_opposite_order(browser, site):
    b = browser
    auth1 = b.begin("/protected/env?tab=1")
    auth2 = b.begin("/protected/env?tab=2")
    assert len(b.state_cookies()) == 2
    cb1 = b.authorize(auth1)           # form
    cb2 = b.authorize(auth2)           # silent SSO
    r2 = b.callback(cb2)
    assert r2.status_code == 302 and r2.headers["Location"] == "/protected/env?tab=2", \
        site.explain(r2)
    r1 = b.callback(cb1)
    assert r1.status_code == 302 and r1.headers["Location"] == "/protected/env?tab=1", \
        site.explain(r1)
    env2 = assert_signed_in(site, b.get(r2.headers["Location"]))
    env1 = assert_signed_in(site, b.get(r1.headers["Location"]))
    assert env2["QUERY_STRING"] == "tab=2" and env1["QUERY_STRING"] == "tab=1"
    assert b.state_cookies() == {}


# ---------------------------------------------------------------------------
# callback abuse
# ---------------------------------------------------------------------------
def test_replayed_callback_refused(browser, site, devauth):
    b = browser
    auth = b.begin("/protected/env")
    cb_url = b.authorize(auth)
    cookies = dict(b.state_cookies())
    assert len(cookies) == 1
    cookie_header = "; ".join("%s=%s" % kv for kv in cookies.items())
    ok = b.callback(cb_url)
    assert ok.status_code == 302, site.explain(ok)
    grants = devauth.stats()["grants"]["authorization_code"]

    mark = site.log_mark()
    again = requests.get(cb_url, headers={"Cookie": cookie_header, "Accept": "text/html"},
                         allow_redirects=False, timeout=10)
    assert again.status_code == 400, site.explain(again, "replay")
    assert is_error_page(again, 400)
    assert_no_session_created(site, again)
    assert "replayed" in site.log_since(mark)
    # refused before the code went anywhere
    assert devauth.stats()["grants"]["authorization_code"] == grants


def _tamper(value):
    i = len(value) // 2
    return value[:i] + ("A" if value[i] != "A" else "B") + value[i + 1:]


@pytest.mark.parametrize("how", [
    "random_state_no_cookie", "random_state_own_cookie", "tampered_cookie",
    "cookie_of_other_state", "tampered_state_param"])
def test_forged_state_refused(browser, site, devauth, how):
    b = browser
    cb_url = b.authorize(b.begin("/protected/env"))
    state = H.query_of(cb_url)["state"]
    code = H.query_of(cb_url)["code"]
    genuine = b.state_cookies()[STATE_PREFIX + state]
    forged_state = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
    cookies = {}
    if how == "random_state_no_cookie":
        target_state = forged_state
    elif how == "random_state_own_cookie":
        target_state = forged_state
        cookies[STATE_PREFIX + forged_state] = _tamper(genuine)
    elif how == "tampered_cookie":
        target_state = state
        cookies[STATE_PREFIX + state] = _tamper(genuine)
    elif how == "cookie_of_other_state":
        # a genuine cookie, presented under another state's name
        target_state = forged_state
        cookies[STATE_PREFIX + forged_state] = genuine
    else:  # the state parameter altered, genuine cookie sent as is
        target_state = _tamper(state)
        cookies[STATE_PREFIX + state] = genuine
    url = site.url(CALLBACK) + "?code=%s&state=%s" % (code, target_state)
    mark = site.log_mark()
    r = requests.get(url, headers={"Cookie": "; ".join("%s=%s" % kv for kv in cookies.items()),
                                   "Accept": "text/html"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 400, site.explain(r, how)
    assert is_error_page(r, 400)
    assert_no_session_created(site, r)
    assert "sign-in callback refused" in site.log_since(mark)
    # the genuine sign-in was not spent by the forgery
    ok = b.callback(cb_url)
    assert ok.status_code == 302, site.explain(ok, "genuine callback after forgery")
    assert_signed_in(site, b.get(ok.headers["Location"]))


@pytest.mark.parametrize("query", [
    "", "?code=abc", "?code=abc&state=", "?state=&code=abc", "?code=abc&state=short",
    "?code=abc&state=%s&state=%s" % ("A" * 22, "B" * 22)],
    ids=["no_params", "no_state", "empty_state", "empty_state_first", "short_state",
         "repeated_state"])
def test_missing_or_malformed_state_400(site, query):
    r = requests.get(site.url(CALLBACK) + query, allow_redirects=False, timeout=10)
    assert r.status_code == 400, site.explain(r, query)
    assert_no_session_created(site, r)


def test_callback_refuses_post(site):
    r = requests.post(site.url(CALLBACK) + "?code=abc&state=" + "A" * 22, data="x=1",
                      allow_redirects=False, timeout=10)
    assert r.status_code == 405, site.explain(r)
    assert_no_session_created(site, r)


def test_callback_405_allow_header_names_get(site):
    r = requests.post(site.url(CALLBACK) + "?code=abc&state=" + "A" * 22, data="x=1",
                      allow_redirects=False, timeout=10)
    assert r.status_code == 405
    assert "GET" in [m.strip() for m in r.headers.get("Allow", "").split(",")], r.headers


def test_access_denied_is_403(browser, site, devauth):
    b = browser
    auth = b.begin("/protected/env")
    deny = b.deny_url(auth)
    assert "error=access_denied" in deny
    r = b.callback(deny)
    assert r.status_code == 403, site.explain(r)
    assert is_error_page(r, 403)
    assert_no_session_created(site, r)
    assert b.state_cookies() == {}
    assert_redirects_to_login(site, b, b.get("/protected/env"))


def test_state_cookie_limit(browser, site):
    b = browser
    auths = []
    for i in range(10):
        auths.append(b.begin("/protected/env?attempt=%d" % i))
        held = b.state_cookies()
        assert len(held) <= 5, "browser holds %d state cookies after %d sign-ins: %s" % (
            len(held), i + 1, sorted(held))
    states = [H.query_of(a)["state"] for a in auths]
    assert len(set(states)) == 10
    assert set(b.state_cookies()) == {STATE_PREFIX + s for s in states[-5:]}
    # an evicted sign-in can no longer complete ...
    r = b.callback(b.authorize(auths[0]))
    assert r.status_code == 400, site.explain(r, "an evicted sign-in completed")
    assert_no_session_created(site, r)
    # ... the newest one can
    r = b.callback(b.authorize(auths[-1]))
    assert r.status_code == 302, site.explain(r)
    assert r.headers["Location"] == "/protected/env?attempt=9"
    assert_signed_in(site, b.get(r.headers["Location"]))


# ---------------------------------------------------------------------------
# session cookie handling
# ---------------------------------------------------------------------------
def _random_id():
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def test_no_session_fixation_preset_cookie(browser, site):
    b = browser
    planted = _random_id()
    b.set_session_cookie(planted)
    first = b.get("/protected/env")
    assert_redirects_to_login(site, b, first)
    cleared = H.cookies_set(first).get(COOKIE)
    assert cleared is not None and cleared[0] == "", site.explain(first, "stale cookie not cleared")
    b.set_session_cookie(planted)  # the attacker's value stays in the browser
    cb = b.callback(b.authorize(first.headers["Location"]))
    new = H.new_session_cookie(cb)
    assert new and new != planted, site.explain(cb)
    assert_signed_in(site, b.get("/protected/env"))
    r = requests.get(site.url("/protected/env"), cookies={COOKIE: planted},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302, site.explain(r, "the planted id authenticates")


def test_new_session_id_on_each_login(browser, site):
    b = browser
    cb1, page = b.login()
    id1 = H.new_session_cookie(cb1)
    assert_signed_in(site, page)
    # sign in again while the first session is still alive and sent along
    b.drop_cookie(COOKIE)
    auth = b.begin("/protected/env")
    cb_url = b.authorize(auth)
    b.set_session_cookie(id1)
    cb2 = b.callback(cb_url)
    id2 = H.new_session_cookie(cb2)
    assert id2 and id2 != id1, site.explain(cb2)
    assert_signed_in(site, b.get("/protected/env"))
    old = requests.get(site.url("/protected/env"), cookies={COOKIE: id1},
                       allow_redirects=False, timeout=10)
    assert old.status_code == 302, site.explain(old, "the replaced session still works")
    # a different browser gets yet another id
    other = H.Browser(site, b.devauth)
    cb3, _ = other.login()
    assert H.new_session_cookie(cb3) not in (id1, id2)


GARBAGE = {
    "word": "garbage",
    "id_shaped_unknown": "A" * 43,
    "one_char_short": "A" * 42,
    "escapes": "%00%0d%0a",
    "huge": "x" * 4000,
    "path": "../../../../etc/passwd",
    "quoted": '"quoted"',
    "unsigned_jwt": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJBTExPQ19TUE8ifQ.",
}


@pytest.mark.parametrize("value", list(GARBAGE.values()), ids=list(GARBAGE))
def test_garbage_session_cookie(site, devauth, value):
    r = requests.get(site.url("/protected/env"), headers={
        "Cookie": "%s=%s" % (COOKIE, value), "Accept": "text/html"},
        allow_redirects=False, timeout=10)
    assert r.status_code == 302, site.explain(r, value[:50])
    assert r.headers["Location"].startswith(devauth.auth_url + "/oauth/authorize?")
    xhr = requests.get(site.url("/protected/env"), headers={
        "Cookie": "%s=%s" % (COOKIE, value), "X-Requested-With": "XMLHttpRequest"},
        allow_redirects=False, timeout=10)
    assert xhr.status_code == 401, site.explain(xhr, value[:50])


def test_duplicate_session_cookies_do_not_crash(browser, site):
    cb, _ = browser.login()
    sid = H.new_session_cookie(cb)
    r = requests.get(site.url("/protected/env"), headers={
        "Cookie": "%s=%s; %s=%s" % (COOKIE, "B" * 43, COOKIE, sid), "Accept": "text/html"},
        allow_redirects=False, timeout=10)
    assert r.status_code in (200, 302), site.explain(r)


# ---------------------------------------------------------------------------
# requests that cannot follow a redirect
# ---------------------------------------------------------------------------
def test_post_without_session_is_401(site):
    r = requests.post(site.url("/protected/env"), data={"a": "1"},
                      headers={"Accept": "text/html"}, allow_redirects=False, timeout=10)
    assert r.status_code == 401, site.explain(r)
    assert "Location" not in r.headers
    assert not [n for n in H.cookies_set(r) if n.startswith(STATE_PREFIX)]


@pytest.mark.parametrize("headers", [
    {"X-Requested-With": "XMLHttpRequest"},
    {"X-Requested-With": "XMLHttpRequest", "Accept": "text/html"},
    {"Sec-Fetch-Mode": "cors"},
    {"Accept": "application/json"},
], ids=["xhr", "xhr_accept_html", "fetch_cors", "accept_json"])
def test_xhr_without_session_is_401(site, headers):
    r = requests.get(site.url("/protected/env"), headers=headers,
                     allow_redirects=False, timeout=10)
    assert r.status_code == 401, site.explain(r)
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), site.explain(r)
    assert "Location" not in r.headers


def test_post_with_session_is_served(browser, site):
    browser.login()
    r = browser.s.post(site.url("/protected/env"), data={"a": "1"}, allow_redirects=False,
                       timeout=10)
    env = assert_signed_in(site, r)
    assert env.get("REQUEST_METHOD") == "POST"


def test_public_page_needs_no_login(site):
    r = requests.get(site.url("/public.html"), allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "public page" in r.text
    assert not H.cookies_set(r)


# ---------------------------------------------------------------------------
# open redirects
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("target,expect_root", [
    ("//evil.example", True),
    ("//evil.example/path?q=1", True),
    ("///evil.example", True),
    ("//protected/env", True),
    ("/evil.example/..//evil.example", False),
    ("/protected/env?next=//evil.example", False),
])
def test_no_open_redirect(browser, site, target, expect_root):
    b = browser
    status, headers, _ = H.raw_request(site.port, "GET", target, {"Accept": "text/html"})
    headers = [(k.lower(), v) for k, v in headers]
    assert status == 302, "%s -> %s %s\n%s" % (target, status, headers, site.log_tail())
    loc = dict(headers)["location"]
    assert loc.startswith(b.devauth.auth_url + "/oauth/authorize?"), loc
    for k, v in headers:
        if k == "set-cookie":
            name, value, _ = H.parse_set_cookie(v)
            if name.startswith(STATE_PREFIX):
                b.s.cookies.set(name, value, domain="127.0.0.1", path="/")
    cb = b.callback(b.authorize(loc))
    assert cb.status_code == 302, site.explain(cb, target)
    final = cb.headers["Location"]
    if expect_root:
        assert final == "/", "original URL %r came back as %r" % (target, final)
    resolved = urlsplit(urljoin(site.base + "/", final))
    assert (resolved.scheme, resolved.netloc) == ("http", "127.0.0.1:%d" % site.port), \
        "original URL %r sends the browser to %r" % (target, final)
    assert not final.startswith("//") and "\\" not in final


# ---------------------------------------------------------------------------
# HMPPS Auth down or misbehaving
# ---------------------------------------------------------------------------
def test_auth_server_down(httpd_factory, private_devauth):
    h = httpd_factory(auth_url=private_devauth.auth_url)
    b = H.Browser(h, private_devauth)
    cb_url = b.authorize(b.begin("/protected/env"))
    private_devauth.stop()
    mark = h.log_mark()
    t0 = time.monotonic()
    r = b.callback(cb_url)
    elapsed = time.monotonic() - t0
    assert r.status_code == 502, h.explain(r)
    assert is_error_page(r, 502)
    assert elapsed < 5, elapsed
    assert_no_session_created(h, r)
    assert "code exchange failed" in h.log_since(mark), h.log_tail()
    pub = requests.get(h.url("/public.html"), timeout=10)
    assert pub.status_code == 200 and "public page" in pub.text
    assert h.running()
    # sign-in still starts (the browser is sent away; nothing is fetched)
    assert_redirects_to_login(h, b, b.get("/protected/env"))
    no_tokens_logged(h)


def test_internal_url_closed_port(httpd_factory, devauth):
    h = httpd_factory(internal_url="http://127.0.0.1:%d/auth" % H.closed_port())
    b = H.Browser(h, devauth)
    mark = h.log_mark()
    r = b.callback(b.authorize(b.begin("/protected/env")))
    assert r.status_code == 502, h.explain(r)
    assert_no_session_created(h, r)
    assert "code exchange failed" in h.log_since(mark)
    assert requests.get(h.url("/public.html"), timeout=10).status_code == 200


def test_wrong_client_secret(httpd_factory, devauth):
    h = httpd_factory(secret="not-the-secret")
    b = H.Browser(h, devauth)
    mark = h.log_mark()
    r = b.callback(b.authorize(b.begin("/protected/env")))
    assert r.status_code == 502, h.explain(r)
    assert_no_session_created(h, r)
    log = h.log_since(mark)
    assert "NomisSSOClientSecret" in log, log
    assert "not-the-secret" not in h.log_since(0)


# endpoint, mode, words the error_log line must contain
FAULTS = [
    ("token", "500", "HTTP 500"),
    ("token", "garbage", "JSON"),
    ("token", "slow", "timed out"),
    ("token", "close", "code exchange failed"),
    ("token", "expired_token", "expired"),
    ("token", "wrong_issuer", "issuer"),
    ("token", "alg_none", "refused"),
    ("token", "hs256", "bad_alg"),
    ("token", "bad_signature", "bad_signature"),
    ("token", "unknown_kid", "unknown_kid"),
]


@pytest.mark.parametrize("endpoint,mode,reason", FAULTS,
                         ids=["%s-%s" % f[:2] for f in FAULTS])
def test_auth_server_faults(browser, site, devauth, endpoint, mode, reason):
    b = browser
    cb_url = b.authorize(b.begin("/protected/env"))
    # a kept-alive connection dropped before any answer is retried once on a
    # fresh one (libcurl: what a server's idle timeout looks like): drop both
    devauth.fault(endpoint, mode, count=2 if mode == "close" else 1,
                  delay=4 if mode == "slow" else None)
    mark = site.log_mark()
    t0 = time.monotonic()
    r = b.callback(cb_url)
    elapsed = time.monotonic() - t0
    assert r.status_code == 502, site.explain(r, mode)
    assert is_error_page(r, 502)
    assert_no_session_created(site, r)
    if mode == "slow":
        assert 1.5 <= elapsed < 3.9, "NomisSSOHTTPTimeout 2 not honoured: %.2fs" % elapsed
    log = site.log_since(mark)
    errors = [line for line in log.splitlines() if "[nomis_sso:error]" in line]
    assert errors, "no error logged for %s:\n%s" % (mode, log)
    assert any(reason in line for line in errors), "reason %r not in:\n%s" % (reason, log)
    no_tokens_logged(site)
    assert b.session_id() is None
    assert_redirects_to_login(site, b, b.get("/protected/env"))
    # and the next sign-in works again
    devauth.clear_faults()
    cb, page = H.Browser(site, devauth).login()
    assert_signed_in(site, page)


def test_jwks_unavailable_then_recovers(httpd_factory, devauth):
    h = httpd_factory(mpm_conf="StartServers 1\nServerLimit 1\nThreadsPerChild 10\n"
                               "MaxRequestWorkers 10\nMinSpareThreads 1\nMaxSpareThreads 10\n")
    devauth.fault("jwks", "500")
    b = H.Browser(h, devauth)
    mark = h.log_mark()
    r = b.callback(b.authorize(b.begin("/protected/env")))
    assert r.status_code == 502, h.explain(r)
    assert_no_session_created(h, r)
    assert "signing keys" in h.log_since(mark)
    devauth.clear_faults()
    time.sleep(1.1)  # NomisSSOJWKSRefetchInterval 1
    cb, page = H.Browser(h, devauth).login()
    assert_signed_in(h, page)
    no_tokens_logged(h)


def test_jwks_rotation(httpd_factory, devauth):
    # one child process, so the JWKS cache the second login meets is warm
    h = httpd_factory(mpm_conf="StartServers 1\nServerLimit 1\nThreadsPerChild 10\n"
                               "MaxRequestWorkers 10\nMinSpareThreads 1\nMaxSpareThreads 10\n")
    b1 = H.Browser(h, devauth)
    _, page = b1.login()
    assert_signed_in(h, page)
    fetched = devauth.stats()["requests"]["jwks"]
    old_kids = {k["kid"] for k in devauth.jwks()["keys"]}
    rotated = devauth.rotate_keys(drop_old=True)
    assert rotated["kids"] == [rotated["kid"]] and rotated["kid"] not in old_kids
    time.sleep(1.1)  # NomisSSOJWKSRefetchInterval 1
    b2 = H.Browser(h, devauth)
    cb, page = b2.login(username="ALLOC_POM")
    assert_signed_in(h, page, "ALLOC_POM")
    assert devauth.stats()["requests"]["jwks"] > fetched, "JWKS was not refetched"
    # the session made with the old key is unaffected
    assert_signed_in(h, b1.get("/protected/env"))


# ---------------------------------------------------------------------------
# restarts and processes
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mpm", MPMS)
def test_session_survives_graceful(httpd_factory, devauth, mpm):
    h = httpd_factory(mpm=mpm)
    b = H.Browser(h, devauth)
    _, page = b.login()
    assert_signed_in(h, page)
    h.graceful()                     # apache2 -k graceful
    r = b.get_current("/protected/env")
    assert r.headers.get("X-NSSO-Generation") == "2"
    assert_signed_in(h, r)
    h.graceful(use_signal=True)      # SIGUSR1 to the parent
    r = b.get_current("/protected/env")
    assert r.headers.get("X-NSSO-Generation") == "3"
    assert_signed_in(h, r)
    # and signing in still works in the new generation
    _, page = H.Browser(h, devauth).login(username="ALLOC_POM")
    assert_signed_in(h, page, "ALLOC_POM")
    assert "kept from the previous generation" in h.log_since(0)


def test_shared_sessions_across_prefork_children(httpd_factory, devauth):
    h = httpd_factory(mpm="prefork", keepalive=False,
                      mpm_conf="StartServers 3\nMinSpareServers 3\nMaxSpareServers 10\n"
                               "MaxRequestWorkers 20\nServerLimit 20\n"
                               "MaxConnectionsPerChild 1\n")
    b = H.Browser(h, devauth)
    _, page = b.login()
    assert_signed_in(h, page)
    n = 20
    for i in range(n):
        r = b.get("/protected/env?n=%d" % i, headers={"Connection": "close"})
        env = assert_signed_in(h, r)
        assert env["QUERY_STRING"] == "n=%d" % i
    # the access_log line is written just after the response went out
    deadline = time.monotonic() + 5
    while True:
        pids = {}
        for line in h.access_lines():
            m = re.match(r"(\d+) (\d+) \"GET /protected/env\?n=(\d+) ", line)
            if m:
                assert m.group(2) == "200", line
                pids[m.group(3)] = m.group(1)
        if len(pids) == n or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(pids) == n, "\n".join(h.access_lines())
    pids = set(pids.values())
    assert len(pids) == n, "expected %d different children, access_log shows %d:\n%s" % (
        n, len(pids), "\n".join(h.access_lines()))


@pytest.mark.parametrize("form", ["env", "file"])
def test_secret_and_passphrase_forms(httpd_factory, devauth, form):
    env = {}
    if form == "env":
        env = {"NSSO_IT_SECRET": H.CLIENT_SECRET, "NSSO_IT_PASSPHRASE": H.PASSPHRASE}
        h = httpd_factory(start=False, env=env, secret="env:NSSO_IT_SECRET",
                          passphrase="env:NSSO_IT_PASSPHRASE")
    else:
        h = httpd_factory(start=False, secret="file:PLACEHOLDER_S",
                          passphrase="file:PLACEHOLDER_P")
        s = h.write_extra_file("client-secret", H.CLIENT_SECRET + "\n", 0o600)
        p = h.write_extra_file("passphrase", H.PASSPHRASE + "\n", 0o600)
        h.params["nsso_conf"] = h.params["nsso_conf"].replace(
            "PLACEHOLDER_S", s).replace("PLACEHOLDER_P", p)
        h.write_conf()
    h.start()
    _, page = H.Browser(h, devauth).login()
    assert_signed_in(h, page)


# ---------------------------------------------------------------------------
# a return URL too big for the state cookie
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("target,lands", [
    ("/protected/env?q=" + "a" * 6000, "/protected/env"),   # beyond the URL guard
    ("/protected/env?q=" + "b" * 3000, "/protected/env"),   # guard yes, cookie no
    ("/protected/" + "/".join(["c" * 200] * 15), "/"),      # even the path is too big
], ids=["query-6000", "query-3000", "path-3000"])
def test_long_return_url_keeps_a_state_cookie(browser, site, target, lands):
    mark = site.log_mark()
    r = browser.get(target)
    assert r.status_code == 302, site.explain(r)
    states = [(n, v) for n, (v, a) in H.cookies_set(r).items() if n.startswith(STATE_PREFIX)]
    assert len(states) == 1, "redirected to sign in without a state cookie: %s" % r.headers
    name, value = states[0]
    assert len(name) + len(value) <= 4096, len(name) + len(value)
    assert "too long for the state cookie" in site.log_since(mark) \
        or "not kept whole" in site.log_since(mark)
    cb = browser.callback(browser.authorize(r.headers["Location"]))
    assert cb.status_code == 302 and cb.headers["Location"] == lands, site.explain(cb)
