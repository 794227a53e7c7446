"""NomisSSOAuditLog through the real httpd: the log parsed line by line as
JSON after scripted traffic (sign-in, failed sign-in, denial, sign-out,
refused bearer tokens, failed refresh, revocation, expiry) with the fields
each event carries, no token anywhere in it, a piped program, and an
unwritable file failing configtest."""

import json
import os
import re
import time

import requests

import harness as H

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
FIELDS = ("time", "event", "user", "authSource", "client", "clientIp", "userAgent", "path",
          "session", "requestId")
UA = "audit-test/1.0"


def site_extra(h):
    d = h.dir
    return """
ScriptAliasMatch "^/api/" "{d}/cgi-bin/env.cgi"
<Location /api>
    AuthType nomis-bearer
    Require valid-user
</Location>
ScriptAliasMatch "^/managers/" "{d}/cgi-bin/env.cgi"
<Location /managers>
    AuthType nomis-sso
    Require nomis-role MOIC_ADMIN
</Location>
""".format(d=d)


def make(httpd_factory, auth, target, nsso_extra="", start=True, site="", **kw):
    conf = H.nsso_directives(auth.auth_url, extra=("NomisSSOAuditLog %s\n" % target)
                             + nsso_extra)
    h = httpd_factory(start=False, auth_url=auth.auth_url, nsso_conf=conf, **kw)
    h.params["extra"] = site_extra(h) + site
    h.write_conf()
    if start:
        h.start()
    return h


def browser(h, auth):
    b = H.Browser(h, auth)
    b.s.headers["User-Agent"] = UA
    return b


