"""The session store under pressure from things that are not sessions,
through a real httpd: abandoned sign-ins (a protected page, then the
callback with error= or with a made-up code), and bearer tokens cached by
the thousand. None of them may push a live session out of the store; only
sessions evict sessions, and that is logged with a count, rate-limited.

Each pair "protected page -> callback" is sent over raw keep-alive
connections (http.client, several threads), with the state from the
Location header and the state cookie the first response set, as a script
would: no browser, no HMPPS Auth for the error= kind.
"""

import http.client
import re
import threading
import time

import pytest

import harness as H
from harness import CALLBACK, STATE_PREFIX, cgi_env
from conftest import serving

NAV = "text/html,application/xhtml+xml,*/*;q=0.8"
PAGE = "/protected/page.html"
ENV = "/protected/env"
SMALL = 64          # NomisSSOSessionCacheEntries for the small store (minimum 16)
PAIRS = 150         # abandoned sign-ins into the small store
MANY = 10000        # abandoned sign-ins at the default size (10000 entries)
THREADS = 8
USERS = ["ALLOC_SPO", "ALLOC_POM", "NO_ROLES_USER", "ALLOC_ADMIN", "DELIUS_SPO"]

BEARER_EXTRA = """
ScriptAliasMatch "^/api/" "{d}/cgi-bin/env.cgi"
<Location /api>
    AuthType nomis-bearer
    Require valid-user
</Location>
"""


def bearer_extra(h):
    return BEARER_EXTRA.format(d=h.dir)


@pytest.fixture(scope="module")
def small_httpd(module_httpd_factory):
    return module_httpd_factory(nsso_extra="NomisSSOSessionCacheEntries %d" % SMALL,
                                extra=bearer_extra)


@pytest.fixture
def small(small_httpd, devauth, request):
    return serving(request, small_httpd)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
class Client:
    """One keep-alive connection; reopened when the server closes it."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def get(self, target, headers):
        for attempt in (0, 1):
            try:
                self.conn.request("GET", target, headers=headers)
                r = self.conn.getresponse()
                r.read()
                return r
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError):
                # an idle keep-alive connection closed under us: once more
                self.conn.close()
                if attempt:
                    raise

    def close(self):
        self.conn.close()


def abandon(client, callback_query):
    """Protected page -> callback with callback_query (state appended) and the
    state cookie: the callback's status."""
    r = client.get(PAGE, {"Accept": NAV})
    assert r.status == 302, r.status
    state = H.query_of(r.getheader("Location"))["state"]
    cookies = [H.parse_set_cookie(v) for v in r.msg.get_all("Set-Cookie") or []]
    value = [v for n, v, _ in cookies if n == STATE_PREFIX + state]
    assert value, cookies
    r = client.get("%s?%s&state=%s" % (CALLBACK, callback_query, state),
                   {"Accept": NAV, "Cookie": "%s%s=%s" % (STATE_PREFIX, state, value[0])})
    return r.status


def abandon_many(h, n, callback_query="error=access_denied", threads=THREADS):
    """n abandoned sign-ins over `threads` connections: {status: count}."""
    counts = {}
    lock = threading.Lock()
    errors = []

    def run(share):
        c = Client(h.port)
        mine = {}
        try:
            for _ in range(share):
                s = abandon(c, callback_query)
                mine[s] = mine.get(s, 0) + 1
        except Exception as e:  # reported below
            errors.append(e)
        finally:
            c.close()
        with lock:
            for s, k in mine.items():
                counts[s] = counts.get(s, 0) + k

    shares = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]
    ts = [threading.Thread(target=run, args=(s,)) for s in shares]
    for t in ts:
        t.start()
    for t in ts:
        t.join(600)
    assert not errors, errors[:3]
    return counts


def still_signed_in(h, browsers):
    """Every browser's session still serves its user (no new sign-in)."""
    for user, b in browsers.items():
        r = b.get(ENV)
        assert r.status_code == 200, h.explain(r, "%s's session was evicted" % user)
        assert cgi_env(r.text).get("REMOTE_USER") == user


def sign_in(h, devauth, users):
    logins = H.Logins(h, devauth)
    for u in users:
        logins(u)
    return dict(logins.browsers)


# ---------------------------------------------------------------------------
# abandoned sign-ins
# ---------------------------------------------------------------------------
def test_error_callbacks_do_not_evict_a_session(small, devauth):
    """150 pairs 'protected page -> callback with error=' into a 64-entry
    store: each answers 403, stores nothing, and the session signed in
    before them still works."""
    browsers = sign_in(small, devauth, ["ALLOC_SPO"])
    mark = small.log_mark()
    counts = abandon_many(small, PAIRS)
    assert counts == {403: PAIRS}, counts
    still_signed_in(small, browsers)
    assert "session store full" not in small.log_since(mark)


