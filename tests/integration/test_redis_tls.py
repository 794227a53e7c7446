"""Sessions in Redis through the module's own client (NomisSSOSessionStore
redis:// and rediss://), against Debian's real redis-server started here the
way a managed Redis (ElastiCache) runs: TLS only (--port 0 --tls-port), a
private CA made by the test, an ACL user with a password and the default
user off. Plain redis:// (password from env:, a database number) too."""

import os
import re
import shutil
import subprocess
import threading
import time

import pytest
import requests

import harness as H
import redis_topology as RT

WRK = shutil.which("wrk")
USER, SECRET = RT.USER, RT.SECRET
Redis = RT.Redis
_store_conf = RT.store_conf


@pytest.fixture
def pki():
    RT.need(RT.REDIS, "redis-server")
    d = RT.pki_dir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def started(request):
    """Register things to stop (httpd hosts, redis) whatever the outcome."""
    things = []
    yield things.append
    for t in reversed(things):
        (t.cleanup if hasattr(t, "cleanup") else t.stop)()


def _store_conf(d, redis, password=SECRET, url=None, ca=True):
    pw = H.write_file(os.path.join(d, "redis-password-%d" % redis.port), password + "\n", 0o600)
    url = url or "%s://%s@127.0.0.1:%d/0" % ("rediss" if redis.tls else "redis", USER,
                                            redis.port)
    lines = ["NomisSSOSessionStore %s" % url, "NomisSSOSessionStorePassword file:%s" % pw]
    if redis.tls and ca:
        lines.append("NomisSSOSessionStoreCACertificateFile %s/ca.pem" % d)
    lines.append("NomisSSOInfoURI /nomis-sso/info")
    return "\n".join(lines)


def _host(devauth, extra, started, **kw):
    h = H.Httpd(devauth.auth_url, nsso_conf=H.nsso_directives(devauth.auth_url, extra=extra),
                **kw)
    started(h)
    return h.start()


def _login(host, devauth):
    b = H.Browser(host, devauth)
    _, page = b.login("/protected/env", "ALLOC_SPO")
    assert page.status_code == 200 and "REMOTE_USER=ALLOC_SPO" in page.text, host.explain(page)
    return b


def _on(b, host, path="/protected/env"):
    return b.s.get(host.url(path), allow_redirects=False, timeout=15,
                   headers={"Accept": "text/html"})


def _one_line_per_child(log, directive):
    """The failure is one line naming the directive, once a minute per child
    (not once per request): the lines naming it, checked."""
    lines = [l for l in log.splitlines() if directive in l]
    pids = [re.search(r"\[pid (\d+)", l).group(1) for l in lines]
    assert lines and len(pids) == len(set(pids)), log
    return lines


def _refused_sign_in(host, devauth):
    """A sign-in whose callback cannot store the session: 503."""
    b = H.Browser(host, devauth)
    cb = b.callback(b.authorize(b.begin("/protected/env")))
    assert cb.status_code == 503, host.explain(cb, "expected 503: the store is unusable")
    return cb


