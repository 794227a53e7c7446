"""Issue 20: sessions survive a Redis primary failover, and the store follows
Sentinel. Real servers on 127.0.0.1 started here (redis_topology): a primary,
a replica and three sentinels, plain or TLS on every port; two httpd (event
MPM) sharing the store; 50 real sign-ins through devauth; wrk and a
timestamping prober (sessions and new sign-ins) during SENTINEL FAILOVER
and when the primary is killed; NomisSSOSessionStoreReplicas 1 against a
replica that lags. Then READONLY on a plain redis:// primary, a store name
that resolves slowly or not at all (a fake DNS server on loopback, httpd in
a mount namespace whose /etc/resolv.conf points at it), a store that is down
when httpd starts, and the sentinels themselves (two of three down, their
password wrong or missing).

The switch window of each failover run is printed and written to
tests/integration/artifacts/failover-<variant>.json."""

import concurrent.futures
import json
import os
import random
import re
import secrets
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest
import requests

import harness as H
import redis_topology as RT
import test_load as L

USERS = ("ALLOC_SPO", "ALLOC_POM", "ALLOC_ADMIN", "NO_ROLES_USER")
# the sign-ins made during and after a switch: a user of their own, for a
# member of staff keeps at most NSSO_INDEX_MAX (16) sessions and a 17th
# sign-in ends their oldest (issue 21), which would end USERS' sessions here
FRESH_USER = "DELIUS_SPO"
SESSIONS = 50
PAGE = "Service temporarily unavailable"
HEALTH = """
<Location /health>
    SetHandler nomis-sso-health
</Location>
"""
ARTIFACTS = os.path.join(H.HERE, "artifacts")
WINDOW_BOUND = 10.0   # asserted (seconds of non-200 answers around a failover)
WINDOW_AIM = 2.0      # the aim with the default timeouts (printed)
MPM = ("StartServers 2\nMinSpareThreads 25\nMaxSpareThreads 100\nThreadsPerChild 50\n"
       "MaxRequestWorkers 100\nServerLimit 4\n")

