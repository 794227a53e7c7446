"""Sign out everywhere (issue 21) through real httpds and the development
auth server: a user's sessions listed and ended on every server sharing the
session store.

- Two httpd processes sharing a redis:// store, and two virtual hosts of
  one httpd sharing shm: one user signed in with three browsers across
  them; "Sign out of all devices" from one ends all three on every server,
  another user's session stays.
- SetHandler nomis-sso-sessions: an administrator ends one session of
  another user (the others stay); without the role 403; a forged or
  missing form token, a cross-site POST, a GET that would change something
  and a bearer token (a client's or a member of staff's) change nothing.
- Under load on the user's sessions (prefork and event, shm and Redis),
  ending them takes effect on the very next request on every child.
- Realms: an administrator of one realm neither sees nor ends another's.
- Roles taken away: a revoked token ends at the next verification; a
  refresh whose token lacks a role takes effect on the next request.
- Every end is an audit line and a metric.
"""

import html
import json
import os
import re
import shutil
import threading
import time

import pytest
import requests

import harness as H
import redis_topology as RT
from harness import cgi_env
from conftest import _track
from test_realms import two_vhosts
import test_browser

ADMIN = "/admin/sessions"
LOGOUT = "/nomis-sso/logout"
METRICS = "/nomis-sso/metrics"
ENV = "/protected/env"
PAGE = "/protected/page.html"
NAV = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
JSON = {"Accept": "application/json"}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
HANDLE = re.compile(r"^[0-9a-f]{16}$")

SITE = """
<Location {admin}>
    SetHandler nomis-sso-sessions
    AuthType nomis-sso
    NomisSSOAcceptBearer On
    Require nomis-role MOIC_ADMIN
</Location>
<Location {metrics}>
    SetHandler nomis-sso-metrics
    Require all granted
</Location>
ScriptAliasMatch "^/managers/" "{d}/cgi-bin/env.cgi"
<Location /managers>
    AuthType nomis-sso
    Require nomis-role ALLOC_MGR
</Location>
"""


def site_extra(h):
    return SITE.format(admin=ADMIN, metrics=METRICS, d=h.dir)


class Audit:
    """The audit log of an httpd, read as JSON lines."""

    def __init__(self, path):
        self.path = path

    def lines(self, event=None):
        if not os.path.exists(self.path):
            return []
        with open(self.path, encoding="utf-8") as f:
            out = [json.loads(line) for line in f if line.strip()]
        return [o for o in out if event is None or o.get("event") == event]


def make_host(make, devauth, store="", mpm="event", mpm_conf=None, nsso_extra=""):
    """A started httpd with the sessions page, metrics and an audit log."""
    h = make(start=False, mpm=mpm, mpm_conf=mpm_conf, nsso_conf="")
    conf = H.nsso_directives(devauth.auth_url, extra="NomisSSOAuditLog %s/audit.log\n%s\n%s"
                             % (h.dir, store, nsso_extra))
    if "socache:redis" in store:
        conf = "LoadModule socache_redis_module %s/mod_socache_redis.so\nRedisTimeout 2\n" \
               % H.MODDIR + conf
    h.params["nsso_conf"] = conf
    h.params["extra"] = site_extra(h)
    h.write_conf()
    h.start()
    h.audit = Audit(os.path.join(h.dir, "audit.log"))
    return h


def signin(site, auth, user):
    b = H.Browser(site, auth)
    _, page = b.login(ENV, username=user)
    assert page.status_code == 200, site.explain(page, "sign-in as %s" % user)
    assert cgi_env(page.text).get("REMOTE_USER") == user, site.explain(page)
    return b


def on(b, site, path=ENV, headers=NAV):
    return b.s.get(site.url(path), headers=headers, allow_redirects=False, timeout=15)


def assert_alive(b, site, what=""):
    r = on(b, site)
    assert r.status_code == 200, site.explain(r, "expected a live session " + what)


