"""Session lifecycle through a real httpd and the dev auth server: token
refresh (once per session, even under concurrency), refresh failure,
inactivity and maximum duration, sign-out (store, cookie, HMPPS Auth's
sign-out, open-redirect guard, cross-site forcing), Cache-Control: no-store,
and revocation through the token verification API.

Most tests use a dev auth server of this module's own issuing 6-second
access tokens, with NomisSSORefreshBeforeExpiry 4 and NomisSSOClockSkew 0,
so a token is refreshed while in use. Users are split between tests so that
revoking one user's tokens at devauth (sign-out there, /__test__/revoke)
never ends another test's session:

  devauth6:  ALLOC_SPO refresh, ALLOC_POM refresh failure, DELIUS_SPO
             sign-out at devauth, NO_ROLES_USER open-redirect checks,
             ALLOC_ADMIN maximum duration
  shared:    ALLOC_ADMIN revocation, others for short-lived checks
"""

import html
import re
import threading
import time
from urllib.parse import quote

import pytest
import requests

import harness as H
from harness import COOKIE, cgi_env
from conftest import _track, serving

LIFETIME = 6          # devauth6 access token lifetime
WINDOW = 4            # NomisSSORefreshBeforeExpiry
LOGOUT = "/nomis-sso/logout"
INFO = "/nomis-sso/info"
ENV = "/protected/env"
PAGE = "/protected/page.html"

NAV = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
# what a browser sends with a click on the service's own sign-out link
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def login(h, auth, user):
    b = H.Browser(h, auth)
    _, page = b.login(ENV, username=user)
    assert page.status_code == 200, h.explain(page, "sign-in as %s" % user)
    assert cgi_env(page.text).get("REMOTE_USER") == user
    return b, page


def expires_of(resp):
    return int(cgi_env(resp.text)["NOMIS_SSO_EXPIRES"])


def sleep_until(t):
    d = t - time.time()
    if d > 0:
        time.sleep(d)


def grants(auth, name="refresh_token"):
    return auth.stats()["grants"].get(name, 0)


def requests_to(auth, endpoint):
    return auth.stats()["requests"].get(endpoint, 0)


def is_signin(resp, auth):
    return resp.status_code == 302 and \
        resp.headers.get("Location", "").startswith(auth.auth_url + "/oauth/authorize?")


def assert_signin(h, resp, auth, what="expected a redirect to sign-in"):
    assert is_signin(resp, auth), h.explain(resp, what)


def assert_cookie_cleared(h, resp):
    sc = H.cookies_set(resp)
    assert COOKIE in sc, h.explain(resp, "session cookie not cleared")
    value, attrs = sc[COOKIE]
    assert value == "" and attrs.get("max-age") == "0", sc[COOKIE]


def replay(h, auth, sid):
    """A second tab: a fresh browser holding only the given session cookie."""
    tab = H.Browser(h, auth)
    tab.set_session_cookie(sid)
    return tab


def parallel_get(h, path, sid, n=20, headers=None):
    """n GETs with the same session cookie released together; responses in order."""
    barrier = threading.Barrier(n)
    out = [None] * n
    sessions = [requests.Session() for _ in range(n)]
    for s in sessions:  # connect first, so that only the requests race
        s.get(h.url("/public.html"), timeout=10)

    def run(i):
        try:
            barrier.wait(10)
            out[i] = sessions[i].get(h.url(path), cookies={COOKIE: sid},
                                     headers=dict(NAV, **(headers or {})),
                                     allow_redirects=False, timeout=30)
        except Exception as e:  # reported by the caller
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def signout_location(auth, path="/sign-out"):
    return auth.auth_url + path + "?"


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def devauth6():
    d = H.DevAuth(extra_args=["--access-token-lifetime", str(LIFETIME)]).start()
    yield d
    d.cleanup()


@pytest.fixture
def auth6(devauth6, request):
    if devauth6.proc is None or devauth6.proc.poll() is not None:
        pytest.fail("devauth6 is down\n" + devauth6.log_tail())
    devauth6.clear_faults()
    _track(request, devauth6)
    yield devauth6
    devauth6.clear_faults()


def nostore_off_extra(h):
    return """
Alias /nostore-off/ "{d}/htdocs/protected/"
<Location /nostore-off/>
    AuthType nomis-sso
    Require valid-user
    NomisSSONoStore Off
</Location>
""".format(d=h.dir)