pytestmark = pytest.mark.skipif(L.WRK is None, reason="wrk is not installed")


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------
@pytest.fixture
def pki():
    RT.need(RT.REDIS, "redis-server")
    d = RT.pki_dir("nsso-failover-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def stops():
    """Register things to stop (topologies, redis, DNS servers, wrk) whatever
    the outcome; stopped last-first after the test's httpds."""
    things = []
    yield things.append
    for t in reversed(things):
        t.stop()


def _hosts(httpd_factory, conf, n=2, **kw):
    return [httpd_factory(nsso_extra=conf, extra=HEALTH, mpm="event", mpm_conf=MPM, **kw)
            for _ in range(n)]


# ---------------------------------------------------------------------------
# sessions
# ---------------------------------------------------------------------------
def _sign_in(host, devauth, user):
    b = H.Browser(host, devauth)
    _, page = b.login("/protected/env", user)
    assert page.status_code == 200, host.explain(page, "sign-in as %s" % user)
    assert H.cgi_env(page.text).get("REMOTE_USER") == user, host.explain(page)
    return user, b.session_id()


def sign_in_many(hosts, devauth, n=SESSIONS):
    """n real sign-ins, spread over the hosts and USERS, 8 at a time:
    [(user, session id)]."""
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        jobs = [pool.submit(_sign_in, hosts[i % len(hosts)], devauth, USERS[i % len(USERS)])
                for i in range(n)]
        return [j.result() for j in jobs]


def _get(host, sid, path="/protected/env", session=None, timeout=15):
    return (session or requests).get(
        host.url(path), allow_redirects=False, timeout=timeout,
        headers={"Cookie": "%s=%s" % (H.COOKIE, sid), "Accept": "text/html"})


def assert_all_valid(hosts, sessions):
    for host in hosts:
        for user, sid in sessions:
            r = _get(host, sid)
            assert r.status_code == 200 and H.cgi_env(r.text).get("REMOTE_USER") == user, \
                host.explain(r, "session of %s (%s...) on %d" % (user, sid[:6], host.port))


def assert_rate_limited(lines):
    """Error lines of less than a minute: at most one per child and kind
    (log number), not one per request."""
    seen = {}
    for line in lines:
        m = re.search(r"\[pid (\d+).*?(NSSO\d{4})", line)
        if m:
            seen.setdefault(m.groups(), []).append(line)
    many = {k: v for k, v in seen.items() if len(v) > 1}
    assert not many, "error lines repeated within a minute in one child:\n" + "\n".join(
        "%s %s x%d: %s" % (k[0], k[1], len(v), v[0]) for k, v in list(many.items())[:8])


def assert_store_down_page(host, r, what):
    assert r.status_code == 503 and PAGE in r.text, \
        host.explain(r, "expected the module's 503 page: %s" % what)


# ---------------------------------------------------------------------------
# load: wrk over both hosts, and a prober that timestamps every answer
# ---------------------------------------------------------------------------
# test_load's status-counting script, with each thread sent to one host
# (thread.addr) and every request carrying the next of the sessions' cookies
WRK_TAIL = r"""
function setup(thread)
    counter = counter + 1
    local h = HOSTS[(counter - 1) % #HOSTS + 1]
    thread.addr = wrk.lookup("127.0.0.1", tostring(h))[1]
    thread:set("tid", counter)
    thread:set("hostport", "127.0.0.1:" .. h)
    table.insert(threads, thread)
end

function request()
    n = n + 1
    return wrk.format("GET", PATH, {["Host"] = hostport, ["Accept"] = "text/html",
                      ["Cookie"] = COOKIE .. "=" .. SIDS[(n % #SIDS) + 1]})
end
"""


def start_wrk(hosts, sessions, seconds, path="/protected/page.html", connections=8):
    head = "HOSTS = {%s}\nSIDS = {%s}\nCOOKIE = %s\nPATH = %s\n" % (
        ", ".join(str(h.port) for h in hosts),
        ", ".join(L.lua_string(sid) for _, sid in sessions),
        L.lua_string(H.COOKIE), L.lua_string(path))
    script = hosts[0].write_extra_file("wrk-failover-%d.lua" % int(time.monotonic() * 1000),
                                       head + L.LUA + WRK_TAIL)
    cmd = [L.WRK, "-t%d" % (2 * len(hosts)), "-c%d" % connections, "-d%ds" % seconds,
           "--timeout", "10s", "-s", script, hosts[0].base]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)


class Prober:
    """Threads asking every host for /protected/env with the sessions in
    turn until stop() (or `limit` seconds): every answer timestamped when it
    came as (t, host port, status, user, location, module page, expected
    user); with devauth, a thread per host signing in anew too."""

    def __init__(self, hosts, sessions, per_host=2, limit=120, devauth=None):
        self.hosts, self.sessions = hosts, sessions
        self.limit = limit
        self.seen = []
        self.signins = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(h, i), daemon=True)
                        for h in hosts for i in range(per_host)]
        if devauth is not None:   # and one thread signing in anew on each host
            self.threads += [threading.Thread(target=self._sign_ins, args=(h, devauth),
                                              daemon=True) for h in hosts]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _run(self, host, offset):
        s = requests.Session()
        end = time.monotonic() + self.limit
        i = offset
        while not self.done.is_set() and time.monotonic() < end:
            user, sid = self.sessions[i % len(self.sessions)]
            i += 1
            try:
                r = _get(host, sid, session=s, timeout=10)
                t = time.monotonic()      # when the answer came
                row = (t, host.port, r.status_code, H.cgi_env(r.text).get("REMOTE_USER"),
                       r.headers.get("Location"), PAGE in r.text, user)
            except requests.RequestException as e:
                row = (time.monotonic(), host.port, 0, None, repr(e), False, user)
                s = requests.Session()
            with self.lock:
                self.seen.append(row)

    def _sign_ins(self, host, devauth):
        """New sign-ins (a write each): (t of the callback, port, status,
        module page, the page after it signed in as the user)."""
        end = time.monotonic() + self.limit
        while not self.done.is_set() and time.monotonic() < end:
            b = H.Browser(host, devauth)
            try:
                cb_url = b.authorize(b.begin("/protected/env"), FRESH_USER)
                cb = b.callback(cb_url, timeout=10)
                t = time.monotonic()
                ok = None
                if cb.status_code == 302:
                    page = b.get(cb.headers["Location"], timeout=10)
                    ok = page.status_code == 200 and \
                        H.cgi_env(page.text).get("REMOTE_USER") == FRESH_USER
                row = (t, host.port, cb.status_code, PAGE in cb.text, ok)
            except (requests.RequestException, H.HarnessError) as e:
                row = (time.monotonic(), host.port, 0, False, repr(e))
            with self.lock:
                self.signins.append(row)
            time.sleep(0.05)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(15)

    def bad_signins(self):
        """Sign-ins whose callback was not a 302 to a page that shows the user."""
        return [r for r in self.signins if r[2] != 302 or r[4] is not True]

    def bad(self):
        """Answers that are not a 200 for the right user."""
        return [r for r in self.seen if r[2] != 200 or r[3] != r[6]]