def assert_ended(b, site, auth, what=""):
    """An ended session: 302 to sign in for a page, 401 for a script."""
    r = on(b, site)
    assert r.status_code == 302 and r.headers["Location"].startswith(
        auth.auth_url + "/oauth/authorize?"), site.explain(r, "expected sign-in " + what)
    r = on(b, site, headers=XHR)
    assert r.status_code == 401, site.explain(r, "expected 401 for a script " + what)


def sign_out_all(b, site, auth):
    r = b.s.get(site.url(LOGOUT + "?scope=all"), headers=dict(NAV, **SAME_ORIGIN),
                allow_redirects=False, timeout=15)
    assert r.status_code == 302 and r.headers["Location"].startswith(auth.auth_url), \
        site.explain(r, "sign out of all devices")
    return r


def listing(admin, site, user):
    r = admin.s.get(site.url(ADMIN), params={"user": user}, headers=JSON,
                    allow_redirects=False, timeout=15)
    assert r.status_code == 200, site.explain(r, "sessions JSON")
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def post(admin, site, data, headers=None):
    hdrs = dict(JSON, **{"Origin": site.base, "Sec-Fetch-Site": "same-origin"})
    hdrs.update(headers or {})
    return admin.s.post(site.url(ADMIN), data=data, headers=hdrs, allow_redirects=False,
                        timeout=15)


def scrape(site):
    r = requests.get(site.url(METRICS), timeout=10)
    assert r.status_code == 200, site.explain(r, "metrics")
    out = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def no_ids_in(text, browsers_or_ids):
    for b in browsers_or_ids:
        sid = b if isinstance(b, str) else b.session_id()
        assert sid and sid not in text and sid[:12] not in text, "a session id is shown"


# ---------------------------------------------------------------------------
# two servers sharing a store: Redis (two processes), shm (two virtual hosts)
# ---------------------------------------------------------------------------
class Site:
    """A virtual host or an httpd, with the httpd whose logs explain it."""

    def __init__(self, base, h):
        self.base = base
        self.h = h

    def url(self, path):
        return self.base + path

    def explain(self, resp=None, what=""):
        return self.h.explain(resp, what)


@pytest.fixture
def redis_engine():
    if not os.access(RT.REDIS, os.X_OK):
        pytest.fail("redis-server not installed (%s): tools/deps installs it" % RT.REDIS)
    e = RT.Engine("redis").start()
    yield e
    e.stop()


@pytest.fixture(params=["redis", "socache", "shm"])
def two_servers(request, httpd_factory, devauth):
    """(site A, site B, [audits]) sharing one session store: two httpds on the
    module's redis:// client or on socache:redis, or two virtual hosts of one
    httpd on shm."""
    if request.param in ("redis", "socache"):
        engine = request.getfixturevalue("redis_engine")
        if request.param == "redis":
            store = "NomisSSOSessionStore redis://127.0.0.1:%d/0" % engine.port
        else:
            store = "NomisSSOSessionStore socache:redis:127.0.0.1:%d" % engine.port
        a = make_host(httpd_factory, devauth, store)
        b = make_host(httpd_factory, devauth, store)
        return Site(a.base, a), Site(b.base, b), [a.audit, b.audit]
    tmp = H.make_tree("nsso-audit-")
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    audit = "NomisSSOAuditLog %s/audit.log" % tmp
    h, va, vb = two_vhosts(httpd_factory, devauth, devauth, extra_a=audit, extra_b=audit)
    h.params["extra"] += site_extra(h)
    h.write_conf()
    h.stop()
    h.start()
    log = Audit(os.path.join(tmp, "audit.log"))
    return Site(va.base, h), Site(vb.base, h), [log]