@pytest.fixture(scope="module")
def main_httpd(module_httpd_factory, devauth6):
    return module_httpd_factory(auth_url=devauth6.auth_url, nsso_extra="\n".join([
        "NomisSSOClockSkew 0",
        "NomisSSORefreshBeforeExpiry %d" % WINDOW,
        "NomisSSOInfoURI %s" % INFO,
        r"NomisSSORedirectURLsAllowed ^https://allowed\.example/",
    ]), extra=nostore_off_extra)


@pytest.fixture
def h(main_httpd, auth6, request):
    return serving(request, main_httpd)


@pytest.fixture
def one_off(httpd_factory):
    """start(auth, nsso_extra, extra) -> a started httpd for `auth` with extra
    NomisSSO* lines and site configuration, removed after the test."""
    def start(auth, nsso_extra="", extra="", **kw):
        return httpd_factory(auth_url=auth.auth_url, nsso_extra=nsso_extra, extra=extra, **kw)
    return start


# ---------------------------------------------------------------------------
# refresh
# ---------------------------------------------------------------------------
def test_refresh_while_in_use(h, auth6):
    b, page = login(h, auth6, "ALLOC_SPO")
    sid = b.session_id()
    e1 = expires_of(page)
    refreshes, authorizes = grants(auth6), requests_to(auth6, "authorize")
    # before the window: no refresh
    r = b.get(ENV)
    assert r.status_code == 200
    if e1 - time.time() > WINDOW + 0.5:
        assert expires_of(r) == e1 and grants(auth6) == refreshes
    # inside the window (token still valid): refreshed on the way through
    sleep_until(e1 - WINDOW + 1)
    r = b.get(ENV)
    assert r.status_code == 200, h.explain(r, "request in the refresh window")
    e2 = expires_of(r)
    assert e2 > e1, "NOMIS_SSO_EXPIRES did not move forward"
    assert grants(auth6) == refreshes + 1, auth6.stats()
    assert requests_to(auth6, "authorize") == authorizes, "went back through /oauth/authorize"
    assert H.new_session_cookie(r) is None and b.session_id() == sid, \
        "refresh must keep the session id"
    # the refreshed token is kept: no second refresh right away
    r = b.get(ENV)
    assert r.status_code == 200 and expires_of(r) == e2
    assert grants(auth6) == refreshes + 1


def test_refresh_once_under_parallel_requests(h, auth6):
    b, page = login(h, auth6, "ALLOC_SPO")
    e1 = expires_of(page)
    before = grants(auth6)
    sleep_until(e1 - WINDOW + 1)
    out = parallel_get(h, ENV, b.session_id())
    bad = [r if isinstance(r, Exception) else (r.status_code, r.headers.get("Location"))
           for r in out if isinstance(r, Exception) or r.status_code != 200]
    assert not bad, bad
    assert grants(auth6) == before + 1, "expected exactly one refresh: %r" % auth6.stats()
    # afterwards everyone sees the refreshed token
    r = b.get(ENV)
    assert r.status_code == 200 and expires_of(r) > e1


def test_refresh_once_after_expiry(h, auth6):
    """Expired access token, valid refresh token: one request refreshes, the
    others wait for it instead of failing or refreshing again."""
    b, page = login(h, auth6, "ALLOC_SPO")
    e1 = expires_of(page)
    before = grants(auth6)
    sleep_until(e1 + 1)
    out = parallel_get(h, ENV, b.session_id())
    bad = [r if isinstance(r, Exception) else (r.status_code, r.headers.get("Location"))
           for r in out if isinstance(r, Exception) or r.status_code != 200]
    assert not bad, bad
    assert all(expires_of(r) > e1 for r in out), "a request was served with the expired token"
    assert grants(auth6) == before + 1, "expected exactly one refresh: %r" % auth6.stats()


def test_refresh_temporary_failure_keeps_session(h, auth6):
    """Token endpoint down while the token is still valid: served with the
    current token, refreshed on a later request."""
    b, page = login(h, auth6, "ALLOC_SPO")
    e1 = expires_of(page)
    before = grants(auth6)
    sleep_until(e1 - WINDOW + 1)
    auth6.fault("token", "500", count=1)
    mark = h.log_mark()
    r = b.get(ENV)
    assert r.status_code == 200, h.explain(r, "a failed refresh with a valid token")
    assert expires_of(r) == e1
    assert grants(auth6) == before
    assert "refresh for ALLOC_SPO failed" in h.log_since(mark), h.log_since(mark)
    r = b.get(ENV)
    assert r.status_code == 200 and expires_of(r) > e1, h.explain(r, "retry of the refresh")
    assert grants(auth6) == before + 1


