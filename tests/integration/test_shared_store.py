"""Sessions shared by several httpd hosts through httpd's socache providers
(NomisSSOSessionStore socache:redis / socache:memcache), against real
redis-server and memcached processes on loopback started here."""

import os
import time

import pytest
import requests

import harness as H

REDIS = H.REDIS
MEMCACHED = H.MEMCACHED


# the engines' starter lives in the harness (test_sessions_everywhere.py uses it too)
Engine = H.StoreEngine


def _need(path, what):
    if not os.access(path, os.X_OK):
        pytest.fail("%s not installed (%s): tools/deps installs it" % (what, path))


def _hosts(make, devauth, engine, count=2):
    """`count` started httpds (from `make`, an HttpdFactory) sharing `engine`."""
    if engine.kind == "redis":
        load = "LoadModule socache_redis_module %s/mod_socache_redis.so\n" \
               "RedisTimeout 2\n" % H.MODDIR
        spec = "socache:redis:127.0.0.1:%d" % engine.port
    else:
        load = "LoadModule socache_memcache_module %s/mod_socache_memcache.so\n" % H.MODDIR
        spec = "socache:memcache:127.0.0.1:%d" % engine.port
    conf = H.nsso_directives(devauth.auth_url, extra="NomisSSOSessionStore %s\n"
                             "NomisSSOInfoURI /nomis-sso/info" % spec)
    return [make(nsso_conf=load + conf) for _ in range(count)]


@pytest.fixture(params=["redis", "memcache"])
def store_engine(request):
    _need(REDIS if request.param == "redis" else MEMCACHED, request.param)
    engine = Engine(request.param).start()
    yield engine
    engine.stop()


@pytest.fixture
def cluster(store_engine, httpd_factory, devauth):
    """(engine, [httpd A, httpd B]); the httpds stop before the engine."""
    return store_engine, _hosts(httpd_factory, devauth, store_engine)


def _login(host, devauth):
    b = H.Browser(host, devauth)
    cb, page = b.login("/protected/env", "ALLOC_SPO")
    assert page.status_code == 200 and "REMOTE_USER=ALLOC_SPO" in page.text, \
        host.explain(page)
    return b


def _on(b, host, path="/protected/env"):
    """The same browser (cookie jar) asking another host."""
    return b.s.get(host.url(path), allow_redirects=False, timeout=15,
                   headers={"Accept": "text/html"})


def test_signed_in_on_a_is_signed_in_on_b(cluster, devauth):
    engine, (a, b_host) = cluster
    b = _login(a, devauth)
    before = devauth.stats()["grants"].get("authorization_code", 0)
    r = _on(b, b_host)
    assert r.status_code == 200 and "REMOTE_USER=ALLOC_SPO" in r.text, b_host.explain(r)
    assert devauth.stats()["grants"].get("authorization_code", 0) == before


def test_sign_out_on_a_ends_session_on_b(cluster, devauth):
    engine, (a, b_host) = cluster
    b = _login(a, devauth)
    sid = b.session_id()
    r = b.get("/nomis-sso/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 302, a.explain(r)
    b.set_session_cookie(sid)  # a second tab still holding the old cookie
    r = _on(b, b_host)
    assert r.status_code == 302 and "/oauth/authorize" in r.headers["Location"], \
        b_host.explain(r)


def test_redis_sees_no_ids_names_or_tokens(cluster, devauth):
    engine, (a, _) = cluster
    if engine.kind != "redis":
        pytest.skip("inspects redis contents")
    b = _login(a, devauth)
    sid = b.session_id()
    keys = engine.redis("KEYS", "*")
    assert keys, "nothing stored in redis"
    for k in keys:
        assert sid.encode() not in k and not k.startswith(b"s:"), k
        v = engine.redis("GET", k)
        assert v.count(b".") == 4, "value is not a compact JWE"
        assert b"ALLOC_SPO" not in v and b"Alloc Spo" not in v and sid.encode() not in v


def test_values_moved_between_keys_are_refused(cluster, devauth):
    engine, (a, b_host) = cluster
    if engine.kind != "redis":
        pytest.skip("rewrites redis contents")
    spo = _login(a, devauth)
    pom = H.Browser(a, devauth)
    pom.login("/protected/env", "ALLOC_POM")
    keys_before = set(engine.redis("KEYS", "*"))
    # an operator copies every value over every other key: no swap may
    # turn one user's cookie into another user's session
    values = {k: engine.redis("GET", k) for k in keys_before}
    ks = sorted(values)
    for i, k in enumerate(ks):
        engine.redis("SET", k, values[ks[(i + 1) % len(ks)]])
    for br, user in ((spo, "ALLOC_SPO"), (pom, "ALLOC_POM")):
        r = _on(br, b_host)
        assert r.status_code == 302, b_host.explain(r, "swapped value accepted for %s" % user)


def test_store_down_gives_503_and_recovers(cluster, devauth):
    engine, (a, b_host) = cluster
    b = _login(a, devauth)
    engine.stop()
    t0 = time.monotonic()
    r = _on(b, a)
    took = time.monotonic() - t0
    assert r.status_code == 503, a.explain(r, "expected 503 while the store is down")
    assert "temporarily unavailable" in r.text
    assert took < 10, "worker held %.1fs" % took
    assert "session store" in a.log_since(0)
    pub = requests.get(a.url("/public.html"), timeout=10)
    assert pub.status_code == 200
    # the engine comes back (empty): service resumes without restarting httpd.
    # httpd's redis/memcache clients mark an engine that failed as dead for
    # a few seconds and drop their broken pooled connections one by one, so
    # recovery takes a few seconds of sign-in attempts, no operator action.
    engine.start()  # same port, empty
    deadline = time.monotonic() + 30
    while True:
        try:
            b2 = _login(a, devauth)
            break
        except (AssertionError, H.HarnessError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    r = _on(b2, b_host)
    assert r.status_code == 200, b_host.explain(r)
