"""Every virtual host is its own realm: what one accepted (a session, a
bearer token, a sign-in state) is never accepted by another whose HMPPS Auth
settings differ, even with the same passphrase and client id.

One httpd serves two IP-based virtual hosts on two loopback ports, A and B,
each pointing at a development auth server of its own (two DevAuth
instances: different URLs, so different issuers and signing keys). The
browser's cookie jar is per host name, not per port, so it sends A's cookies
to B, as a browser would for two services under one cookie domain. Two
httpd processes sharing a redis store show the same for the shared caches,
where no per-process cache can be what answers. Two virtual hosts with
identical settings are one realm and do share sessions.
"""

import time

import pytest
import requests

import harness as H
from harness import cgi_env
from conftest import _track

from test_shared_store import Engine, REDIS, _need

XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}

# one child process: whatever A's request left in the per-child cache is
# what B's request finds
ONE_CHILD = ("StartServers 1\nServerLimit 1\nThreadsPerChild 10\nMaxRequestWorkers 10\n"
             "MinSpareThreads 1\nMaxSpareThreads 10\n")

LOCATIONS = """
ScriptAliasMatch "^/api/" "{d}/cgi-bin/env.cgi"
<Location /api>
    AuthType nomis-bearer
    Require valid-user
</Location>
"""


class Vhost:
    """One virtual host of an Httpd, as the harness's Browser sees a site."""

    def __init__(self, h, port):
        self.h = h
        self.port = port

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    def explain(self, resp=None, what=""):
        return self.h.explain(resp, what)

    def log_since(self, mark=0):
        return self.h.log_since(mark)


def two_vhosts(make, auth_a, auth_b, mpm_conf=None, extra_a="", extra_b=""):
    """A started httpd (from `make`, an HttpdFactory) whose two virtual hosts
    use auth_a and auth_b (same passphrase and client id)."""
    pa, pb = H.free_ports(2)
    vhosts = ""
    for port, auth, extra in ((pa, auth_a, extra_a), (pb, auth_b, extra_b)):
        vhosts += "Listen 127.0.0.1:%d\n<VirtualHost 127.0.0.1:%d>\nServerName 127.0.0.1\n" \
                  "%s</VirtualHost>\n" % (port, port,
                                          H.nsso_directives(auth.auth_url, extra=extra))
    # the main server (its port only answers the harness's start-up probe)
    # is configured like A: the template protects /protected everywhere
    h = make(auth_url=auth_a.auth_url, mpm_conf=mpm_conf,
             extra=lambda h: LOCATIONS.format(d=h.dir) + vhosts)
    return h, Vhost(h, pa), Vhost(h, pb)


@pytest.fixture
def auth_b():
    d = H.DevAuth().start()
    yield d
    d.cleanup()


@pytest.fixture
def realms(private_devauth, auth_b, httpd_factory, request):
    """(httpd, A, B, auth A, auth B): two realms in one single-child httpd."""
    h, a, b = two_vhosts(httpd_factory, private_devauth, auth_b, mpm_conf=ONE_CHILD)
    _track(request, auth_b)
    return h, a, b, private_devauth, auth_b


def signed_in(site, auth):
    br = H.Browser(site, auth)
    _, page = br.login("/protected/env", "ALLOC_SPO")
    assert page.status_code == 200, site.explain(page, "sign-in at %s" % site.base)
    assert cgi_env(page.text).get("REMOTE_USER") == "ALLOC_SPO", site.explain(page)
    return br


def api(site, token):
    hdrs = dict(XHR, Authorization="Bearer " + token)
    return requests.get(site.url("/api/env"), headers=hdrs, allow_redirects=False, timeout=15)


def assert_sign_in_started(site, auth, resp, what):
    loc = resp.headers.get("Location", "")
    assert resp.status_code == 302 and loc.startswith(auth.auth_url + "/oauth/authorize?"), \
        site.explain(resp, what)


def assert_invalid_token(site, resp, what):
    assert resp.status_code == 401, site.explain(resp, what)
    assert 'error="invalid_token"' in resp.headers.get("WWW-Authenticate", ""), \
        site.explain(resp, what)


# ---------------------------------------------------------------------------
# two realms in one httpd
# ---------------------------------------------------------------------------
def test_session_of_a_is_not_a_session_at_b(realms):
    h, a, b, auth_a, auth_b = realms
    br = signed_in(a, auth_a)
    sid = br.session_id()
    # the same cookie jar (same host name, other port) asks B
    r = br.s.get(b.url("/protected/env"), allow_redirects=False, timeout=15,
                 headers={"Accept": "text/html"})
    assert_sign_in_started(b, auth_b, r, "B accepted A's session cookie")
    assert auth_b.stats()["grants"]["authorization_code"] == 0
    # and A still has it (B, finding a cookie of that name it has no session
    # for, told the browser to drop it: give it back)
    br.set_session_cookie(sid)
    r = br.get("/protected/env")
    assert r.status_code == 200 and "REMOTE_USER=ALLOC_SPO" in r.text, a.explain(r)