def test_sign_out_of_all_devices_on_every_server(two_servers, devauth):
    a, b, audits = two_servers
    # three browsers of one user across the two servers, and another user
    b1, b2, b3 = signin(a, devauth, "ALLOC_SPO"), signin(b, devauth, "ALLOC_SPO"), \
        signin(a, devauth, "ALLOC_SPO")
    other = signin(b, devauth, "ALLOC_POM")
    admin = signin(a, devauth, "ALLOC_ADMIN")
    for br in (b1, b2, b3):
        for site in (a, b):
            assert_alive(br, site, "before")
    # every server lists all three, with handles and nothing that names a session
    for site in (a, b):
        doc = listing(admin, site, "ALLOC_SPO")
        assert doc["user"] == "ALLOC_SPO" and len(doc["sessions"]) == 3, doc
        for s in doc["sessions"]:
            assert HANDLE.match(s["handle"]), s
            assert s["authSource"] == "nomis" and s["device"] == "python-requests", s
            assert s["createdAt"] <= s["lastSeenAt"] <= time.time() + 1, s
            assert s["current"] is False, s
        no_ids_in(json.dumps(doc), (b1, b2, b3, admin))
    # "Sign out of all devices" from the second browser, on server B
    sign_out_all(b2, b, devauth)
    for br in (b1, b2, b3):
        for site in (a, b):
            assert_ended(br, site, devauth, "after sign-out of all devices")
    assert_alive(other, a, "of another user")
    assert_alive(other, b, "of another user")
    assert_alive(admin, a, "of the administrator")
    assert listing(admin, a, "ALLOC_SPO")["sessions"] == []
    assert len(listing(admin, b, "ALLOC_POM")["sessions"]) == 1
    # audited (who, whose, how many, from where) and counted
    ended = [e for log in audits for e in log.lines("sessions-ended")]
    assert len(ended) == 1, ended
    e = ended[0]
    assert (e["user"], e["target"], e["count"], e["reason"], e["clientIp"]) == \
        ("ALLOC_SPO", "ALLOC_SPO", 3, "all-devices", "127.0.0.1"), e
    assert len(e["session"]) <= 6, e
    m = scrape(b)
    assert m['nomis_sso_sessions_ended_total{by="user"}'] == 3, m


def test_sign_out_all_needs_the_browser_or_the_form(httpd_factory, devauth):
    """A GET the browser does not vouch for asks first; the form's POST with
    its token signs out everywhere; a POST without it ends nothing."""
    h = make_host(httpd_factory, devauth)
    b1, b2 = signin(h, devauth, "ALLOC_SPO"), signin(h, devauth, "ALLOC_SPO")
    r = b1.s.get(h.url(LOGOUT + "?scope=all"), headers=NAV, allow_redirects=False, timeout=10)
    assert r.status_code == 200 and 'id="sign-out-all"' in r.text, h.explain(r)
    assert 'name="scope" value="all"' in r.text
    assert_alive(b2, h, "after the confirmation page")
    r2 = b1.s.post(h.url(LOGOUT), data={"scope": "all", "token": "forged"}, headers=NAV,
                   allow_redirects=False, timeout=10)
    assert r2.status_code == 400, h.explain(r2)
    assert_alive(b1, h, "after a forged sign-out")
    assert_alive(b2, h, "after a forged sign-out")
    token = html.unescape(re.search(r'name="token" value="([^"]+)"', r.text).group(1))
    r3 = b1.s.post(h.url(LOGOUT), data={"scope": "all", "token": token}, headers=NAV,
                   allow_redirects=False, timeout=10)
    assert r3.status_code == 302, h.explain(r3)
    assert_ended(b1, h, devauth)
    assert_ended(b2, h, devauth)
    # the ordinary confirmation page offers both
    b3 = signin(h, devauth, "ALLOC_SPO")
    r = b3.s.get(h.url(LOGOUT), headers=NAV, allow_redirects=False, timeout=10)
    assert 'id="sign-out"' in r.text and 'id="sign-out-all"' in r.text, r.text