def test_refresh_refused_restarts_login(h, auth6):
    nav, p1 = login(h, auth6, "ALLOC_POM")
    xhr, p2 = login(h, auth6, "ALLOC_POM")
    assert nav.session_id() != xhr.session_id()
    e = max(expires_of(p1), expires_of(p2))
    auth6.revoke(username="ALLOC_POM")
    # still served until the refresh is attempted (no verification API here)
    if e - time.time() > WINDOW + 0.5:
        assert nav.get(ENV).status_code == 200
    sleep_until(e - WINDOW + 1)
    old_nav = nav.session_id()
    r = nav.get(ENV)
    assert_signin(h, r, auth6, "refused refresh: a navigation must restart sign-in")
    assert_cookie_cleared(h, r)
    r = xhr.get(ENV, headers=XHR)
    assert r.status_code == 401, h.explain(r, "refused refresh: an XHR must get 401")
    # the session is gone from the store, not just refused once
    tab = replay(h, auth6, old_nav)
    assert_signin(h, tab.get(ENV), auth6)
    assert tab.get(INFO).status_code == 401


def test_no_refresh_when_window_is_zero(one_off, auth6):
    h0 = one_off(auth6, "NomisSSOClockSkew 0\nNomisSSORefreshBeforeExpiry 0")
    b, page = login(h0, auth6, "ALLOC_SPO")
    e = expires_of(page)
    before = grants(auth6)
    sleep_until(e - WINDOW + 1)
    r = b.get(ENV)
    assert r.status_code == 200 and expires_of(r) == e
    sleep_until(e + 1)
    r = b.get(ENV)
    assert_signin(h0, r, auth6, "expired token without refresh: back to sign-in")
    assert grants(auth6) == before, "refreshed although NomisSSORefreshBeforeExpiry is 0"


# ---------------------------------------------------------------------------
# inactivity and maximum duration
# ---------------------------------------------------------------------------
IDLE = 10


@pytest.fixture(scope="module")
def idle_site(module_httpd_factory, devauth_server):
    """An httpd with the shortest inactivity timeout, long-lived tokens, and
    a session signed in at start-up and left idle (so that its wait overlaps
    with the other tests of this section)."""
    h = module_httpd_factory(nsso_extra="NomisSSOSessionInactivityTimeout %d\n"
                             "NomisSSOInfoURI %s" % (IDLE, INFO))
    b, _ = login(h, devauth_server, "NO_ROLES_USER")
    return h, b, time.time()


@pytest.fixture
def idle(idle_site, devauth, request):
    serving(request, idle_site[0])
    return idle_site


def test_inactivity_active_session_survives(idle, devauth):
    h = idle[0]
    b, _ = login(h, devauth, "ALLOC_SPO")
    start = time.time()
    seen = []
    while time.time() - start < IDLE + 4:
        r = b.get(ENV)
        seen.append((round(time.time() - start, 1), r.status_code))
        if r.status_code != 200:
            break
        time.sleep(2)
    assert all(s == 200 for _, s in seen), "session in use every 2 s ended: %r" % seen


def test_inactivity_idle_session_deleted(idle, devauth):
    h, b, signed_in = idle
    sid = b.session_id()
    sleep_until(signed_in + IDLE + 1)
    r = b.get(ENV)
    assert_signin(h, r, devauth, "idle session")
    assert_cookie_cleared(h, r)
    # the old cookie stays dead
    tab = replay(h, devauth, sid)
    r = tab.get(INFO)
    assert r.status_code == 401, h.explain(r, "info endpoint with the idle session's cookie")
    assert_signin(h, tab.get(ENV), devauth)


def test_inactivity_fresh_session_served(idle, devauth):
    b, _ = login(idle[0], devauth, "ALLOC_POM")
    r = b.get(INFO)
    assert r.status_code == 200 and r.json()["user"] == "ALLOC_POM"


def test_max_duration(one_off, auth6):
    h4 = one_off(auth6, "NomisSSOClockSkew 0\nNomisSSORefreshBeforeExpiry %d\n"
                 "NomisSSOSessionMaxDuration 10\nNomisSSOInfoURI %s" % (WINDOW, INFO))
    b = H.Browser(h4, auth6)
    cb_url = b.authorize(b.begin(ENV), "ALLOC_ADMIN")
    t0 = time.time()
    cb = b.callback(cb_url)
    assert cb.status_code == 302, h4.explain(cb)
    sid = b.session_id()
    refreshes = grants(auth6)
    seen = []
    while time.time() - t0 < 16:
        r = b.get(ENV)
        seen.append((round(time.time() - t0, 1), r.status_code))
        if r.status_code != 200:
            break
        time.sleep(2)
    ended_at, status = seen[-1]
    assert status == 302 and is_signin(r, auth6), ("session never ended", seen)
    assert all(s == 200 for _, s in seen[:-1]), seen
    assert 9 <= ended_at <= 14, ("ended at the wrong time", seen)
    assert grants(auth6) > refreshes, "the token was never refreshed meanwhile"
    tab = replay(h4, auth6, sid)
    assert tab.get(INFO).status_code == 401