def test_bearer_token_a_accepted_is_refused_by_b(realms):
    """Right after A accepted it, so the one child has it in its own cache."""
    h, a, b, auth_a, auth_b = realms
    tok = auth_a.mint(username="ALLOC_SPO")["access_token"]
    for _ in range(2):  # the second is served from the per-child cache
        r = api(a, tok)
        assert r.status_code == 200 and cgi_env(r.text).get("REMOTE_USER") == "ALLOC_SPO", \
            a.explain(r)
    mark = h.log_mark()
    assert_invalid_token(b, api(b, tok), "B accepted a token A had cached")
    assert "bearer token refused" in h.log_since(mark), h.log_tail()
    # B's own token is B's, and A refuses it in turn
    tok_b = auth_b.mint(username="ALLOC_SPO")["access_token"]
    assert api(b, tok_b).status_code == 200
    assert_invalid_token(a, api(a, tok_b), "A accepted a token B had cached")
    # neither refusal evicted the other realm's entry
    assert api(a, tok).status_code == 200
    assert api(b, tok_b).status_code == 200


def test_sign_in_state_of_a_does_not_complete_at_b(realms):
    """A state cookie sealed by A opens with B's key (same passphrase): its
    realm, not the key, makes B refuse it, before any code exchange."""
    h, a, b, auth_a, auth_b = realms
    br = H.Browser(a, auth_a)
    callback_a = br.authorize(br.begin("/protected/env"))
    assert callback_a.startswith(a.url(H.CALLBACK) + "?"), callback_a
    assert br.state_cookies(), "no state cookie from A"
    before = auth_b.stats()["requests"]["token"]
    mark = h.log_mark()
    r = br.s.get(b.base + callback_a[len(a.base):], allow_redirects=False, timeout=15)
    assert r.status_code == 400, b.explain(r, "B completed A's sign-in")
    assert H.new_session_cookie(r) is None
    assert "another realm" in h.log_since(mark), h.log_tail()
    assert auth_b.stats()["requests"]["token"] == before, "B exchanged A's code"


def test_identical_virtual_hosts_share_sessions(private_devauth, httpd_factory):
    """Same auth server and settings: one realm, so no over-separation."""
    h, a, b = two_vhosts(httpd_factory, private_devauth, private_devauth)
    br = signed_in(a, private_devauth)
    grants = private_devauth.stats()["grants"]["authorization_code"]
    r = br.s.get(b.url("/protected/env"), allow_redirects=False, timeout=15,
                 headers={"Accept": "text/html"})
    assert r.status_code == 200 and "REMOTE_USER=ALLOC_SPO" in r.text, \
        b.explain(r, "same realm, yet B did not take A's session")
    assert private_devauth.stats()["grants"]["authorization_code"] == grants
    tok = private_devauth.mint(username="ALLOC_SPO")["access_token"]
    assert api(a, tok).status_code == 200
    assert api(b, tok).status_code == 200


def test_a_virtual_host_differing_only_in_algorithms_is_another_realm(private_devauth,
                                                                      httpd_factory):
    """Same auth server, one more allowed algorithm: another realm."""
    h, a, b = two_vhosts(httpd_factory, private_devauth, private_devauth,
                         extra_b="NomisSSOTokenAlgorithms RS256 PS256")
    br = signed_in(a, private_devauth)
    r = br.s.get(b.url("/protected/env"), allow_redirects=False, timeout=15,
                 headers={"Accept": "text/html"})
    assert_sign_in_started(b, private_devauth, r, "B shared a session across realms")


# ---------------------------------------------------------------------------
# two realms sharing one redis store (two httpd processes)
# ---------------------------------------------------------------------------
def redis_host(make, auth, engine, extra=""):
    """A started httpd (from `make`, an HttpdFactory) keeping its sessions in
    the redis `engine`."""
    load = "LoadModule socache_redis_module %s/mod_socache_redis.so\nRedisTimeout 2\n" \
           % H.MODDIR
    conf = H.nsso_directives(auth.auth_url, extra="NomisSSOSessionStore "
                             "socache:redis:127.0.0.1:%d\n%s" % (engine.port, extra))
    return make(auth_url=auth.auth_url, nsso_conf=load + conf,
                extra=lambda h: LOCATIONS.format(d=h.dir))


@pytest.fixture
def redis_engine():
    _need(REDIS, "redis")
    engine = Engine("redis").start()
    yield engine
    engine.stop()