def window_of(bad):
    if not bad:
        return 0.0, None, None
    first, last = min(r[0] for r in bad), max(r[0] for r in bad)
    return last - first, first, last


def save_result(name, doc):
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, "%s.json" % name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
    return path


# ---------------------------------------------------------------------------
# a. SENTINEL FAILOVER under load
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("tls, how", [(False, "failover"), (True, "failover"),
                                      (False, "killed")], ids=["plain", "tls", "killed"])
def test_sessions_survive_sentinel_failover(tls, how, pki, stops, devauth, httpd_factory):
    """SENTINEL FAILOVER (plain, TLS on every port), and the primary killed
    (SIGKILL: the sentinels fail over once it is down for 1 s)."""
    topo = RT.Topology(pki, tls=tls, sentinel_password=RT.SENTINEL_SECRET if tls else None)
    stops(topo)
    topo.start()
    hosts = _hosts(httpd_factory, topo.store_conf())
    t0 = time.monotonic()
    sessions = sign_in_many(hosts, devauth)
    signed_in = time.monotonic() - t0
    assert_all_valid(hosts, sessions)

    load_seconds = 14
    wrk = start_wrk(hosts, sessions, load_seconds)
    prober = Prober(hosts, sessions, devauth=devauth).start()
    try:
        time.sleep(2.0)                    # the steady state before the switch
        fo_start = time.monotonic()
        old, new, took = topo.failover() if how == "failover" else topo.kill_primary()
        fo_done = time.monotonic()
        # load goes on until wrk ends, and the prober at least 4 s more
        time.sleep(max(4.0, load_seconds - (time.monotonic() - fo_start) - 1.0))
    finally:
        prober.stop()
        out, _ = wrk.communicate(timeout=load_seconds + 60)
    res = L.WrkResult(out)

    bad = prober.bad()
    bad_in = prober.bad_signins()
    window, first, last = window_of(bad + bad_in)
    statuses = {}
    for r in prober.seen:
        statuses[r[2]] = statuses.get(r[2], 0) + 1
    variant = "killed" if how == "killed" else "tls" if tls else "plain"
    doc = {"variant": variant, "sessions": len(sessions), "sign_in_seconds": round(signed_in, 2),
           "failover": {"old": old, "new": new, "sentinels_switched_s": round(took, 3)},
           "window_s": round(window, 3),
           "first_non200_after_failover_s": round(first - fo_start, 3) if bad else None,
           "last_non200_after_sentinels_switched_s": round(last - fo_done, 3) if bad else None,
           "prober_statuses": statuses, "prober_answers": len(prober.seen),
           "sign_ins": len(prober.signins), "sign_ins_failed": len(bad_in),
           "wrk_statuses": res.statuses, "wrk_errors": res.errors, "wrk_total": res.total,
           "aim_s": WINDOW_AIM, "bound_s": WINDOW_BOUND}
    path = save_result("failover-%s" % variant, doc)
    print("\n[failover %s] switch window %.3f s (aim <= %.1f s, bound %.0f s); sentinels "
          "switched in %.2f s; prober %s; sign-ins %d (%d not completed); wrk %s; -> %s"
          % (variant, window, WINDOW_AIM, WINDOW_BOUND, took, statuses, len(prober.signins),
             len(bad_in), res.statuses, path))

    # never a sign-in redirect, never a 401, never another user, at any time
    assert not [r for r in prober.seen if r[2] in (302, 401)], bad[:10]
    assert res.statuses and not set(res.statuses) - {200, 503}, out
    assert not [r for r in prober.seen if r[2] == 200 and r[3] != r[6]], bad[:10]
    # what is not a 200 is the module's 503 page, and only once the switch began
    assert all(r[2] == 503 and r[5] for r in bad), bad[:10]
    assert all(r[0] >= fo_start for r in bad), "non-200 before the failover: %s" % bad[:5]
    # a sign-in during the switch: completed, or the module's 503 page
    assert all(r[2] in (302, 503) for r in prober.signins), bad_in[:10]
    assert all(r[3] for r in prober.signins if r[2] == 503), bad_in[:10]
    assert all(r[0] >= fo_start for r in bad_in), "failed sign-in before the failover: %s" \
        % bad_in[:5]
    assert len(prober.signins) - len(bad_in) >= 10, "too few sign-ins completed: %s" % doc
    assert window < WINDOW_BOUND, "switch window %.2f s: %s" % (window, doc)
    ok_after = [r for r in prober.seen if r[0] > (last or fo_done) and r[2] == 200]
    assert len(ok_after) >= 10, "no steady 200s after the switch: %s" % doc
    # and every session is still valid on both servers; new ones are written
    # to the new primary at the first try
    assert topo.master().port == new
    assert_all_valid(hosts, sessions)
    before = int(topo.node(new).cmd("DBSIZE"))
    fresh = [_sign_in(h, devauth, FRESH_USER) for h in hosts for _ in range(2)]
    assert int(topo.node(new).cmd("DBSIZE")) >= before + len(fresh)
    assert_all_valid(hosts, fresh)
    # the old primary gone: nothing was being read from it
    topo.node(old).stop()   # (already, when it was killed)
    assert_all_valid(hosts, sessions + fresh)
    for h in hosts:
        assert h.running(), h.log_tail()