# ---------------------------------------------------------------------------
# the administrators' page
# ---------------------------------------------------------------------------
def test_admin_ends_one_session_and_refusals_change_nothing(httpd_factory, devauth):
    h = make_host(httpd_factory, devauth)
    users = [signin(h, devauth, "ALLOC_SPO") for _ in range(3)]
    admin = signin(h, devauth, "ALLOC_ADMIN")
    doc = listing(admin, h, "ALLOC_SPO")
    handles = [s["handle"] for s in doc["sessions"]]
    assert len(handles) == 3 and len(set(handles)) == 3, doc
    token = doc["token"]
    ids = [u.session_id() for u in users + [admin]]

    def all_alive(what):
        for u in users:
            assert_alive(u, h, what)
        assert len(listing(admin, h, "ALLOC_SPO")["sessions"]) == 3, what

    one = {"token": token, "user": "ALLOC_SPO", "action": "end", "handle": handles[1]}
    # without the role: 403, even with the page's form fields
    plain = signin(h, devauth, "NO_ROLES_USER")
    r = plain.s.get(h.url(ADMIN), params={"user": "ALLOC_SPO"}, headers=JSON, timeout=10,
                    allow_redirects=False)
    assert r.status_code == 403, h.explain(r)
    r = post(plain, h, one)
    assert r.status_code == 403, h.explain(r)
    # forged, missing or another administrator's token; cross-site; a GET
    for data, hdrs, what in (
            (dict(one, token="A" * 43), None, "forged token"),
            ({k: v for k, v in one.items() if k != "token"}, None, "missing token"),
            (one, {"Origin": "https://evil.example"}, "cross-site Origin"),
            (one, {"Sec-Fetch-Site": "cross-site"}, "cross-site fetch"),
            (one, {"Sec-Fetch-Site": "same-site"}, "same-site fetch")):
        r = post(admin, h, data, hdrs)
        assert r.status_code == 403, h.explain(r, what)
        all_alive(what)
    r = admin.s.get(h.url(ADMIN), params=one, headers=JSON, timeout=10, allow_redirects=False)
    assert r.status_code == 405, h.explain(r, "a GET that would end a session")
    all_alive("a GET")
    # bearer tokens: a client's own token with the role, a member of staff's
    client = requests.post(devauth.auth_url + "/oauth/token",
                           data={"grant_type": "client_credentials"},
                           auth=(H.CLIENT_ID, H.CLIENT_SECRET), timeout=10).json()["access_token"]
    staff = devauth.mint(username="ALLOC_ADMIN")["access_token"]
    for tok in (client, staff):
        r = requests.post(h.url(ADMIN), data=dict(one, action="end-all"), timeout=10,
                          headers=dict(JSON, Authorization="Bearer " + tok))
        assert r.status_code in (401, 403), h.explain(r, "a bearer token")
    all_alive("bearer tokens")
    # the real thing: one session ends, the others stay
    r = post(admin, h, one)
    assert r.status_code == 200, h.explain(r)
    assert r.json()["ended"] == 1 and len(r.json()["sessions"]) == 2, r.json()
    states = [on(u, h).status_code for u in users]
    assert states == [200, 302, 200], states
    assert_ended(users[1], h, devauth)
    left = [s["handle"] for s in listing(admin, h, "ALLOC_SPO")["sessions"]]
    assert left == [handles[0], handles[2]], left
    # an unknown handle: 404, nothing ended
    r = post(admin, h, dict(one, handle="0" * 16))
    assert r.status_code == 404, h.explain(r)
    assert [on(u, h).status_code for u in users] == [200, 302, 200]
    # audited and counted
    ended = h.audit.lines("sessions-ended")
    assert [(e["user"], e["target"], e["count"], e["reason"]) for e in ended][-2:] == \
        [("ALLOC_ADMIN", "ALLOC_SPO", 1, "administrator"),
         ("ALLOC_ADMIN", "ALLOC_SPO", 0, "administrator")], ended
    assert scrape(h)['nomis_sso_sessions_ended_total{by="admin"}'] == 1
    # then all of them, from the HTML page's own form
    page = admin.s.get(h.url(ADMIN), params={"user": "ALLOC_SPO"}, headers=NAV, timeout=10)
    assert page.status_code == 200 and '<table id="sessions">' in page.text, h.explain(page)
    assert '<label for="user">' in page.text and "<h2>" in page.text
    no_ids_in(page.text, ids)
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    form = re.search(r'<form method="post"[^>]*>(.*?id="end-all".*?)</form>', page.text, re.S)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(1)))
    assert fields["action"] == "end-all"
    r = admin.s.post(h.url(ADMIN), data=fields, timeout=10,
                     headers=dict(NAV, Origin=h.base, **SAME_ORIGIN))
    assert r.status_code == 200 and 'id="result"' in r.text and "Ended 2" in r.text, \
        h.explain(r)
    for u in users:
        assert_ended(u, h, devauth)
    assert_alive(admin, h, "the administrator's own session")


