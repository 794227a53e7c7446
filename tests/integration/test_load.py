"""Load and restart (issue 6, "Load and restart").

* wrk, 2 threads and 64 connections, over a protected page with a valid
  session cookie while the test gracefully restarts httpd three times: every
  response must be a 200 (no 302 back to sign-in, no 4xx/5xx; counted by a
  wrk Lua script as well as wrk's "Non-2xx or 3xx" line) and the session is
  still valid afterwards. Run once without keep-alive (zero socket errors
  too) for the issue's 60 s, and once with keep-alive for half as long (see
  the test). NSSO_LOAD_SECONDS=N shortens it for a quick local run.

* Memory: a single prefork child (MaxRequestWorkers 1) serves a mix of
  session requests, valid bearer tokens (cached verification), expired and
  badly signed bearer tokens (full cjose/jansson verification each time),
  tokens with unknown key ids (JWKS refetches through curl), requests that
  start a sign-in (state JWE) and broken callbacks, while sign-ins run beside
  it (curl token exchange and caseload lookup). Its anonymous memory
  (RssAnon: the shared session store's pages are excluded) is sampled after
  a warm-up and after the issue's million requests (wrk runs again until
  the count is reached); growth must stay under 2 MB.
  NSSO_MEMORY_REQUESTS=N asks for fewer for a quick local run.

Needs wrk (apt-get install wrk); skipped without it.
"""

import os
import re
import shutil
import subprocess
import threading
import time

import pytest
import requests

import harness as H

WRK = shutil.which("wrk")
LOAD_SECONDS = int(os.environ.get("NSSO_LOAD_SECONDS") or 60)
MEMORY_REQUESTS = int(os.environ.get("NSSO_MEMORY_REQUESTS") or 1000000)
RSS_GROWTH_LIMIT_KB = 2048
CRASH_MARKS = ("Segmentation fault", "exit signal", "AH00052", "double free",
               "AddressSanitizer", "core dumped")

pytestmark = pytest.mark.skipif(WRK is None, reason="wrk is not installed")

# Counts every status per thread and prints "STATUS <code> <n>" at the end;
# REQUESTS (when set) is a list of {method, path, headers} sent in turn.
LUA = r"""
local threads = {}
local counter = 0
local built = {}

function setup(thread)
    counter = counter + 1
    thread:set("tid", counter)
    table.insert(threads, thread)
end

function init(args)
    statuses = {}
    if REQUESTS then
        for _, r in ipairs(REQUESTS) do
            table.insert(built, wrk.format(r[1], r[2], r[3]))
        end
    end
    n = tid
end

if REQUESTS then
    function request()
        n = n + 1
        return built[(n % #built) + 1]
    end
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(threads) do
        local s = t:get("statuses")
        for code, count in pairs(s) do
            total[code] = (total[code] or 0) + count
        end
    end
    for code, count in pairs(total) do
        io.write(string.format("STATUS %d %d\n", code, count))
    end
    io.write(string.format("ERRORS connect=%d read=%d write=%d status=%d timeout=%d\n",
        summary.errors.connect, summary.errors.read, summary.errors.write,
        summary.errors.status, summary.errors.timeout))
    io.write(string.format("TOTAL %d\n", summary.requests))
end
"""


def lua_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_requests(reqs):
    rows = []
    for method, path, headers in reqs:
        hdrs = ", ".join("[%s] = %s" % (lua_string(k), lua_string(v)) for k, v in headers.items())
        rows.append("{%s, %s, {%s}}" % (lua_string(method), lua_string(path), hdrs))
    return "REQUESTS = {\n  " + ",\n  ".join(rows) + "\n}\n"


def write_script(h, reqs=None):
    text = (lua_requests(reqs) if reqs else "") + LUA
    return h.write_extra_file("wrk-%d.lua" % int(time.monotonic() * 1000), text)


class WrkResult:
    def __init__(self, out):
        self.out = out
        self.statuses = {int(c): int(n) for c, n in re.findall(r"^STATUS (\d+) (\d+)$", out, re.M)}
        m = re.search(r"^ERRORS connect=(\d+) read=(\d+) write=(\d+) status=(\d+) "
                      r"timeout=(\d+)$", out, re.M)
        self.errors = dict(zip(("connect", "read", "write", "status", "timeout"),
                               map(int, m.groups()))) if m else None
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        self.non_2xx_3xx = int(m.group(1)) if m else 0
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        self.rate = float(m.group(1)) if m else 0.0
        m = re.search(r"^TOTAL (\d+)$", out, re.M)
        self.total = int(m.group(1)) if m else 0
        m = re.search(r"Socket errors: (.*)", out)
        self.socket_errors = m.group(1) if m else ""

    def count(self, lo, hi):
        return sum(n for c, n in self.statuses.items() if lo <= c < hi)

    def add(self, other):
        """Fold another run into this one (counts add up, rate is the last)."""
        for c, n in other.statuses.items():
            self.statuses[c] = self.statuses.get(c, 0) + n
        for k, n in other.errors.items():
            self.errors[k] += n
        self.non_2xx_3xx += other.non_2xx_3xx
        self.total += other.total
        self.rate = other.rate
        self.out += other.out