def test_error_callback_replay_is_harmless(small, devauth):
    """No marker for an error callback: sent twice with its cookie, the second
    is the same 403 (it grants nothing), and the first cleared the cookie."""
    c = Client(small.port)
    try:
        r = c.get(PAGE, {"Accept": NAV})
        state = H.query_of(r.getheader("Location"))["state"]
        name, value, _ = [H.parse_set_cookie(v) for v in r.msg.get_all("Set-Cookie")][0]
        assert name == STATE_PREFIX + state
        target = "%s?error=access_denied&state=%s" % (CALLBACK, state)
        hdrs = {"Accept": NAV, "Cookie": "%s=%s" % (name, value)}
        first = c.get(target, hdrs)
        cleared = [H.parse_set_cookie(v) for v in first.msg.get_all("Set-Cookie") or []]
        assert (name, "") in [(n, v) for n, v, _ in cleared], cleared
        assert first.status == 403 and c.get(target, hdrs).status == 403
        # without the cookie, as a browser that honoured the clearing: refused
        assert c.get(target, {"Accept": NAV}).status == 400
    finally:
        c.close()


def test_made_up_code_callbacks_do_not_evict_a_session(small, devauth):
    """150 abandoned sign-ins that do spend their state (a marker each: the
    callback carries a made-up code, which HMPPS Auth refuses) into a
    64-entry store: the session signed in before them still works."""
    browsers = sign_in(small, devauth, ["ALLOC_POM"])
    counts = abandon_many(small, PAIRS, "code=" + "x" * 20, threads=4)
    assert counts == {400: PAIRS}, counts
    still_signed_in(small, browsers)


def test_bearer_flood_does_not_evict_sessions(small, devauth):
    """150 distinct valid bearer tokens, each cached in a 64-entry store:
    the sessions signed in before them still work."""
    browsers = sign_in(small, devauth, ["NO_ROLES_USER", "ALLOC_ADMIN"])
    tokens = [devauth.mint(username="ALLOC_SPO")["access_token"] for _ in range(PAIRS)]
    assert len(set(tokens)) == PAIRS
    c = Client(small.port)
    try:
        for t in tokens:
            r = c.get("/api/env", {"Authorization": "Bearer " + t,
                                   "Accept": "application/json"})
            assert r.status == 200, r.status
    finally:
        c.close()
    still_signed_in(small, browsers)


def test_ten_thousand_abandoned_sign_ins_at_default_size(devauth, httpd_factory):
    """10,000 abandoned sign-ins at the default size (10,000 entries) with
    five users signed in before them: every one of them stays signed in."""
    h = httpd_factory(nsso_extra="", extra=bearer_extra)
    browsers = sign_in(h, devauth, USERS)
    t0 = time.monotonic()
    counts = abandon_many(h, MANY)
    took = time.monotonic() - t0
    H.debug("%d abandoned sign-ins in %.1f s" % (MANY, took))
    assert counts == {403: MANY}, counts
    still_signed_in(h, browsers)
    assert took < 60, "%d abandoned sign-ins took %.1f s" % (MANY, took)


# ---------------------------------------------------------------------------
# sessions evicting sessions: counted and logged, rate-limited
# ---------------------------------------------------------------------------
EVICTION_LINE = re.compile(r"session store full: (\d+) live session\(s\) evicted by this "
                           r"process since its last warning \((\d+) by all since the store "
                           r"was created, 16 entries\); raise NomisSSOSessionCacheEntries")


def test_session_evictions_counted_and_rate_limited(devauth, httpd_factory):
    """30 sign-ins into a 16-entry store: the oldest sessions go (only
    sessions evict sessions), and the warning comes at most once a minute
    per process, with the number evicted and the store's total."""
    h = httpd_factory(nsso_extra="NomisSSOSessionCacheEntries 16", extra=bearer_extra)
    mark = h.log_mark()
    browsers = []
    for i in range(30):
        b = H.Browser(h, devauth)
        cb = b.callback(b.authorize(b.begin(PAGE + "?n=%d" % i)))
        assert cb.status_code == 302, h.explain(cb, "sign-in %d" % i)
        browsers.append(b)
    for b in browsers[-8:]:
        assert b.get(ENV).status_code == 200
    evicted = sum(1 for b in browsers[:14] if b.get(ENV).status_code == 302)
    assert evicted >= 10, "old sessions not evicted"
    log = h.log_since(mark)
    lines = EVICTION_LINE.findall(log)
    assert lines, log[-3000:]
    # one line per process that evicted (at most four children)
    assert len(lines) <= 4, lines
    assert all(int(n) >= 1 and int(total) >= int(n) for n, total in lines), lines
    assert log.count("session store full") == len(lines)