# ---------------------------------------------------------------------------
# b. NomisSSOSessionStoreReplicas 1: a fresh sign-in survives at once
# ---------------------------------------------------------------------------
def test_acknowledged_sign_in_survives_immediate_failover(pki, stops, devauth, httpd_factory):
    """The replica lags the primary by 0.6 s (it replicates through a
    delaying relay): without WAIT a session written just before the failover
    is not on the replica the sentinels promote (test_redis_topology shows
    such a write lost)."""
    topo = RT.Topology(pki, replica_delay=0.6)
    stops(topo)
    topo.start()
    hosts = _hosts(httpd_factory, topo.store_conf(["NomisSSOSessionStoreReplicas 1"]))
    replica = topo.replica()
    b = H.Browser(hosts[0], devauth)
    cb_url = b.authorize(b.begin("/protected/env"), "ALLOC_POM")
    t0 = time.monotonic()
    cb = b.callback(cb_url)
    took = time.monotonic() - t0
    assert cb.status_code == 302 and b.session_id(), hosts[0].explain(cb)
    old, new, _ = topo.failover()          # no pause between the cookie and this
    on_replica = int(replica.cmd("DBSIZE"))
    print("\n[replicas 1] callback took %.3f s; keys on the promoted replica: %d"
          % (took, on_replica))
    assert new == replica.port
    assert_all_valid(hosts, [("ALLOC_POM", b.session_id())])


