"""Faults at HMPPS Auth and in the session store (issue 6, "Faults").

Each fault must give the documented answer (docs/directives.md, "Answers
the module gives"): a 502 page when HMPPS Auth is unreachable, slow past
NomisSSOHTTPTimeout, answers 5xx or garbage, or hands out a token that cannot
be verified; 503 for a bearer token that cannot be checked; the sign-in goes
on when only the caseload lookup fails; a 500 naming
NomisSSOSessionCacheEntrySize when a session does not fit; eviction of the
least recently used session (and a warning) when the store is full. Every
request is timed (no worker may hang: NomisSSOHTTPTimeout is 2 s here, so
every answer comes within 4 s), the error_log must show no crashed child,
and after the fault is cleared the next sign-in works without restarting
httpd. Redis killed and restarted is covered by test_shared_store.py.
"""

import functools
import http.client
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import harness as H
from harness import cgi_env
from conftest import serving

TIMEOUT = 2            # NomisSSOHTTPTimeout of every httpd here (harness default)
REFETCH = 1            # NomisSSOJWKSRefetchInterval (harness default)
DEADLINE = TIMEOUT + 2  # the latest any answer may come
XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
CRASH_MARKS = ("Segmentation fault", "exit signal", "AH00052", "double free",
               "AddressSanitizer", "stack smashing", "core dumped")
TRANSPORT = ["500", "garbage", "close", "slow"]
# one event child: one JWKS cache (each child keeps its own)
ONE_CHILD = ("StartServers 1\nServerLimit 1\nThreadsPerChild 25\n"
             "MaxRequestWorkers 25\nMinSpareThreads 5\nMaxSpareThreads 25\n")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def timed(fn, *a, **kw):
    t0 = time.monotonic()
    r = fn(*a, **kw)
    return r, time.monotonic() - t0


def assert_alive(h, mark):
    assert h.running(), "httpd exited\n" + h.log_tail()
    r, took = timed(requests.get, h.url("/public.html"), timeout=10)
    assert r.status_code == 200, h.explain(r, "httpd no longer serves")
    assert took < 1, "a plain page took %.1f s" % took
    log = h.log_since(mark)
    for m in CRASH_MARKS:
        assert m not in log, "crash marker %r in the error_log:\n%s" % (m, log[-3000:])


def assert_502(h, r, took, what):
    assert r.status_code == 502, h.explain(r, what)
    assert took < DEADLINE, "%s answered after %.1f s" % (what, took)
    assert "text/html" in r.headers.get("Content-Type", ""), r.headers
    assert "unavailable" in r.text, r.text[:300]
    assert H.new_session_cookie(r) is None, "a session despite: %s" % what


def sign_in(h, devauth, user="ALLOC_SPO", path="/protected/env"):
    """A signed-in Browser (asserts the whole flow, timed)."""
    b = H.Browser(h, devauth)
    (cb, page), took = timed(b.login, path, user)
    assert page.status_code == 200, h.explain(page, "sign-in as %s" % user)
    assert cgi_env(page.text).get("REMOTE_USER") == user, page.text
    assert took < DEADLINE, "sign-in took %.1f s" % took
    return b


def bearer(h, token, path="/api/env"):
    return requests.get(h.url(path), headers=dict(XHR, Authorization="Bearer " + token),
                        allow_redirects=False, timeout=15)


def busy_workers(h):
    r = requests.get(h.url("/server-status?auto"), timeout=5)
    assert r.status_code == 200, r.status_code
    m = re.search(r"^BusyWorkers: (\d+)", r.text, re.M)
    return int(m.group(1))


def wait_idle(h, limit=1, within=DEADLINE + 2):
    """Busy workers fall back to `limit` (the status request itself)."""
    deadline = time.monotonic() + within
    while True:
        n = busy_workers(h)
        if n <= limit or time.monotonic() > deadline:
            return n
        time.sleep(0.1)