def read_events(path, want, timeout=5.0):
    """Every line of the log as JSON, once it holds at least want lines."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError:
            lines = []
        if len(lines) >= want or time.monotonic() > deadline:
            return [json.loads(line) for line in lines]
        time.sleep(0.05)


def by_event(events, name):
    return [e for e in events if e["event"] == name]


def test_events_as_json_lines(httpd_factory, devauth):
    h = make(httpd_factory, devauth, "audit.log",  # relative to ServerRoot
             site="LoadModule unique_id_module %s/mod_unique_id.so\n" % H.MODDIR)
    path = os.path.join(h.dir, "audit.log")
    minted = []
    b = browser(h, devauth)
    b.login("/protected/env?secret=query")                      # sign-in
    sid = b.session_id()
    assert b.get("/managers/x").status_code == 403              # denied
    r = b.get("/nomis-sso/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 302                                 # sign-out
    r = browser(h, devauth).get(H.CALLBACK + "?state=" + "x" * 30 + "&code=c")
    assert r.status_code == 400                                 # sign-in-failed
    good = devauth.mint(username="ALLOC_SPO")["access_token"]
    minted.append(good)
    assert requests.get(h.url("/api/x"), timeout=10,             # accepted: no line
                        headers={"Authorization": "Bearer " + good}).status_code == 200
    old = devauth.mint(username="ALLOC_POM", lifetime=-120)["access_token"]
    minted.append(old)
    assert requests.get(h.url("/api/x?q=1"), timeout=10,         # bearer-refused
                        headers={"Authorization": "Bearer " + old,
                                 "User-Agent": UA}).status_code == 401

    events = read_events(path, 5)
    assert [e["event"] for e in events] == [
        "sign-in", "denied", "sign-out", "sign-in-failed", "bearer-refused"], events
    for e in events:
        assert RFC3339.match(e["time"]), e
        for f in FIELDS:
            assert f in e, (f, e)
        assert e["clientIp"] == "127.0.0.1" and e["userAgent"] == UA, e
        assert "?" not in e["path"], e
        assert re.match(r"^[A-Za-z0-9@_-]{20,}$", e["requestId"] or ""), e  # UNIQUE_ID
    signin, denied, signout, failed, refused = events
    for e in (signin, denied, signout):
        assert e["user"] == "ALLOC_SPO" and e["authSource"] == "nomis", e
        assert e["client"] == H.CLIENT_ID, e
        assert e["session"] == sid[:6], e
    assert signin["path"] == H.CALLBACK
    assert denied["path"] == "/managers/x"
    assert denied["rule"] == "Require nomis-role MOIC_ADMIN", denied
    assert signout["path"] == "/nomis-sso/logout"
    assert failed["reason"] == "state" and failed["user"] is None, failed
    assert refused["reason"] == "expired" and refused["path"] == "/api/x", refused
    # never a token, nor a session id in full
    text = open(path, encoding="utf-8").read()
    for tok in minted:
        assert tok not in text and tok.split(".")[2] not in text
    assert sid not in text


def test_refresh_failed_revoked_expired(httpd_factory, private_devauth):
    auth = private_devauth
    verify = ("NomisSSOTokenVerificationURL %s\nNomisSSOTokenVerificationInterval 0\n"
              "NomisSSORefreshBeforeExpiry 1300\n" % auth.auth_url)
    h = make(httpd_factory, auth, "audit.log", nsso_extra=verify)
    path = os.path.join(h.dir, "audit.log")
    b = browser(h, auth)
    b.login("/protected/env")
    # every request refreshes: the token endpoint failing, the token still
    # valid, the session goes on (and the revoked user's refresh fails too,
    # so the verification API is what ends it)
    auth.fault("token", "500", count=2)
    assert b.get("/protected/env").status_code == 200            # refresh-failed, served
    auth.revoke(username="ALLOC_SPO")
    assert b.get("/protected/env").status_code == 302            # revoked: sign in again
    events = read_events(path, 4)
    names = [e["event"] for e in events]
    assert names == ["sign-in", "refresh-failed", "refresh-failed", "revoked"], events
    assert events[1]["reason"] == "failed" and events[1]["user"] == "ALLOC_SPO"
    assert events[2]["user"] == "ALLOC_SPO" and events[2]["session"] == events[0]["session"]


def test_expired(httpd_factory):
    """The access token ran out and refreshing is off: the session ends. (A
    session past NomisSSOSessionInactivityTimeout or ...MaxDuration is gone
    from the store by then: nothing is left to log.)"""
    auth = H.DevAuth(extra_args=["--access-token-lifetime", "2"]).start()
    try:
        h = make(httpd_factory, auth, "audit.log",
                 nsso_extra="NomisSSORefreshBeforeExpiry 0\nNomisSSOClockSkew 0\n")
        path = os.path.join(h.dir, "audit.log")
        b = browser(h, auth)
        b.login("/protected/env")
        sid = b.session_id()
        time.sleep(3)
        assert b.get("/protected/env").status_code == 302
        events = read_events(path, 2)
        assert [e["event"] for e in events] == ["sign-in", "expired"], events
        assert events[1]["user"] == "ALLOC_SPO"
        assert events[1]["session"] == events[0]["session"] == sid[:6]
    finally:
        auth.cleanup()


def test_piped_program(httpd_factory, devauth, tmp_path):
    out = str(tmp_path / "piped.log")
    script = H.write_file(str(tmp_path / "audit.sh"), "#!/bin/sh\nexec cat >> %s\n" % out,
                          0o755)
    h2 = make(httpd_factory, devauth, '"|%s"' % script)
    browser(h2, devauth).login("/protected/env")
    events = read_events(out, 1)
    assert [e["event"] for e in events] == ["sign-in"], events
    assert events[0]["user"] == "ALLOC_SPO"


def test_unwritable_fails_configtest(httpd_factory, devauth, tmp_path):
    bad = str(tmp_path / "no-such-dir" / "audit.log")
    h = make(httpd_factory, devauth, bad, start=False)
    rc, out = h.config_test()
    assert rc != 0, out
    assert "NomisSSOAuditLog" in out and bad in out, out
    ok = make(httpd_factory, devauth, str(tmp_path / "audit.log"), start=False)
    rc, out = ok.config_test()
    assert rc == 0, out


def test_wrong_password(httpd_factory, devauth):
    """The password-grant form: a refused password is a failed sign-in of the
    name typed; the password is never written."""
    h = make(httpd_factory, devauth, "audit.log",
             nsso_extra="NomisSSOGrantType password\nNomisSSOPasswordAllowHTTP On\n")
    path = os.path.join(h.dir, "audit.log")
    s = requests.Session()
    r = s.get(h.url("/protected/env"), headers={"Accept": "text/html"}, timeout=10)
    state = re.search(r'name="state" value="([^"]+)"', r.text).group(1)
    r = s.post(h.url("/nomis-sso/sign-in"), timeout=10, allow_redirects=False,
               data={"state": state, "username": "ALLOC_POM", "password": "wrong-pw-xyz"})
    assert r.status_code == 200, h.explain(r)
    events = read_events(path, 1)
    assert [(e["event"], e["reason"], e["user"]) for e in events] == [
        ("sign-in-failed", "code_refused", "ALLOC_POM")], events
    assert "wrong-pw-xyz" not in open(path, encoding="utf-8").read()


def test_hostile_fields_stay_one_line(httpd_factory, devauth):
    """A User-Agent and path crafted to end the JSON object or the line, and a
    huge one: every line is still one object with the real event; bytes that
    are not printable ASCII become '?'."""
    h = make(httpd_factory, devauth, "audit.log")
    path = os.path.join(h.dir, "audit.log")
    evil = '","event":"sign-in","user":"ADMIN\\' + "\u00e9" + "x" * 5000
    status, _, _ = H.raw_request(h.port, "GET", "/api/%22%7D%0Aa?token=secret",
                                 {"User-Agent": evil.encode("utf-8").decode("latin-1"),
                                  "Authorization": "Bearer x.y.z"})
    assert status == 401
    lines = open(path, "rb").read().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 2, lines
    assert len(lines[0]) < 4096
    e = json.loads(lines[0])
    assert e["event"] == "bearer-refused" and e["user"] is None, e
    assert e["userAgent"].startswith('","event":"sign-in","user":"ADMIN\\??xx'), e
    assert len(e["userAgent"]) == 256 and all(" " <= c <= "~" for c in e["userAgent"]), e
    # the path as httpd decoded it (what %U logs), its newline made harmless
    assert e["path"] == '/api/"}?a' and "secret" not in lines[0].decode(), e


def test_many_children_never_mix_lines(httpd_factory, devauth):
    """Prefork, a new child per connection, requests in parallel: one whole
    JSON line per refusal, none lost or torn."""
    from concurrent.futures import ThreadPoolExecutor
    mpm_conf = ("StartServers 4\nMinSpareServers 2\nMaxSpareServers 8\n"
                "MaxRequestWorkers 8\nServerLimit 8\nMaxConnectionsPerChild 1\n")
    h = make(httpd_factory, devauth, "audit.log", mpm="prefork", mpm_conf=mpm_conf)
    path = os.path.join(h.dir, "audit.log")
    n = 40

    def one(i):
        r = requests.get(h.url("/api/%d" % i), timeout=15,
                         headers={"Authorization": "Bearer x%d.y.z" % i, "User-Agent": UA * 20,
                                  "Connection": "close"})
        return r.status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(one, range(n))) == {401}
    events = read_events(path, n)
    assert len(events) == n
    assert sorted(e["path"] for e in events) == sorted("/api/%d" % i for i in range(n))
    assert {e["event"] for e in events} == {"bearer-refused"}
    assert len({line.split()[0] for line in h.access_lines()}) > 4, "expected many children"