# ---------------------------------------------------------------------------
# c. READONLY: the configured primary of a plain redis:// turned replica
# ---------------------------------------------------------------------------
def test_readonly_primary_gives_503_and_recovers(pki, stops, devauth, httpd_factory):
    redis = RT.Redis(pki, tls=False)
    stops(redis)
    redis.start()
    hosts = _hosts(httpd_factory, RT.store_conf(pki, redis))
    sessions = sign_in_many(hosts, devauth, 8)
    marks = [h.log_mark() for h in hosts]
    wrk = start_wrk(hosts, sessions, 12)
    try:
        time.sleep(1.0)
        assert redis.cmd("REPLICAOF", "127.0.0.1", str(H.closed_port())) == b"OK"
        assert redis.cmd("SET", "probe", "1").startswith(b"READONLY")
        time.sleep(0.5)
        # existing sessions: never a sign-in redirect (200 from the data kept, or 503)
        for host in hosts:
            for user, sid in sessions:
                r = _get(host, sid)
                assert r.status_code in (200, 503), host.explain(r, "existing session")
                if r.status_code == 200:
                    assert H.cgi_env(r.text).get("REMOTE_USER") == user
                else:
                    assert_store_down_page(host, r, "existing session, READONLY")
        # what needs a write: a new sign-in's callback, a sign-out (the
        # sign-outs' answers are judged at the end, after the other checks)
        signouts = []
        for host in hosts:
            b = H.Browser(host, devauth)
            cb = b.callback(b.authorize(b.begin("/protected/env"), "ALLOC_SPO"))
            assert_store_down_page(host, cb, "sign-in callback, READONLY")
            user, sid = sessions[hosts.index(host)]
            r = requests.get(host.url("/nomis-sso/logout"), allow_redirects=False, timeout=15,
                             headers={"Cookie": "%s=%s" % (H.COOKIE, sid),
                                      "Accept": "text/html", "Sec-Fetch-Site": "same-origin"})
            signouts.append((host, r))
        logs = "".join(h.log_since(m) for h, m in zip(hosts, marks))
        # made primary again: traffic recovers by itself
        redis.cmd("REPLICAOF", "NO", "ONE")
        t0 = time.monotonic()
        deadline = t0 + 20
        while True:
            try:
                fresh = [_sign_in(h, devauth, "ALLOC_ADMIN") for h in hosts]
                break
            except (AssertionError, H.HarnessError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        print("\n[readonly] sign-ins work again %.2f s after REPLICAOF NO ONE"
              % (time.monotonic() - t0))
    finally:
        out, _ = wrk.communicate(timeout=60)
    res = L.WrkResult(out)
    print("[readonly] wrk %s" % res.statuses)
    assert res.statuses and not set(res.statuses) - {200, 503}, out
    for h in hosts:
        assert h.running(), h.log_tail()
    for host, r in signouts:
        assert_store_down_page(host, r, "sign-out, READONLY")
    errors = [line for line in logs.splitlines() if ":error]" in line]
    assert any("READONLY" in line for line in errors), "\n".join(errors[:20])
    assert_rate_limited(errors)
    assert_all_valid(hosts, sessions + fresh)


# ---------------------------------------------------------------------------
# d. a store name that resolves slowly or not at all
# ---------------------------------------------------------------------------
class FakeDNS:
    """A DNS server on 127.0.0.<n>:53 (UDP and TCP) that never answers names
    starting with 'slow.' and answers NXDOMAIN to every other; it counts the
    queries it saw (name -> count)."""

    def __init__(self):
        self.queries = {}
        for attempt in range(20):   # an address another test took: the next
            self.ip = "127.0.0.%d" % random.randint(2, 254)
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.udp.bind((self.ip, 53))
                self.tcp.bind((self.ip, 53))
                break
            except OSError:
                self.udp.close()
                self.tcp.close()
                if attempt == 19:
                    raise
        self.tcp.listen(16)
        self.stopping = False
        threading.Thread(target=self._serve_udp, daemon=True).start()
        threading.Thread(target=self._serve_tcp, daemon=True).start()

    @staticmethod
    def _qname(msg):
        labels, i = [], 12
        while i < len(msg) and msg[i]:
            labels.append(msg[i + 1:i + 1 + msg[i]].decode("ascii", "replace"))
            i += 1 + msg[i]
        return ".".join(labels).lower(), i + 5   # the name, the end of the question

    def _answer(self, msg):
        if len(msg) < 17:
            return None
        name, qend = self._qname(msg)
        self.queries[name] = self.queries.get(name, 0) + 1
        if name.startswith("slow."):
            return None
        flags = 0x8000 | (struct.unpack("!H", msg[2:4])[0] & 0x7900) | 0x0080 | 3
        return msg[:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0) + msg[12:qend]

    def _serve_udp(self):
        while not self.stopping:
            try:
                msg, peer = self.udp.recvfrom(4096)
                out = self._answer(msg)
                if out:
                    self.udp.sendto(out, peer)
            except OSError:
                return

    def _serve_tcp(self):
        while not self.stopping:
            try:
                c, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_one, args=(c,), daemon=True).start()

    def _tcp_one(self, c):
        with c:
            try:
                c.settimeout(60)
                n = struct.unpack("!H", c.recv(2))[0]
                out = self._answer(c.recv(n))
                if out:
                    c.sendall(struct.pack("!H", len(out)) + out)
                else:
                    c.recv(1)              # hold the connection: never answer
            except (OSError, struct.error):
                pass

    def resolv_conf(self, d):
        """A resolv.conf naming only this server, with the resolver's own
        timeouts at their longest: only the module's deadline ends a lookup."""
        return H.write_file(os.path.join(d, "resolv.conf"),
                            "nameserver %s\noptions timeout:30 attempts:5\n" % self.ip)

    def stop(self):
        self.stopping = True
        for s in (self.udp, self.tcp):
            s.close()