class JwksProxy:
    """Forwards to devauth, except that the JWKS can be replaced: mode
    'pass' (as devauth answers), 'empty' ({"keys": []})."""

    HOP = {"host", "connection", "content-length", "keep-alive", "transfer-encoding",
           "date", "server"}

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.mode = "pass"
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def forward(self):
                if proxy.mode == "empty" and \
                        self.path.split("?")[0].endswith("/.well-known/jwks.json"):
                    return self.answer(200, [("Content-Type", "application/json")],
                                       b'{"keys":[]}')
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in proxy.HOP}
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=hdrs)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException):
                    self.close_connection = True  # as devauth's "close" fault did
                    return
                finally:
                    conn.close()
                self.answer(resp.status, [(k, v) for k, v in resp.getheaders()
                                          if k.lower() not in proxy.HOP], data)

            def answer(self, status, headers, data):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def auth_url(self):
        return "http://127.0.0.1:%d/auth" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def faults_extra(h, more=""):
    return """
LoadModule status_module {moddir}/mod_status.so
ExtendedStatus On
ScriptAliasMatch "^/api/" "{d}/cgi-bin/env.cgi"
<Location /api/>
    AuthType nomis-bearer
    Require valid-user
</Location>
<Location /server-status>
    SetHandler server-status
    Require all granted
</Location>
{more}
""".format(moddir=H.MODDIR, d=h.dir, more=more)


@pytest.fixture(scope="module")
def faults_httpd(module_httpd_factory):
    return module_httpd_factory(mpm="event", extra=faults_extra)


@pytest.fixture
def site(faults_httpd, devauth, request):
    return serving(request, faults_httpd)


@pytest.fixture
def own_httpd(httpd_factory):
    """make(**HttpdFactory options) -> a started httpd of the test's own,
    with this module's site configuration."""
    return functools.partial(httpd_factory, extra=faults_extra)


# ---------------------------------------------------------------------------
# the token endpoint
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", TRANSPORT)
def test_token_endpoint_fault(site, devauth, mode):
    """The code exchange fails: a 502 page within the timeout, no session,
    and once the fault is cleared the same browser signs in."""
    mark = site.log_mark()
    b = H.Browser(site, devauth)
    cb = b.authorize(b.begin("/protected/env"))
    devauth.fault("token", mode, delay=TIMEOUT + 4 if mode == "slow" else None)
    r, took = timed(b.callback, cb)
    assert_502(site, r, took, "callback with the token endpoint %s" % mode)
    if mode == "slow":
        assert took >= TIMEOUT - 0.5, "gave up after %.1f s, before the timeout" % took
    log = site.log_since(mark)
    assert "code exchange failed" in log, log[-2000:]
    devauth.clear_faults()
    _, page = b.login("/protected/env")
    assert page.status_code == 200, site.explain(page, "sign-in after the fault cleared")
    assert wait_idle(site) <= 1
    assert_alive(site, mark)


def test_slow_auth_server_does_not_block_others(site, devauth):
    """Eight sign-ins stuck on a slow token endpoint: signed-in users and
    bearer callers keep getting answers at once, and each stuck sign-in is
    answered (502) when the timeout passes."""
    mark = site.log_mark()
    user = sign_in(site, devauth)
    token = devauth.mint(username="ALLOC_POM")["access_token"]
    assert bearer(site, token).status_code == 200
    stuck = []
    for _ in range(8):
        b = H.Browser(site, devauth)
        stuck.append((b, b.authorize(b.begin("/protected/env"))))
    devauth.fault("token", "slow", delay=TIMEOUT + 4)
    with ThreadPoolExecutor(len(stuck)) as pool:
        futures = [pool.submit(timed, b.callback, cb) for b, cb in stuck]
        time.sleep(0.3)
        assert busy_workers(site) >= 2, "the stuck sign-ins are not in progress"
        while not all(f.done() for f in futures):
            r, took = timed(user.get, "/protected/page.html")
            assert r.status_code == 200 and took < 1, (r.status_code, took)
            r, took = timed(bearer, site, token)
            assert r.status_code == 200 and took < 1, (r.status_code, took)
            time.sleep(0.1)
        for f in futures:
            r, took = f.result()
            assert_502(site, r, took, "a sign-in stuck on a slow token endpoint")
    devauth.clear_faults()
    assert wait_idle(site) <= 1, "workers still busy after the timeout"
    sign_in(site, devauth)
    assert_alive(site, mark)