# ---------------------------------------------------------------------------
# sign-out
# ---------------------------------------------------------------------------
def test_sign_out(h, auth6):
    b, _ = login(h, auth6, "DELIUS_SPO")
    sid = b.session_id()
    r = b.get(LOGOUT, headers=SAME_ORIGIN)
    assert r.status_code == 302, h.explain(r)
    loc = r.headers["Location"]
    assert loc.startswith(signout_location(auth6)), loc
    assert H.query_of(loc) == {"client_id": H.CLIENT_ID, "redirect_uri": h.base + "/"}, loc
    assert_cookie_cleared(h, r)
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert b.session_id() is None
    # a second tab with the old cookie: sign-in, and the store entry is gone
    tab = replay(h, auth6, sid)
    assert_signin(h, tab.get(ENV), auth6, "old cookie after sign-out")
    assert tab.get(INFO).status_code == 401
    assert tab.get(PAGE, headers=XHR).status_code == 401
    # HMPPS Auth's session is still alive until the browser goes there
    r = b.s.get(b.begin(ENV), allow_redirects=False, timeout=10)
    assert r.status_code == 302, "expected silent SSO before the sign-out at devauth"
    # following the redirect ends it and comes back to the site ...
    r = b.s.get(loc, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == h.base + "/", \
        (r.status_code, r.headers, r.text[:300])
    # ... and the next sign-in shows the form again
    r = b.s.get(b.begin(ENV), allow_redirects=False, timeout=10)
    assert r.status_code == 200 and 'id="signin"' in r.text, (r.status_code, r.text[:300])


def test_sign_out_return_path(h, auth6):
    b, _ = login(h, auth6, "ALLOC_SPO")
    r = b.get(LOGOUT + "?return=" + quote("/some/page?x=1&y=2", safe=""),
              headers=SAME_ORIGIN)
    assert r.status_code == 302, h.explain(r)
    assert H.query_of(r.headers["Location"])["redirect_uri"] == h.base + "/some/page?x=1&y=2"
    assert_cookie_cleared(h, r)


def test_sign_out_own_absolute_url(h, auth6):
    r = requests.get(h.url(LOGOUT), params={"return": h.base + "/bye"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302, h.explain(r)
    assert H.query_of(r.headers["Location"])["redirect_uri"] == h.base + "/bye"


def test_sign_out_without_session_still_ends_sso(h, auth6):
    r = requests.get(h.url(LOGOUT), allow_redirects=False, timeout=10)
    assert r.status_code == 302, h.explain(r)
    assert r.headers["Location"].startswith(signout_location(auth6))


def test_sign_out_allow_list(h, auth6):
    b, _ = login(h, auth6, "ALLOC_SPO")
    r = b.get(LOGOUT + "?return=" + quote("https://allowed.example/x?y=1", safe=""),
              headers=SAME_ORIGIN)
    assert r.status_code == 302, h.explain(r)
    assert H.query_of(r.headers["Location"])["redirect_uri"] == "https://allowed.example/x?y=1"
    assert_signin(h, b.get(ENV), auth6)


def test_sign_out_duplicate_return_not_used(h, auth6):
    r = requests.get(h.url(LOGOUT) + "?return=/ok&return=" + quote("//evil.example", safe=""),
                     allow_redirects=False, timeout=10)
    if r.status_code == 302:
        assert H.query_of(r.headers["Location"])["redirect_uri"] in (h.base + "/",
                                                                     h.base + "/ok")
    else:
        assert r.status_code == 400


def test_sign_out_paths_configurable(one_off, devauth):
    h2 = one_off(devauth, "NomisSSOLogoutURI /app/sign-out\nNomisSSOAuthSignOutPath /logout\n"
                 "NomisSSOPostLogoutURL /goodbye.html")
    b, _ = login(h2, devauth, "ALLOC_SPO")
    sid = b.session_id()
    # the default path is not the sign-out any more
    r = b.get(LOGOUT)
    assert not (r.status_code == 302 and "/logout?" in r.headers.get("Location", "")), \
        h2.explain(r)
    assert b.get(ENV).status_code == 200
    r = b.get("/app/sign-out", headers=SAME_ORIGIN)
    assert r.status_code == 302, h2.explain(r)
    loc = r.headers["Location"]
    assert loc.startswith(devauth.auth_url + "/logout?"), loc
    assert H.query_of(loc) == {"client_id": H.CLIENT_ID,
                               "redirect_uri": h2.base + "/goodbye.html"}, loc
    assert_signin(h2, replay(h2, devauth, sid).get(ENV), devauth)
    # an explicit return still wins over NomisSSOPostLogoutURL
    r = requests.get(h2.url("/app/sign-out?return=/elsewhere"), allow_redirects=False,
                     timeout=10)
    assert H.query_of(r.headers["Location"])["redirect_uri"] == h2.base + "/elsewhere"


# {base} is http://127.0.0.1:PORT, {host} 127.0.0.1:PORT
OPEN_REDIRECTS = [
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\/evil.example",
    "\\\\evil.example",
    "https:evil.example",
    "http:/evil.example",
    "http:\\\\evil.example",
    "http://evil.example/",
    "HTTPS://EVIL.EXAMPLE/",
    "https://127.0.0.1.evil.example/",
    "http://{host}.evil.example/",
    "http://{host}@evil.example/",
    "https://evil.example@127.0.0.1/",
    "http://evil.example@{host}/",
    "http://{host}\\@evil.example/",
    "%2F%2Fevil.example",
    "/%2Fevil.example",
    "/%5Cevil.example",
    "/%252Fevil.example",
    "/\tevil.example",
    "/%09/evil.example",
    " /x",
    "\t//evil.example",
    "/x\r\nLocation: http://evil.example/",
    "evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "ftp://evil.example/",
    "https://allowed.example.evil/",
    "http://allowed.example/x",
    "https://allowed.example@evil.example/",
    "https://evil.example/#https://allowed.example/",
]


@pytest.fixture(scope="module")
def redir_browser(main_httpd, devauth6):
    return {"b": None}


@pytest.fixture
def signed_in(redir_browser, h, auth6):
    """A browser with a live session (signed in again if a test ended it)."""
    b = redir_browser["b"]
    if b is None or b.get(ENV).status_code != 200:
        b, _ = login(h, auth6, "NO_ROLES_USER")
        redir_browser["b"] = b
    return b


@pytest.mark.parametrize("payload", OPEN_REDIRECTS)
def test_open_redirect_refused(h, auth6, signed_in, payload):
    target = payload.replace("{base}", h.base).replace("{host}", "127.0.0.1:%d" % h.port)
    sid = signed_in.session_id()
    r = signed_in.get(LOGOUT + "?return=" + quote(target, safe=""), headers=SAME_ORIGIN)
    assert r.status_code == 400, h.explain(r, "return=%r must be refused" % target)
    assert "Location" not in r.headers
    assert COOKIE not in H.cookies_set(r), "the session cookie was touched"
    # the session was NOT ended
    assert signed_in.session_id() == sid
    r = signed_in.get(ENV)
    assert r.status_code == 200, h.explain(r, "session ended by a refused sign-out")


@pytest.mark.parametrize("query", [
    "return=%2F%2Fevil.example", "return=%2F%5Cevil.example", "return=https%3Aevil.example",
    "return=%2F%09evil", "return=%20%2Fx", "return=/%2F/evil.example",
    "return=%2F%0D%0ASet-Cookie:x=1",
])
def test_open_redirect_refused_raw_query(h, auth6, signed_in, query):
    r = signed_in.get(LOGOUT + "?" + query, headers=SAME_ORIGIN)
    assert r.status_code == 400, h.explain(r, query)
    assert signed_in.get(ENV).status_code == 200


def test_open_redirect_refused_on_post(h, auth6, signed_in):
    page = signed_in.get(LOGOUT, headers={"Sec-Fetch-Site": "cross-site"})
    token = confirm_token(h, page)
    r = signed_in.s.post(h.url(LOGOUT), data={"token": token, "return": "//evil.example"},
                         allow_redirects=False, timeout=10)
    assert r.status_code == 400, h.explain(r)
    assert signed_in.get(ENV).status_code == 200


# ---------------------------------------------------------------------------
# cross-site sign-out forcing
# ---------------------------------------------------------------------------
TOKEN_INPUT = re.compile(r'<input type="hidden" name="token" value="([^"]*)">')
RETURN_INPUT = re.compile(r'<input type="hidden" name="return" value="([^"]*)">')


def confirm_token(h, page):
    assert page.status_code == 200, h.explain(page, "expected the sign-out confirmation page")
    m = TOKEN_INPUT.search(page.text)
    assert m, page.text
    return html.unescape(m.group(1))


def test_cross_site_logout_needs_confirmation(h, auth6):
    b, _ = login(h, auth6, "NO_ROLES_USER")
    sid = b.session_id()
    page = b.get(LOGOUT + "?return=/after", headers={"Sec-Fetch-Site": "cross-site"})
    token = confirm_token(h, page)
    assert "no-store" in page.headers.get("Cache-Control", "")
    assert COOKIE not in H.cookies_set(page)
    assert html.unescape(RETURN_INPUT.search(page.text).group(1)) == "/after"
    assert b.get(ENV).status_code == 200, "a cross-site GET signed the user out"
    post = lambda data: b.s.post(h.url(LOGOUT), data=data, allow_redirects=False, timeout=10)
    # no token, wrong token, another session's token: refused, still signed in
    other, _ = login(h, auth6, "NO_ROLES_USER")
    other_token = confirm_token(h, other.get(LOGOUT, headers={"Sec-Fetch-Site": "cross-site"}))
    for data in ({}, {"token": ""}, {"token": "x" * 43}, {"token": token[:-2] + "AA"},
                 {"token": other_token}):
        r = post(data)
        assert r.status_code == 400, h.explain(r, "POST %r" % data)
        assert b.get(ENV).status_code == 200
    # the form as submitted: signed out, back to the requested page
    r = post({"token": token, "return": "/after"})
    assert r.status_code == 302, h.explain(r)
    assert r.headers["Location"].startswith(signout_location(auth6))
    assert H.query_of(r.headers["Location"])["redirect_uri"] == h.base + "/after"
    assert_cookie_cleared(h, r)
    assert_signin(h, replay(h, auth6, sid).get(ENV), auth6)
    assert other.get(ENV).status_code == 200, "signing out one session ended another"


# Only same-origin (the service's own link) and none (typed, bookmark) are a
# browser vouching for the GET; a sibling *.justice.gov.uk site is same-site.
@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_same_origin_logout_is_immediate(h, auth6, site):
    b, _ = login(h, auth6, "NO_ROLES_USER")
    sid = b.session_id()
    r = b.get(LOGOUT, headers={"Sec-Fetch-Site": site})
    assert r.status_code == 302 and r.headers["Location"].startswith(signout_location(auth6))
    assert_cookie_cleared(h, r)
    assert_signin(h, b.get(ENV), auth6)
    assert_signin(h, replay(h, auth6, sid).get(ENV), auth6, "the session was not ended")


@pytest.mark.parametrize("site", [None, "same-site", "cross-site", "same-origin, cross-site",
                                  "same-origin-ish", ""],
                         ids=["missing", "same-site", "cross-site", "repeated", "unknown",
                              "empty"])
def test_unvouched_logout_needs_confirmation(h, auth6, site):
    """A GET the browser does not vouch for (an <img> on a sibling site, a
    client sending no Sec-Fetch-Site) shows the confirmation page and ends
    nothing; the page's POST with its token then signs out."""
    b, _ = login(h, auth6, "NO_ROLES_USER")
    sid = b.session_id()
    page = b.get(LOGOUT + "?return=/after",
                 headers={} if site is None else {"Sec-Fetch-Site": site})
    token = confirm_token(h, page)
    assert COOKIE not in H.cookies_set(page), "the confirmation page touched the cookie"
    assert html.unescape(RETURN_INPUT.search(page.text).group(1)) == "/after"
    r = b.get(ENV)
    assert r.status_code == 200, h.explain(r, "a GET with Sec-Fetch-Site %r signed out" % site)
    assert replay(h, auth6, sid).get(ENV).status_code == 200
    r = b.s.post(h.url(LOGOUT), data={"token": token, "return": "/after"},
                 allow_redirects=False, timeout=10)
    assert r.status_code == 302, h.explain(r)
    assert H.query_of(r.headers["Location"])["redirect_uri"] == h.base + "/after"
    assert_cookie_cleared(h, r)
    assert_signin(h, replay(h, auth6, sid).get(ENV), auth6, "the POST did not sign out")


def test_logout_without_session_needs_no_confirmation(h, auth6):
    """Nothing to end: a GET without a session cookie goes straight on to
    HMPPS Auth's sign-out, whatever Sec-Fetch-Site says."""
    for headers in ({}, {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        r = requests.get(h.url(LOGOUT), headers=headers, allow_redirects=False, timeout=10)
        assert r.status_code == 302, h.explain(r)
        assert r.headers["Location"].startswith(signout_location(auth6))


# ---------------------------------------------------------------------------
# caching
# ---------------------------------------------------------------------------
def test_no_store(h, auth6):
    b, _ = login(h, auth6, "ALLOC_SPO")
    r = b.get(PAGE)
    assert r.status_code == 200 and "protected page" in r.text
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers
    r = b.get("/nostore-off/page.html")
    assert r.status_code == 200 and "protected page" in r.text, h.explain(r)
    assert "no-store" not in r.headers.get("Cache-Control", ""), r.headers
    # it is still protected
    assert_signin(h, requests.get(h.url("/nostore-off/page.html"), headers=NAV,
                                  allow_redirects=False, timeout=10), auth6)
    r = requests.get(h.url("/public.html"), timeout=10)
    assert "no-store" not in r.headers.get("Cache-Control", "")


# ---------------------------------------------------------------------------
# revocation: the token verification API
# ---------------------------------------------------------------------------
INTERVAL = 2


def verify_conf(url, interval=INTERVAL, policy=None):
    lines = ["NomisSSOTokenVerificationURL %s" % url,
             "NomisSSOTokenVerificationInterval %d" % interval,
             "NomisSSOInfoURI %s" % INFO]
    if policy:
        lines.append("NomisSSOTokenVerificationFailure %s" % policy)
    return "\n".join(lines)


@pytest.fixture(scope="module")
def verify_httpd(module_httpd_factory, devauth_server):
    return module_httpd_factory(nsso_extra=verify_conf(devauth_server.auth_url, policy="fail-open"))


@pytest.fixture
def hv(verify_httpd, devauth, request):
    return serving(request, verify_httpd)


def test_revocation_ends_session_within_interval(hv, devauth):
    b, _ = login(hv, devauth, "ALLOC_ADMIN")
    sid = b.session_id()
    v0 = requests_to(devauth, "verify")
    t0 = time.time()
    for _ in range(5):
        assert b.get(ENV).status_code == 200
    if time.time() - t0 < INTERVAL - 0.5:
        assert requests_to(devauth, "verify") - v0 <= 1, "verified more than once per interval"
    devauth.revoke(username="ALLOC_ADMIN")
    revoked = time.time()
    while True:
        r = b.get(ENV)
        if r.status_code != 200 or time.time() - revoked > INTERVAL + 3:
            break
        time.sleep(0.25)
    took = time.time() - revoked
    assert_signin(hv, r, devauth, "revoked token still served after %.1fs" % took)
    assert took <= INTERVAL + 1.5, took
    assert requests_to(devauth, "verify") > v0
    tab = replay(hv, devauth, sid)
    assert tab.get(INFO).status_code == 401
    assert_signin(hv, tab.get(ENV), devauth)


def test_sign_out_at_devauth_ends_session(hv, devauth):
    """Signing out in another HMPPS service (HMPPS Auth's own sign-out)."""
    b, _ = login(hv, devauth, "ALLOC_POM")
    r = b.s.get(devauth.auth_url + "/sign-out", params={"client_id": "other-service",
                                                          "redirect_uri": "http://127.0.0.1:1/"},
                allow_redirects=False, timeout=10)
    assert r.status_code == 302
    signed_out = time.time()
    while b.get(ENV).status_code == 200 and time.time() - signed_out < INTERVAL + 3:
        time.sleep(0.25)
    assert time.time() - signed_out <= INTERVAL + 1.5
    assert_signin(hv, b.get(ENV), devauth)


def test_verification_down_fail_open(hv, devauth):
    b, _ = login(hv, devauth, "ALLOC_SPO")
    time.sleep(INTERVAL + 0.1)
    devauth.fault("verify", "500")
    v0 = requests_to(devauth, "verify")
    mark = hv.log_mark()
    r = b.get(ENV)
    assert r.status_code == 200, hv.explain(r, "fail-open must serve")
    assert requests_to(devauth, "verify") > v0, "verification was not attempted"
    log = hv.log_since(mark)
    assert re.search(r":warn\].*token verification", log), log


def test_verification_closed_port_fail_open(one_off, devauth):
    url = "http://127.0.0.1:%d/auth" % H.closed_port()
    h = one_off(devauth, verify_conf(url, interval=1, policy="fail-open"))
    b, _ = login(h, devauth, "ALLOC_SPO")
    time.sleep(1.1)
    mark = h.log_mark()
    r = b.get(ENV)
    assert r.status_code == 200, h.explain(r, "fail-open must serve")
    assert re.search(r":warn\].*token verification", h.log_since(mark)), h.log_since(mark)


@pytest.mark.parametrize("policy", [None, "fail-closed"])
def test_verification_down_fail_closed(one_off, devauth, policy):
    """Fail-closed is the default (issue 11 part 5): no directive, same as explicit."""
    h = one_off(devauth, verify_conf(devauth.auth_url, interval=1, policy=policy))
    nav, _ = login(h, devauth, "ALLOC_SPO")
    xhr, _ = login(h, devauth, "ALLOC_SPO")
    third, _ = login(h, devauth, "ALLOC_SPO")
    time.sleep(1.1)
    devauth.fault("verify", "500")
    r = nav.get(ENV)
    assert_signin(h, r, devauth, "fail-closed must not serve")
    r = xhr.get(ENV, headers=XHR)
    assert r.status_code == 401, h.explain(r, "fail-closed XHR")
    devauth.clear_faults()
    devauth.fault("verify", "close")
    assert_signin(h, third.get(ENV), devauth, "fail-closed, connection dropped")


# ---------------------------------------------------------------------------
# concurrent requests and sign-out: a request that started before the
# session changed must not write its stale copy back
# ---------------------------------------------------------------------------
STALE_WRITE = (
    "nsso_session_current() loads the session, then may spend a network round trip "
    "(refresh grant or token verification) and finally writes its copy back with an "
    "unconditional nsso_store_set() (nsso_session_save); a sign-out or refresh that "
    "happened meanwhile is overwritten: %s")


def in_background(fn):
    box = {}

    def run():
        try:
            box["result"] = fn()
        except Exception as e:  # reported by the caller
            box["result"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, box


def test_sign_out_during_refresh_sticks(h, auth6):
    b, page = login(h, auth6, "ALLOC_SPO")
    sid = b.session_id()
    sleep_until(expires_of(page) - WINDOW + 1)
    auth6.fault("token", "slow", delay=1.0, count=1)
    t, box = in_background(lambda: replay(h, auth6, sid).get(ENV))
    time.sleep(0.3)
    r = b.get(LOGOUT, headers=SAME_ORIGIN)
    assert r.status_code == 302 and r.headers["Location"].startswith(signout_location(auth6))
    t.join(10)
    # the request in flight may be served or not; it must not bring the session back
    assert getattr(box.get("result"), "status_code", None) in (200, 302), box
    r = replay(h, auth6, sid).get(ENV)
    assert_signin(h, r, auth6, "the signed-out session came back")


def test_sign_out_during_verification_sticks(hv, devauth):
    b, _ = login(hv, devauth, "ALLOC_SPO")
    sid = b.session_id()
    time.sleep(INTERVAL + 0.1)
    devauth.fault("verify", "slow", delay=1.0, count=1)
    t, box = in_background(lambda: replay(hv, devauth, sid).get(ENV))
    time.sleep(0.3)
    r = b.get(LOGOUT, headers=SAME_ORIGIN)
    assert r.status_code == 302
    t.join(10)
    # the request in flight may be served or not; it must not bring the session back
    assert getattr(box.get("result"), "status_code", None) in (200, 302), box
    r = replay(hv, devauth, sid).get(ENV)
    assert_signin(hv, r, devauth, "the signed-out session came back")


def test_refresh_once_with_verification(one_off, auth6):
    h = one_off(auth6, "NomisSSOClockSkew 0\nNomisSSORefreshBeforeExpiry %d\n%s"
                % (WINDOW, verify_conf(auth6.auth_url, interval=1)))
    b, page = login(h, auth6, "ALLOC_SPO")
    e1 = expires_of(page)
    before = grants(auth6)
    sleep_until(e1 - WINDOW + 1)
    # the refresh takes 0.3 s and each verification 0.5 s: every other request
    # of the burst loads the session before the refresh is saved and writes
    # it back after
    auth6.fault("token", "slow", delay=0.3, count=1)
    auth6.fault("verify", "slow", delay=0.5)
    out = parallel_get(h, ENV, b.session_id())
    assert all(getattr(r, "status_code", None) == 200 for r in out), out
    auth6.clear_faults()
    r = b.get(ENV)
    assert r.status_code == 200
    assert expires_of(r) > e1, "the session went back to the old token"
    assert grants(auth6) == before + 1, "expected exactly one refresh: %r" % auth6.stats()