def test_shared_store_keeps_realms_apart(redis_engine, private_devauth, auth_b,
                                         httpd_factory):
    a = redis_host(httpd_factory, private_devauth, redis_engine)
    b = redis_host(httpd_factory, auth_b, redis_engine)
    # a bearer token A accepted is in the shared cache; B's process never
    # saw it, so only the shared store could answer for it
    tok = private_devauth.mint(username="ALLOC_SPO")["access_token"]
    r = api(a, tok)
    assert r.status_code == 200, a.explain(r)
    assert redis_engine.redis("KEYS", "*"), "nothing cached in redis"
    assert_invalid_token(b, api(b, tok), "B accepted a token from the shared cache")
    # a session A made is in the shared store too
    br = signed_in(a, private_devauth)
    r = br.s.get(b.url("/protected/env"), allow_redirects=False, timeout=15,
                 headers={"Accept": "text/html"})
    assert_sign_in_started(b, auth_b, r, "B accepted A's session from redis")


def test_value_replayed_after_its_sealed_expiry_is_refused(redis_engine, private_devauth,
                                                           httpd_factory):
    """Whoever controls redis keeps a session's values and writes them back
    after they expired (redis dropped them): they are refused by the store
    itself, from the expiry sealed into them, before the session's own
    timeouts are looked at."""
    h = redis_host(httpd_factory, private_devauth, redis_engine,
                   "NomisSSOSessionInactivityTimeout 10")
    br = signed_in(h, private_devauth)
    # the session's value is the one redis drops after the idle timeout
    # (the spent-state marker lives longer)
    saved = {k: redis_engine.redis("GET", k) for k in redis_engine.redis("KEYS", "*")
             if 0 < int(redis_engine.redis("TTL", k)) <= 10}
    assert len(saved) == 1, "expected one session value in redis"
    deadline = time.monotonic() + 20
    while any(redis_engine.redis("EXISTS", k) != b"0" for k in saved) \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    assert all(redis_engine.redis("EXISTS", k) == b"0" for k in saved), \
        "redis kept the session past its TTL"
    time.sleep(2)  # redis's TTL is in whole seconds, rounded down
    for k, v in saved.items():
        redis_engine.redis("SET", k, v)  # no TTL: redis would keep it forever
    mark = h.log_mark()
    r = br.get("/protected/env")
    assert_sign_in_started(h, private_devauth, r, "a replayed expired session accepted")
    log = h.log_since(mark)
    assert "past the expiry sealed into it" in log, h.log_tail()
    assert "idle longer than" not in log, "the replayed record reached the session checks"


def test_value_within_its_sealed_expiry_still_opens(redis_engine, private_devauth,
                                                    httpd_factory):
    """The control: a value written back before its expiry is accepted (this
    is what the shared engine's operator can still do)."""
    h = redis_host(httpd_factory, private_devauth, redis_engine)
    br = signed_in(h, private_devauth)
    saved = {k: redis_engine.redis("GET", k) for k in redis_engine.redis("KEYS", "*")}
    redis_engine.redis("FLUSHALL")
    for k, v in saved.items():
        redis_engine.redis("SET", k, v)
    r = br.get("/protected/env")
    assert r.status_code == 200 and "REMOTE_USER=ALLOC_SPO" in r.text, h.explain(r)


def test_passphrase_rotation_keeps_sessions_and_sign_ins(httpd_factory, devauth):
    """The passphrase protects what is sealed, not whom tokens are trusted
    from: rotating it (new one first, old one second, graceful restart)
    keeps the realm, so signed-in staff stay signed in and a sign-in started
    before the reload completes after it. Dropping the old passphrase later
    fails only what was sealed with it (a sign-in still pending), never a
    session."""
    old = H.PASSPHRASE
    new = "rotated-passphrase-for-the-realm-test-0123456789"
    h = httpd_factory(mpm="event")
    b = H.Browser(h, devauth)
    _, page = b.login()
    assert cgi_env(page.text).get("REMOTE_USER") == "ALLOC_SPO", h.explain(page)
    pending = H.Browser(h, devauth)
    pending_cb = pending.authorize(pending.begin("/protected/env"), "ALLOC_POM")
    late = H.Browser(h, devauth)
    late_cb = late.authorize(late.begin("/protected/env"), "ALLOC_POM")

    h.params["nsso_conf"] = H.nsso_directives(devauth.auth_url, passphrase=new + " " + old)
    h.graceful()
    r = b.get_current("/protected/env")
    assert cgi_env(r.text).get("REMOTE_USER") == "ALLOC_SPO", h.explain(r)
    cb = pending.callback(pending_cb)
    assert cb.status_code == 302, h.explain(cb)
    page = pending.get(cb.headers["Location"])
    assert cgi_env(page.text).get("REMOTE_USER") == "ALLOC_POM", h.explain(page)

    h.params["nsso_conf"] = H.nsso_directives(devauth.auth_url, passphrase=new)
    h.graceful()
    assert late.callback(late_cb).status_code == 400, "a state sealed with a dropped key"
    for browser, user in ((b, "ALLOC_SPO"), (pending, "ALLOC_POM")):
        r = browser.get_current("/protected/env")
        assert cgi_env(r.text).get("REMOTE_USER") == user, h.explain(r)