# ---------------------------------------------------------------------------
# the caseload lookup (/api/user/me)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", TRANSPORT)
def test_caseload_lookup_fault(site, devauth, mode):
    """Only the caseload lookup fails: the sign-in goes on (without a
    caseload), within the timeout, and the failure is logged."""
    mark = site.log_mark()
    b = H.Browser(site, devauth)
    cb = b.authorize(b.begin("/protected/env"))
    # a kept-alive connection dropped before any answer is retried once on a
    # fresh one (libcurl: what a server's idle timeout looks like): drop both
    devauth.fault("me", mode, count=2 if mode == "close" else 1,
                  delay=TIMEOUT + 4 if mode == "slow" else None)
    r, took = timed(b.callback, cb)
    assert r.status_code == 302, site.explain(r, "callback with /api/user/me %s" % mode)
    assert took < DEADLINE, "callback took %.1f s" % took
    page = b.get("/protected/env")
    assert page.status_code == 200, site.explain(page)
    env = cgi_env(page.text)
    assert env.get("REMOTE_USER") == "ALLOC_SPO"
    assert not env.get("NOMIS_SSO_CASELOAD"), env
    assert "caseload lookup for ALLOC_SPO" in site.log_since(mark)
    # cleared: the next sign-in has the caseload again
    devauth.clear_faults()
    _, page = H.Browser(site, devauth).login("/protected/env")
    assert cgi_env(page.text).get("NOMIS_SSO_CASELOAD") == "LEI", page.text
    assert_alive(site, mark)


# ---------------------------------------------------------------------------
# the JWKS
# ---------------------------------------------------------------------------
@pytest.fixture
def jwks_proxy(devauth):
    p = JwksProxy(devauth.port)
    yield p
    p.stop()


@pytest.mark.parametrize("mode", TRANSPORT + ["empty"])
def test_jwks_fault(own_httpd, devauth, jwks_proxy, mode):
    """A fresh httpd whose first JWKS fetch fails (devauth fault, or an
    empty key set): sign-ins get the 502 page and bearer callers 503, in
    time; once the
    JWKS is back, both work after the refetch interval, with no restart."""
    h = own_httpd(internal_url=jwks_proxy.auth_url)
    mark = h.log_mark()
    token = devauth.mint(username="ALLOC_SPO")["access_token"]
    if mode == "empty":
        jwks_proxy.mode = "empty"
    else:
        devauth.fault("jwks", mode, delay=TIMEOUT + 4 if mode == "slow" else None)
    b = H.Browser(h, devauth)
    cb = b.authorize(b.begin("/protected/env"))
    r, took = timed(b.callback, cb)
    assert_502(h, r, took, "callback with the JWKS %s" % mode)
    time.sleep(REFETCH + 0.1)
    r, took = timed(bearer, h, token)
    assert took < DEADLINE, "bearer answered after %.1f s" % took
    assert r.status_code == 503, h.explain(r, "bearer with the JWKS %s" % mode)
    assert "REMOTE_USER" not in r.text
    log = h.log_since(mark)
    assert "signing keys" in log, log[-2000:]
    # recovery
    jwks_proxy.mode = "pass"
    devauth.clear_faults()
    time.sleep(REFETCH + 0.1)
    r = bearer(h, token)
    assert r.status_code == 200, h.explain(r, "bearer after the JWKS came back")
    sign_in(h, devauth)
    assert wait_idle(h) <= 1
    assert_alive(h, mark)