@pytest.fixture
def fake_dns(stops):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare (a private mount namespace for resolv.conf)")
    dns = FakeDNS()
    stops(dns)
    d = H.make_tree("nsso-dns-")
    yield dns, H.private_resolv_conf(dns.resolv_conf(d))
    shutil.rmtree(d, ignore_errors=True)


def _timed(host, sid):
    t0 = time.monotonic()
    r = _get(host, sid, timeout=60)
    return r, time.monotonic() - t0


@pytest.mark.parametrize("name, bound", [("slow.nsso.test", 1.5), ("nx.nsso.test", 0.5)],
                         ids=["no-answer", "nxdomain"])
def test_store_name_that_does_not_resolve(name, bound, fake_dns, httpd_factory):
    dns, wrapper = fake_dns
    conf = "NomisSSOSessionStore redis://%s:6379\nNomisSSOSessionStoreTimeout 500ms\n" \
           "NomisSSOInfoURI /nomis-sso/info" % name
    t0 = time.monotonic()
    host = httpd_factory(nsso_extra=conf, extra=HEALTH, wrapper=wrapper)
    started = time.monotonic() - t0
    assert dns.queries.get(name), "httpd did not ask the fake DNS server: %s" % dns.queries
    log = host.log_since(0)
    assert len([line for line in log.splitlines() if "NomisSSOSessionStore" in line]) == 1, log
    sid = secrets.token_urlsafe(32)
    for _ in range(3):
        r, took = _timed(host, sid)
        print("\n[dns %s] 503 in %.3f s (httpd started in %.2f s)" % (name, took, started))
        assert_store_down_page(host, r, "session cookie, store name %s" % name)
        assert took < bound, "answered after %.2f s (bound %.1f s)" % (took, bound)
    r = requests.get(host.url("/health"), timeout=15)
    assert r.status_code == 503 and \
        r.json()["components"]["sessionStore"]["status"] == "DOWN", host.explain(r)