def test_two_hosts_share_sessions_over_tls(pki, started, devauth):
    redis = Redis(pki).start()
    started(redis)
    conf = _store_conf(pki, redis)
    a = _host(devauth, conf, started)
    b_host = _host(devauth, conf, started, mpm="prefork")
    b = _login(a, devauth)
    before = devauth.stats()["grants"].get("authorization_code", 0)
    r = _on(b, b_host)
    assert r.status_code == 200 and "REMOTE_USER=ALLOC_SPO" in r.text, b_host.explain(r)
    assert devauth.stats()["grants"].get("authorization_code", 0) == before
    # what Redis holds: HMAC'd keys, sealed values (the socache store's format)
    keys = redis.cmd("KEYS", "*")
    assert keys and all(len(k) == 43 and not k.startswith(b"s:") for k in keys), keys
    sid = b.session_id().encode()
    for k in keys:
        v = redis.cmd("GET", k)
        assert v.count(b".") == 4 and sid not in v and b"ALLOC_SPO" not in v
        assert 0 < int(redis.cmd("PTTL", k)) <= 12 * 3600 * 1000
    # sign-out on B ends the session on A
    r = b.s.get(b_host.url("/nomis-sso/logout"), allow_redirects=False, timeout=15,
                headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 302, b_host.explain(r)
    b.set_session_cookie(sid.decode())
    r = _on(b, a)
    assert r.status_code == 302 and "/oauth/authorize" in r.headers["Location"], a.explain(r)


def test_plain_redis_with_env_password_and_database(pki, started, devauth):
    redis = Redis(pki, tls=False).start()
    started(redis)
    extra = "NomisSSOSessionStore redis://%s@127.0.0.1:%d/3\n" \
            "NomisSSOSessionStorePassword env:NSSO_TEST_REDIS_PW" % (USER, redis.port)
    a = _host(devauth, extra, started, env={"NSSO_TEST_REDIS_PW": SECRET})
    b = _login(a, devauth)
    assert _on(b, a).status_code == 200
    assert int(redis.cmd("DBSIZE", db=3)) >= 1
    assert int(redis.cmd("DBSIZE", db=0)) == 0


def test_certificate_for_another_host_is_refused(pki, started, devauth):
    redis = Redis(pki, cert="other").start()
    started(redis)
    a = _host(devauth, _store_conf(pki, redis), started)
    for _ in range(4):
        _refused_sign_in(a, devauth)
    log = a.log_since(0)
    lines = _one_line_per_child(log, "NomisSSOSessionStoreCACertificateFile")
    assert "certificate" in lines[0] and "127.0.0.1:%d" % redis.port in lines[0], lines[0]
    assert SECRET not in log


def test_unknown_ca_is_refused(pki, started, devauth):
    """Without NomisSSOSessionStoreCACertificateFile the system CAs are used:
    a private CA's certificate does not verify."""
    redis = Redis(pki).start()
    started(redis)
    a = _host(devauth, _store_conf(pki, redis, ca=False), started)
    _refused_sign_in(a, devauth)
    assert "NomisSSOSessionStoreCACertificateFile" in a.log_since(0)


def test_wrong_password_is_refused(pki, started, devauth):
    redis = Redis(pki).start()
    started(redis)
    a = _host(devauth, _store_conf(pki, redis, password="not-" + SECRET), started)
    for _ in range(4):
        _refused_sign_in(a, devauth)
    log = a.log_since(0)
    lines = _one_line_per_child(log, "NomisSSOSessionStorePassword")
    assert "WRONGPASS" in lines[0], lines[0]
    assert "not-" + SECRET not in log


def test_client_certificate(pki, started, devauth):
    """A Redis that wants a client certificate: given one, sessions work;
    without, the log names NomisSSOSessionStoreCertificateFile."""
    redis = Redis(pki, client_certs=True).start()
    started(redis)
    conf = _store_conf(pki, redis)
    a = _host(devauth, conf + "\nNomisSSOSessionStoreCertificateFile %s/client.pem\n"
              "NomisSSOSessionStoreCertificateKeyFile %s/client.key" % (pki, pki), started)
    b = _login(a, devauth)
    assert _on(b, a).status_code == 200
    assert redis.cmd("DBSIZE") != b"0"
    without = _host(devauth, conf, started)
    _refused_sign_in(without, devauth)
    lines = _one_line_per_child(without.log_since(0), "NomisSSOSessionStoreCertificateFile")
    assert "certificate" in lines[0], lines[0]


@pytest.mark.parametrize("line, says", [
    ("NomisSSOSessionStore redis://127.0.0.1:99999", "port"),
    ("NomisSSOSessionStore rediss://h/x", "database"),
    ("NomisSSOSessionStorePassword %s" % SECRET, "env:NAME or file:"),
    ("NomisSSOSessionStoreCACertificateFile /nonexistent/ca.pem", "not a readable file"),
])
def test_configuration_errors_name_the_directive(line, says, started, devauth):
    h = H.Httpd(devauth.auth_url, nsso_conf=H.nsso_directives(devauth.auth_url, extra=line))
    started(h)
    rc, out = h.config_test()
    assert rc != 0 and line.split()[0] in out and says in out, out
    assert SECRET not in out


def test_user_without_password_does_not_start(started, devauth):
    h = H.Httpd(devauth.auth_url, nsso_conf=H.nsso_directives(
        devauth.auth_url, extra="NomisSSOSessionStore redis://app@127.0.0.1:%d" % H.free_port()))
    started(h)
    with pytest.raises(H.HarnessError):
        h.start(attempts=1)
    assert "a Redis user needs a password (NomisSSOSessionStorePassword)" in h.log_tail(50)


def _probe_until_200(b, host, since, stop, out):
    """Time of the first 200 on the signed-in page at or after `since`."""
    while not stop.is_set():
        try:
            r = _on(b, host)
            if r.status_code == 200 and time.monotonic() >= since[0]:
                out.append(time.monotonic())
                return
        except requests.RequestException:
            pass
        time.sleep(0.01)


@pytest.mark.skipif(WRK is None, reason="wrk is not installed")
def test_redis_restarted_under_load_recovers_within_a_second(pki, started, devauth):
    redis = Redis(pki).start()
    started(redis)
    a = _host(devauth, _store_conf(pki, redis), started)
    b = _login(a, devauth)
    cookie = "%s=%s" % (H.COOKIE, b.session_id())
    wrk = subprocess.Popen([WRK, "-t2", "-c16", "-d8s", "-H", "Cookie: " + cookie,
                            "-H", "Accept: text/html", a.url("/protected/page.html")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(1.5)
        redis.stop()                   # saves its data, as a managed Redis keeps it
        time.sleep(0.5)
        r = _on(b, a)
        assert r.status_code == 503, a.explain(r, "expected 503 while Redis is down")
        time.sleep(1.0)
        since = [float("inf")]
        found, stop = [], threading.Event()
        probe = threading.Thread(target=_probe_until_200, args=(b, a, since, stop, found))
        probe.start()
        redis.start()                  # returns once its TLS port accepts connections
        since[0] = time.monotonic()
        probe.join(10)
        stop.set()
        assert found, a.explain(None, "no 200 within 10 s of Redis's return")
        took = found[0] - since[0]
        H.debug("first 200 %.3f s after Redis returned" % took)
        assert took < 3.0, "first 200 only %.2f s after Redis returned" % took
    finally:
        out, _ = wrk.communicate(timeout=30)
    assert "Requests/sec" in out, out
    r = _on(b, a)
    assert r.status_code == 200, a.explain(r)
