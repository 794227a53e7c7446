"""SetHandler nomis-sso-health: the HMPPS health shape, 200 UP / 503 DOWN
with HMPPS Auth (devauth) up or killed and the session store up or down,
and a per-child cache that keeps a burst of probes from hammering HMPPS Auth."""
import time

import requests

import harness as H
import test_shared_store as SS

HEALTH = """
<Location /health>
    SetHandler nomis-sso-health
</Location>
"""


def _health(h):
    return requests.get(h.url("/health"), timeout=15)


def _pings(devauth):
    return devauth.stats()["requests"].get("ping", 0)


def test_health_up(httpd_factory):
    h = httpd_factory(extra=HEALTH)
    r = _health(h)
    assert r.status_code == 200, h.explain(r)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers.get("Cache-Control") == "no-store"
    doc = r.json()
    assert doc["status"] == "UP"
    auth, store = doc["components"]["hmppsAuth"], doc["components"]["sessionStore"]
    assert auth["status"] == "UP" and auth["details"]["httpStatus"] == 200
    assert auth["details"]["latencyMs"] >= 0
    assert store["status"] == "UP" and store["details"]["type"] == "shm"
    assert store["details"]["capacity"] > 0 and "live" in store["details"]
    head = requests.head(h.url("/health"), timeout=15)
    assert head.status_code == 200 and not head.content
    post = requests.post(h.url("/health"), timeout=15)
    assert post.status_code == 405


def test_health_down_when_auth_killed_and_back(private_devauth, httpd_factory):
    h = httpd_factory(auth_url=private_devauth.auth_url, extra=HEALTH, mpm="prefork",
                      mpm_conf="StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\n"
                               "MaxRequestWorkers 1\nServerLimit 1\n")
    assert _health(h).json()["status"] == "UP"
    private_devauth.stop()
    time.sleep(H_CACHE + 0.5)  # the cached UP runs out
    r = _health(h)
    assert r.status_code == 503, h.explain(r)
    doc = r.json()
    assert doc["status"] == "DOWN"
    assert doc["components"]["hmppsAuth"]["status"] == "DOWN"
    assert doc["components"]["hmppsAuth"]["details"]["error"]
    assert doc["components"]["sessionStore"]["status"] == "UP"
    assert "NSSO1500" in h.log_since(0)
    # the DOWN is cached too, then the next probe sees HMPPS Auth again
    private_devauth.start()
    assert _health(h).status_code == 503
    time.sleep(H_CACHE + 0.5)
    r = _health(h)
    assert r.status_code == 200 and r.json()["status"] == "UP", h.explain(r)


H_CACHE = 5  # NSSO_HEALTH_CACHE_SECONDS


def test_rapid_probes_ping_auth_once_per_child(devauth, httpd_factory):
    # one child: every probe meets the same cache
    h = httpd_factory(extra=HEALTH, mpm="prefork",
                      mpm_conf="StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\n"
                               "MaxRequestWorkers 1\nServerLimit 1\n")
    before = _pings(devauth)
    for _ in range(20):
        assert _health(h).status_code == 200
    assert _pings(devauth) - before == 1


def test_rapid_probes_event_mpm_at_most_two(devauth, httpd_factory):
    h = httpd_factory(extra=HEALTH)  # event MPM, two children
    before = _pings(devauth)
    for _ in range(20):
        assert _health(h).status_code == 200
    assert 1 <= _pings(devauth) - before <= 2


def test_health_down_when_store_down(devauth):
    SS._need(SS.REDIS, "redis")
    engine = SS.Engine("redis").start()
    h = None
    try:
        load = "LoadModule socache_redis_module %s/mod_socache_redis.so\nRedisTimeout 2\n" \
               % H.MODDIR
        conf = H.nsso_directives(devauth.auth_url, extra="NomisSSOSessionStore "
                                 "socache:redis:127.0.0.1:%d" % engine.port)
        h = H.Httpd(devauth.auth_url, nsso_conf=load + conf, extra=HEALTH, mpm="prefork",
                    mpm_conf="StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\n"
                             "MaxRequestWorkers 1\nServerLimit 1\n")
        h.start()
        r = _health(h)
        assert r.status_code == 200, h.explain(r)
        assert r.json()["components"]["sessionStore"]["details"]["type"] == "socache"
        engine.stop()
        time.sleep(H_CACHE + 0.5)
        r = _health(h)
        assert r.status_code == 503, h.explain(r)
        doc = r.json()
        assert doc["status"] == "DOWN"
        assert doc["components"]["sessionStore"]["status"] == "DOWN"
        assert doc["components"]["sessionStore"]["details"]["error"]
        assert doc["components"]["hmppsAuth"]["status"] == "UP"
        assert "NSSO1502" in h.log_since(0)
    finally:
        if h:
            h.cleanup()
        engine.stop()