def test_jwks_rotated_mid_run(own_httpd, devauth):
    """Sign-ins in three threads while HMPPS Auth rotates its key and drops
    the old one: every sign-in that starts after the rotation succeeds (the
    module refetches the JWKS), earlier sessions stay valid, and the only
    failures allowed are 502s for sign-ins already under way at the
    rotation. One child, so one JWKS cache whose first fetch is over a
    refetch interval old when the key changes."""
    h = own_httpd(mpm_conf=ONE_CHILD)
    mark = h.log_mark()
    sign_in(h, devauth)  # the child's first JWKS fetch
    warm = time.monotonic()
    results = []   # (started, finished, status, browser)
    lock = threading.Lock()
    stop = threading.Event()

    def worker(n):
        # each thread signs in at devauth once; later sign-ins are silent
        b = H.Browser(h, devauth)
        while not stop.is_set():
            b.drop_cookie(H.COOKIE)
            started = time.monotonic()
            try:
                cb = b.callback(b.authorize(b.begin("/protected/env")))
                status = cb.status_code
                if status == 302:
                    status = b.get("/protected/env").status_code
            except H.HarnessError:
                status = -1
            with lock:
                results.append((started, time.monotonic(), status, b.session_id()))

    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(worker, n) for n in range(3)]
        try:
            time.sleep(max(1.0, warm + REFETCH + 0.5 - time.monotonic()))
            before = devauth.jwks()["keys"][0]["kid"]
            out = devauth.rotate_keys(drop_old=True)
            at = time.monotonic()
            assert out["kids"] == [out["kid"]] and out["kid"] != before
            # go on until enough sign-ins started after the rotation have finished
            while time.monotonic() < at + 20:
                with lock:
                    if sum(1 for r in results if r[0] >= at) >= 9 \
                            and time.monotonic() > at + 1:
                        break
                time.sleep(0.05)
        finally:
            stop.set()
        for f in futures:
            f.result()
    early = [r for r in results if r[0] < at]
    late = [r for r in results if r[0] >= at]
    assert len(early) >= 6 and len(late) >= 6, (len(early), len(late))
    assert all(r[2] == 200 for r in late), \
        "sign-ins after the rotation failed: %r\n%s" % (
            [(round(r[0] - at, 2), r[2]) for r in late if r[2] != 200], h.log_tail())
    assert all(r[2] in (200, 502) for r in early), [r[2] for r in early]
    assert all(r[1] - r[0] < DEADLINE for r in results)
    # a session made before the rotation is still served
    first = min((r for r in early if r[2] == 200), key=lambda r: r[0])
    b = H.Browser(h, devauth)
    b.set_session_cookie(first[3])
    r = b.get("/protected/env")
    assert r.status_code == 200, h.explain(r, "a session from before the rotation")
    # bearer tokens signed with the new key are accepted
    assert bearer(h, devauth.mint(username="ALLOC_POM")["access_token"]).status_code == 200
    assert_alive(h, mark)


# ---------------------------------------------------------------------------
# HMPPS Auth down altogether
# ---------------------------------------------------------------------------
def test_auth_server_down(own_httpd, private_devauth):
    """HMPPS Auth stopped: a sign-in in progress gets the 502 page at once,
    bearer tokens 503 unless the child has the keys cached, existing sessions
    go on; HMPPS Auth started again
    (on the same port): sign-ins work without restarting httpd."""
    d = private_devauth
    h = own_httpd(auth_url=d.auth_url, mpm_conf=ONE_CHILD)
    mark = h.log_mark()
    user = sign_in(h, d)
    pending = H.Browser(h, d)
    cb = pending.authorize(pending.begin("/protected/env"))
    token = d.mint(username="ALLOC_POM")["access_token"]
    fresh = own_httpd(auth_url=d.auth_url)  # has never fetched the JWKS
    d.stop()
    assert not H.port_open(d.port)
    r, took = timed(pending.callback, cb)
    assert_502(h, r, took, "callback with HMPPS Auth down")
    assert took < 1, "a refused connection took %.1f s" % took
    r, took = timed(bearer, h, token)
    assert r.status_code == 200 and took < 1, h.explain(r, "bearer, keys cached, auth down")
    r, took = timed(bearer, fresh, token)
    assert r.status_code == 503, fresh.explain(r, "bearer, no keys, HMPPS Auth down")
    assert took < 1, "a refused connection took %.1f s" % took
    r, took = timed(user.get, "/protected/env")
    assert r.status_code == 200 and took < 1, h.explain(r, "session with HMPPS Auth down")
    # a new visitor is still sent to sign in (the redirect needs no server call)
    r = H.Browser(h, d).get("/protected/env")
    assert r.status_code == 302
    d.start()
    time.sleep(REFETCH + 0.1)
    sign_in(h, d, "ALLOC_ADMIN")
    r = bearer(h, d.mint(username="ALLOC_POM")["access_token"])
    assert r.status_code == 200, h.explain(r, "bearer after HMPPS Auth came back")
    assert_alive(h, mark)