def run_wrk(h, url, seconds, threads=2, connections=64, headers=(), reqs=None,
            timeout="5s"):
    cmd = [WRK, "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds,
           "--timeout", timeout, "-s", write_script(h, reqs)]
    for hd in headers:
        cmd += ["-H", hd]
    return subprocess.Popen(cmd + [url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish_wrk(proc, seconds):
    out, _ = proc.communicate(timeout=seconds + 60)
    assert proc.returncode == 0, out
    res = WrkResult(out)
    assert res.errors is not None and res.total > 0, out
    return res


def assert_no_crash(h, mark):
    assert h.running(), "httpd exited\n" + h.log_tail()
    log = h.log_since(mark)
    for m in CRASH_MARKS:
        assert m not in log, "crash marker %r in the error_log:\n%s" % (m, log[-3000:])


def report(what, text):
    """Figures for the run's output (shown with -s or -rA, and on failure)."""
    print("\n[%s] %s" % (what, text))


# ---------------------------------------------------------------------------
# graceful restarts under load
# ---------------------------------------------------------------------------
# Enough threads per child for all 64 connections: when a child's workers
# are all busy the event MPM closes idle keep-alive connections, which wrk
# counts as read errors even with no module loaded; ServerLimit leaves room
# for the old generation's children while new ones start.
LOAD_MPM = ("StartServers 2\nMinSpareThreads 100\nMaxSpareThreads 400\nThreadsPerChild 100\n"
            "MaxRequestWorkers 400\nServerLimit 8\n")


@pytest.mark.parametrize("keepalive", [False, True], ids=["close", "keepalive"])
def test_graceful_restarts_under_load(devauth, httpd_factory, keepalive):
    """Without keep-alive every connection gets its answer across the
    restarts: zero non-200 responses and zero socket errors. With keep-alive
    (half the duration) a request that crosses the old child's close of an
    idle connection is reset -- httpd's own race, the same without this
    module -- so there only read errors, at most one per connection and
    restart, are tolerated; responses must still all be 200."""
    h = httpd_factory(mpm="event", mpm_conf=LOAD_MPM, loglevel="warn", keepalive=keepalive,
                      extra="MaxKeepAliveRequests 0\n" if keepalive else "")
    seconds = max(6, LOAD_SECONDS // 2) if keepalive else LOAD_SECONDS
    mark = h.log_mark()
    b = H.Browser(h, devauth)
    _, page = b.login("/protected/env")
    assert page.status_code == 200, h.explain(page)
    sid = b.session_id()
    b.s.close()
    proc = run_wrk(h, h.url("/protected/page.html"), seconds,
                   headers=["Cookie: %s=%s" % (H.COOKIE, sid), "Accept: text/html"])
    t0 = time.monotonic()
    restarts = []
    try:
        for frac in (0.2, 0.45, 0.7):
            delay = t0 + seconds * frac - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            g0 = time.monotonic()
            h.graceful()
            restarts.append(round(time.monotonic() - g0, 2))
    finally:
        res = finish_wrk(proc, seconds)
    report("graceful", "keep-alive %s: %d requests in %d s (%.0f/s), statuses %r, socket "
           "errors %r, graceful restarts took %r s" % (
               keepalive, res.total, seconds, res.rate, res.statuses, res.errors, restarts))
    assert h.generation == 4
    assert res.total > 1000, res.out
    assert res.statuses.get(200, 0) > 0 and set(res.statuses) == {200}, \
        "not every response was a 200: %r\n%s" % (res.statuses, res.out)
    assert res.non_2xx_3xx == 0, res.out
    errors = dict(res.errors)
    if keepalive:
        # about one reset per connection and restart; a connection that
        # reconnects to another child of the old generation just before it
        # closes too can be reset twice
        assert errors.pop("read") <= 2 * 64 * 3, res.out
    assert sum(errors.values()) == 0, "socket errors during graceful restarts: %r\n%s" % (
        res.errors, res.out)
    # the session survived: the same cookie, on the newest generation
    r = b.get_current("/protected/env")
    assert r.status_code == 200, h.explain(r, "session after three graceful restarts")
    assert H.cgi_env(r.text).get("REMOTE_USER") == "ALLOC_SPO"
    assert_no_crash(h, mark)


# ---------------------------------------------------------------------------
# memory of one child over many requests
# ---------------------------------------------------------------------------
def child_pid_from_log(h):
    for line in reversed(h.access_lines()):
        pid = line.split(" ", 1)[0]
        if pid.isdigit():
            return int(pid)
    return None


def memory_kb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssShmem", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


@pytest.fixture
def one_child(httpd_factory):
    one = ("StartServers 1\nMinSpareServers 1\nMaxSpareServers 1\nMaxRequestWorkers 1\n"
           "ServerLimit 1\nMaxConnectionsPerChild 0\n")
    extra = """
Alias /bearer "{{dir}}/htdocs/protected"
<Location /bearer>
    AuthType nomis-bearer
    Require valid-user
</Location>
"""
    # one worker: a client's idle keep-alive connection would hold it
    return httpd_factory(mpm="prefork", mpm_conf=one, loglevel="warn", keepalive=False,
                         extra=lambda h: extra.replace("{{dir}}", h.dir))


def signins_beside(h, devauth, stop, counts):
    """Silent sign-ins (after one at the form) until stop is set."""
    b = H.Browser(h, devauth)
    while not stop.is_set():
        b.drop_cookie(H.COOKIE)
        try:
            cb = b.callback(b.authorize(b.begin("/protected/page.html")), timeout=30)
            counts[cb.status_code] = counts.get(cb.status_code, 0) + 1
        except (H.HarnessError, requests.RequestException) as e:
            counts[repr(e)[:60]] = counts.get(repr(e)[:60], 0) + 1
        time.sleep(0.05)


def test_child_memory_flat(one_child, devauth):
    h = one_child
    mark = h.log_mark()
    b = H.Browser(h, devauth)
    _, page = b.login("/protected/env")
    assert page.status_code == 200, h.explain(page)
    cookie = "%s=%s" % (H.COOKIE, b.session_id())
    nav = {"Accept": "text/html"}
    api = {"Accept": "application/json"}
    valid = [devauth.mint(username=u)["access_token"]
             for u in ("ALLOC_SPO", "ALLOC_POM", "ALLOC_ADMIN", "DELIUS_SPO") * 5]
    expired = devauth.mint(username="ALLOC_SPO", mode="expired_token")["access_token"]
    badsig = devauth.mint(username="ALLOC_SPO", mode="bad_signature")["access_token"]
    unknown = devauth.mint(username="ALLOC_SPO", mode="unknown_kid")["access_token"]
    reqs = []
    for i, tok in enumerate(valid):
        reqs.append(("GET", "/protected/page.html", dict(nav, Cookie=cookie)))
        reqs.append(("GET", "/bearer/page.html", dict(api, Authorization="Bearer " + tok)))
        if i % 2 == 0:
            reqs.append(("GET", "/bearer/page.html",
                         dict(api, Authorization="Bearer " + expired)))
            reqs.append(("GET", "/bearer/page.html",
                         dict(api, Authorization="Bearer " + badsig)))
        if i % 5 == 0:
            reqs.append(("GET", "/bearer/page.html",
                         dict(api, Authorization="Bearer " + unknown)))
            reqs.append(("GET", "/protected/page.html?x=%d" % i, nav))
            reqs.append(("GET", "/nomis-sso/callback?state=%s&code=x" % ("A" * 22), nav))
    url = h.url("/public.html")

    # warm-up: every code path once, then enough to settle the allocator
    res = finish_wrk(run_wrk(h, url, 5, threads=1, connections=2, reqs=reqs), 5)
    assert res.count(500, 600) == 0, res.statuses
    pid = child_pid_from_log(h)
    assert pid, "no child pid in the access log"
    rate = res.rate
    before = memory_kb(pid)

    stop = threading.Event()
    counts = {}
    side = threading.Thread(target=signins_beside, args=(h, devauth, stop, counts))
    side.start()
    t0 = time.monotonic()
    res = None
    try:
        # wrk runs for a time, not a count: run it again until the count is
        # reached, each time for what is left at the last run's rate
        while res is None or res.total < MEMORY_REQUESTS:
            left = MEMORY_REQUESTS - (res.total if res else 0)
            seconds = max(3, int(left / max(0.9 * rate, 1.0)) + 1)
            part = finish_wrk(run_wrk(h, url, seconds, threads=1, connections=2, reqs=reqs),
                              seconds)
            rate = part.rate
            if res is None:
                res = part
            else:
                res.add(part)
    finally:
        stop.set()
        side.join(60)
    seconds = int(time.monotonic() - t0)
    after = memory_kb(pid)
    assert child_pid_from_log(h) == pid, "the child was replaced during the run"
    growth = after["RssAnon"] - before["RssAnon"]
    report("memory", "%d requests in %d s (%.0f/s) + sign-ins %r; child %d RssAnon %d -> %d kB "
           "(%+d kB), VmRSS %d -> %d kB (RssShmem, the session store's touched pages, "
           "%d -> %d kB); statuses %r" % (
               res.total, seconds, res.rate, counts, pid, before["RssAnon"], after["RssAnon"],
               growth, before["VmRSS"], after["VmRSS"], before["RssShmem"], after["RssShmem"],
               res.statuses))
    assert res.count(500, 600) == 0, res.statuses
    assert res.statuses.get(200, 0) > res.total // 3, res.statuses
    assert res.statuses.get(401, 0) > 0 and res.statuses.get(302, 0) > 0, res.statuses
    assert res.total >= MEMORY_REQUESTS, (res.total, MEMORY_REQUESTS)
    assert counts.get(302, 0) >= 10, "sign-ins beside the load: %r" % counts
    assert set(counts) == {302}, counts
    assert growth < RSS_GROWTH_LIMIT_KB, \
        "child memory grew by %d kB over %d requests" % (growth, res.total)
    assert_no_crash(h, mark)