def test_a_17th_sign_in_unlists_the_oldest_and_ends_nothing(httpd_factory, devauth):
    """The bound: a member of staff's 17th live session pushes the oldest
    out of the index (listed no more, counted), but that session goes on."""
    h = make_host(httpd_factory, devauth)
    users = [signin(h, devauth, "ALLOC_SPO") for _ in range(17)]
    admin = signin(h, devauth, "ALLOC_ADMIN")
    doc = listing(admin, h, "ALLOC_SPO")
    assert len(doc["sessions"]) == 16, doc
    for b in users:
        assert_alive(b, h, "after a 17th sign-in")
    assert scrape(h).get("nomis_sso_session_index_evictions_total") == 1
    assert "is no longer listed" in h.log_since(0)
    # sign out of all devices reaches the 16 listed; the unlisted one lives on
    sign_out_all(users[-1], h, devauth)
    for b in users[1:]:
        assert_ended(b, h, devauth, "listed, after sign-out everywhere")
    assert_alive(users[0], h, "unlisted: ends by its own timeouts")


def test_admin_of_one_realm_cannot_see_or_end_another(httpd_factory, devauth, request):
    auth_b = H.DevAuth().start()
    request.addfinalizer(auth_b.cleanup)
    _track(request, auth_b)
    h, va, vb = two_vhosts(httpd_factory, devauth, auth_b)
    h.params["extra"] += site_extra(h)
    h.write_conf()
    h.stop()
    h.start()
    a, b = Site(va.base, h), Site(vb.base, h)
    user_b = signin(b, auth_b, "ALLOC_SPO")
    admin_b = signin(b, auth_b, "ALLOC_ADMIN")
    assert len(listing(admin_b, b, "ALLOC_SPO")["sessions"]) == 1
    admin_a = H.Browser(a, devauth)     # its own jar: realm A's admin
    _, page = admin_a.login(ENV, username="ALLOC_ADMIN")
    assert page.status_code == 200
    doc = listing(admin_a, a, "ALLOC_SPO")
    assert doc["sessions"] == [], doc
    r = post(admin_a, a, {"token": doc["token"], "user": "ALLOC_SPO", "action": "end-all"})
    assert r.status_code == 200 and r.json()["ended"] == 0, a.explain(r)
    assert_alive(user_b, b, "in the other realm")
    # realm B's form token means nothing in realm A
    r = post(admin_a, a, {"token": listing(admin_b, b, "ALLOC_SPO")["token"],
                          "user": "ALLOC_SPO", "action": "end-all"})
    assert r.status_code == 403, a.explain(r)
    assert_alive(user_b, b, "in the other realm")


# ---------------------------------------------------------------------------
# under load: the next request on every child
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("mpm,store", [("event", "shm"), ("prefork", "shm"),
                                       ("event", "redis"), ("prefork", "redis")])