# ---------------------------------------------------------------------------
# the session store
# ---------------------------------------------------------------------------
def test_session_store_full(own_httpd, devauth):
    """NomisSSOSessionCacheEntries 16 and 40 sign-ins: no sign-in fails, the
    store warns 'session store full', the newest sessions work and the
    oldest are evicted (their browsers are sent to sign in again)."""
    h = own_httpd(nsso_extra="NomisSSOSessionCacheEntries 16")
    mark = h.log_mark()
    browsers = []
    for i in range(40):
        b = H.Browser(h, devauth)
        cb, took = timed(b.callback, b.authorize(b.begin("/protected/page.html?n=%d" % i)))
        assert cb.status_code == 302, h.explain(cb, "sign-in %d with the store full" % i)
        assert took < DEADLINE
        assert H.new_session_cookie(cb)
        browsers.append(b)
    log = h.log_since(mark)
    assert "session store full" in log, log[-3000:]
    for b in browsers[-4:]:
        r = b.get("/protected/env")
        assert r.status_code == 200, h.explain(r, "a newest session")
    statuses = []
    for b in browsers[:10]:
        r = b.get("/protected/page.html")
        assert r.status_code in (200, 302), h.explain(r, "an old session")
        if r.status_code == 302:
            assert r.headers["Location"].startswith(devauth.auth_url + "/oauth/authorize?")
        statuses.append(r.status_code)
        r = b.get("/protected/page.html", headers=XHR)
        assert r.status_code in (200, 401), r.status_code
    assert statuses.count(302) >= 8, "old sessions not evicted: %r" % statuses
    # an evicted user signs in again
    b = browsers[0]
    b.drop_cookie(H.COOKIE)
    _, page = b.login("/protected/env")
    assert page.status_code == 200, h.explain(page)
    assert_alive(h, mark)


def test_session_entry_too_large(own_httpd, devauth):
    """NomisSSOSessionCacheEntrySize 1024 cannot hold a session with its
    tokens: the sign-in ends in a 500 and a log line naming the directive;
    the server goes on (bearer callers, public pages)."""
    h = own_httpd(nsso_extra="NomisSSOSessionCacheEntrySize 1024")
    mark = h.log_mark()
    for _ in range(3):
        b = H.Browser(h, devauth)
        r, took = timed(b.callback, b.authorize(b.begin("/protected/env")))
        assert r.status_code == 500, h.explain(r, "a session too big for its slot")
        assert took < DEADLINE
        assert H.new_session_cookie(r) is None
        assert "eyJ" not in r.text
    log = h.log_since(mark)
    assert "NomisSSOSessionCacheEntrySize" in log, log[-2000:]
    assert not re.search(r"eyJ[A-Za-z0-9_\-]{20,}", log), "a token in the error_log"
    r = bearer(h, devauth.mint(username="ALLOC_POM")["access_token"])
    assert r.status_code == 200, h.explain(r, "bearer with small store slots")
    assert_alive(h, mark)