# ---------------------------------------------------------------------------
# e. the store down when httpd starts
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["redis", "sentinel"])
def test_store_down_at_start_then_up(kind, pki, stops, devauth, httpd_factory):
    """Nothing listening at start (a redis:// node, or the whole group of a
    redis-sentinel:// store), then started: service resumes, no restart."""
    if kind == "redis":
        redis = RT.Redis(pki, tls=False)   # its port reserved, not started yet
        conf, names = RT.store_conf(pki, redis), "127.0.0.1:%d" % redis.port
    else:
        redis = RT.Topology(pki)
        conf, names = redis.store_conf(), redis.name
    stops(redis)
    host = httpd_factory(nsso_extra=conf, extra=HEALTH)
    log = host.log_since(0)
    named = [line for line in log.splitlines() if "NomisSSOSessionStore" in line]
    assert len(named) == 1, log
    assert names in named[0], named[0]
    for _ in range(2):   # a fresh probe in each child (their answers are cached for 5 s)
        r = requests.get(host.url("/health"), timeout=15)
        assert r.status_code == 503, "/health said %s: %s" % (r.status_code, r.text)
        time.sleep(5.5)
    assert r.json()["components"]["sessionStore"]["status"] == "DOWN", r.text
    b = H.Browser(host, devauth)
    cb = b.callback(b.authorize(b.begin("/protected/env"), "ALLOC_SPO"))
    assert_store_down_page(host, cb, "sign-in with the store down")
    redis.start()
    t0 = time.monotonic()
    deadline = t0 + 20
    while True:
        try:
            user, sid = _sign_in(host, devauth, "ALLOC_SPO")
            break
        except (AssertionError, H.HarnessError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    print("\n[start-up] signed in %.2f s after the store started" % (time.monotonic() - t0))
    assert_all_valid([host], [(user, sid)])
    deadline = time.monotonic() + 15   # /health caches its answer for 5 s
    while True:
        r = requests.get(host.url("/health"), timeout=15)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r.status_code == 200 and \
        r.json()["components"]["sessionStore"]["status"] == "UP", host.explain(r)


# ---------------------------------------------------------------------------
# f. the sentinels themselves: two of three down, and their password
# ---------------------------------------------------------------------------
def test_one_sentinel_of_three_is_enough(pki, stops, devauth, httpd_factory):
    topo = RT.Topology(pki)
    stops(topo)
    topo.start()
    topo.sentinels[0].stop()
    topo.sentinels[1].stop()
    hosts = _hosts(httpd_factory, topo.store_conf())
    sessions = sign_in_many(hosts, devauth, 4)
    assert_all_valid(hosts, sessions)


@pytest.mark.parametrize("given", ["wrong", "none"])
def test_sentinel_password_refused(given, pki, stops, devauth, httpd_factory):
    """Sentinels that want a password, given a wrong one or none: a sign-in
    is the module's 503 page and the log names the directive, once per
    child, without the password."""
    topo = RT.Topology(pki, sentinel_password=RT.SENTINEL_SECRET)
    stops(topo)
    topo.start()
    good = httpd_factory(nsso_extra=topo.store_conf())
    sessions = sign_in_many([good], devauth, 2)
    if given == "wrong":
        topo.sentinel_password = "not-" + RT.SENTINEL_SECRET
        conf, directive = topo.store_conf(), "NomisSSOSessionStoreSentinelPassword"
    else:
        topo.sentinel_password = None
        conf, directive = topo.store_conf(), "NomisSSOSessionStore"
    host = httpd_factory(nsso_extra=conf, extra=HEALTH)
    mark = host.log_mark()
    for _ in range(4):
        b = H.Browser(host, devauth)
        cb = b.callback(b.authorize(b.begin("/protected/env"), "ALLOC_SPO"))
        assert_store_down_page(host, cb, "sign-in, sentinel password %s" % given)
        for user, sid in sessions:   # a session the store holds is not absent
            assert_store_down_page(host, _get(host, sid), "session, sentinel password %s"
                                   % given)
    log = host.log_since(mark)
    lines = [line for line in log.splitlines() if directive in line and ":error]" in line]
    pids = [re.search(r"\[pid (\d+)", line).group(1) for line in lines]
    assert lines and len(pids) == len(set(pids)), log[-3000:]
    assert RT.SENTINEL_SECRET not in host.log_since(0)
    for _ in range(2):   # a fresh probe in each child (their answers are cached for 5 s)
        r = requests.get(host.url("/health"), timeout=15)
        assert r.status_code == 503, "/health said %s: %s" % (r.status_code, r.text)
        time.sleep(5.5)