def test_ending_under_load_takes_effect_on_the_next_request(mpm, store, httpd_factory,
                                                            devauth, request):
    conf = ""
    if store == "redis":
        engine = request.getfixturevalue("redis_engine")
        conf = "NomisSSOSessionStore redis://127.0.0.1:%d/0" % engine.port
    h = make_host(httpd_factory, devauth, conf, mpm=mpm)
    users = [signin(h, devauth, "ALLOC_SPO") for _ in range(3)]
    cookies = [u.session_id() for u in users]
    stop = threading.Event()
    ended_at = [None]
    results = []        # (started, status)
    lock = threading.Lock()

    def hammer(cookie):
        s = requests.Session()
        while not stop.is_set():
            t0 = time.monotonic()
            try:
                r = s.get(h.url(PAGE), cookies={H.COOKIE: cookie}, headers=XHR,
                          allow_redirects=False, timeout=10)
                status = r.status_code
            except requests.ConnectionError:
                continue
            with lock:
                results.append((t0, status))

    threads = [threading.Thread(target=hammer, args=(c,)) for c in cookies for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        before = len(results)
        sign_out_all(users[0], h, devauth)
        ended_at[0] = time.monotonic()
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(20)
    early = [st for t0, st in results[:before]]
    late = [st for t0, st in results if t0 > ended_at[0]]
    assert early and set(early) == {200}, "before the end: %r" % set(early)
    assert len(late) > 20, "too few requests after the end: %d" % len(late)
    assert set(late) == {401}, "a request after the end was served: %r" % \
        sorted(set(late))
    # served by more than one child: every child saw the end
    mark = ended_at[0]
    assert mark
    pids = {line.split()[0] for line in h.access_lines() if " 401 " in line}
    if mpm == "prefork":
        assert len(pids) > 1, pids


# ---------------------------------------------------------------------------
# roles taken away
# ---------------------------------------------------------------------------
def test_revoked_token_ends_at_the_next_verification(httpd_factory, devauth):
    h = make_host(httpd_factory, devauth, nsso_extra="NomisSSOTokenVerificationURL %s\n"
                  "NomisSSOTokenVerificationInterval 1" % devauth.auth_url)
    b = signin(h, devauth, "DELIUS_SPO")
    assert_alive(b, h)
    devauth.revoke(username="DELIUS_SPO")
    time.sleep(1.2)
    assert_ended(b, h, devauth, "after HMPPS Auth stopped accepting the token")


def test_refresh_without_a_role_takes_effect_on_the_next_request(httpd_factory, request):
    auth = H.DevAuth(extra_args=("--access-token-lifetime", "6")).start()
    request.addfinalizer(auth.cleanup)
    _track(request, auth)
    h = make_host(httpd_factory, auth,
                  nsso_extra="NomisSSORefreshBeforeExpiry 4\nNomisSSOClockSkew 0")
    b = signin(h, auth, "ALLOC_SPO")
    r = on(b, h, "/managers/env")
    assert r.status_code == 200 and "ALLOC_MGR" in cgi_env(r.text)["NOMIS_SSO_ROLES"], \
        h.explain(r)
    auth.set_roles("ALLOC_SPO", [])
    assert on(b, h, "/managers/env").status_code == 200   # not refreshed yet
    time.sleep(2.5)                                       # into the refresh window
    r = on(b, h, "/managers/env")
    assert r.status_code == 403, h.explain(r, "the refreshed token lacks ALLOC_MGR")
    r = on(b, h)
    assert r.status_code == 200 and cgi_env(r.text)["NOMIS_SSO_ROLES"] == "", h.explain(r)


# ---------------------------------------------------------------------------
# Chromium: the administrators' page and "Sign out of all devices"
# ---------------------------------------------------------------------------
ARTIFACTS = os.path.join(H.HERE, "artifacts")


@pytest.fixture
def chrome():
    """test_browser.py's headless Chromium (its fixture, not a copy)."""
    yield from test_browser.chrome.__wrapped__()


def chrome_sign_in(chrome, site, devauth, user, path=ENV):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    chrome.get(site.url(path))
    WebDriverWait(chrome, 20).until(EC.presence_of_element_located((By.ID, "username")))
    chrome.find_element(By.ID, "username").send_keys(user)
    chrome.find_element(By.ID, "password").send_keys(H.PASSWORD)
    chrome.find_element(By.ID, "submit").click()

    def shows_env(d):
        try:
            return "REMOTE_USER=" + user in d.find_element(By.TAG_NAME, "body").text
        except WebDriverException:
            return False
    WebDriverWait(chrome, 20).until(shows_env)


def test_admin_page_and_sign_out_of_all_devices_with_chromium(chrome, httpd_factory,
                                                              devauth):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    h = make_host(httpd_factory, devauth)
    os.makedirs(ARTIFACTS, exist_ok=True)
    # a page elsewhere (another origin) linking to "Sign out of all devices"
    H.write_file(os.path.join(h.dir, "htdocs", "elsewhere.html"),
                 '<!DOCTYPE html><title>elsewhere</title><a id="all" href="%s">all</a>\n'
                 % h.url(LOGOUT + "?scope=all"))
    others = [signin(h, devauth, "ALLOC_SPO") for _ in range(2)]
    admins = [signin(h, devauth, "ALLOC_ADMIN") for _ in range(2)]
    wait = WebDriverWait(chrome, 20)
    chrome.set_window_size(1280, 900)
    chrome_sign_in(chrome, h, devauth, "ALLOC_ADMIN")
    # the page: look a user up, end one of their sessions
    chrome.get(h.url(ADMIN))
    assert chrome.title == "Sessions", chrome.title
    box = chrome.find_element(By.ID, "user")
    assert chrome.find_element(By.CSS_SELECTOR, 'label[for="user"]').text == "Username"
    box.send_keys("ALLOC_SPO")
    chrome.find_element(By.ID, "show").click()
    wait.until(EC.presence_of_element_located((By.ID, "sessions")))
    rows = chrome.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")
    assert len(rows) == 2, chrome.page_source
    chrome.save_screenshot(os.path.join(ARTIFACTS, "sessions-admin.png"))
    first = rows[0].find_element(By.TAG_NAME, "button")
    first.click()
    wait.until(EC.presence_of_element_located((By.ID, "result")))
    assert "Ended 1 session(s) of ALLOC_SPO." in chrome.find_element(By.ID, "result").text
    chrome.save_screenshot(os.path.join(ARTIFACTS, "sessions-admin-ended.png"))
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#sessions tbody tr")) == 1
    assert sorted(on(b, h).status_code for b in others) == [200, 302]
    # "Sign out of all devices" from a link on another origin: asked first
    chrome.get(h.url("/elsewhere.html").replace("127.0.0.1", "localhost"))
    chrome.find_element(By.ID, "all").click()
    wait.until(EC.presence_of_element_located((By.ID, "sign-out-all")))
    assert chrome.title == "Sign out of all devices", chrome.title
    chrome.save_screenshot(os.path.join(ARTIFACTS, "sign-out-all-devices.png"))
    for b in admins:
        assert_alive(b, h, "before the confirmation")
    chrome.find_element(By.ID, "sign-out-all").click()
    wait.until(lambda d: not d.current_url.startswith(h.base + LOGOUT))
    for b in admins:
        assert_ended(b, h, devauth, "after Sign out of all devices in Chromium")
    assert sorted(on(b, h).status_code for b in others) == [200, 302]
    chrome.get(h.url(ADMIN))
    assert chrome.current_url.startswith(devauth.auth_url + "/"), chrome.current_url
