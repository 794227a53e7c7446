"""The module behind TLS and HTTP/2: mod_ssl with `Protocols h2 http/1.1`
(mod_http2) on the event MPM, a certificate from a CA the test makes.
Sign-in, session hits, bearer tokens and sign-out over h2 with curl --http2
and with Chromium; the cookies carry Secure. Many streams on one h2
connection at once (python3-h2): one session in its refresh window is
refreshed once, and two users' sessions interleaved on one connection each
get their own identity. Spoofed X-Nomis-* headers never reach a proxied
backend over h2 either, and a WebSocket over h2 (RFC 8441, H2WebSockets on,
through mod_proxy_wstunnel) needs a session and carries its identity.

The TLS virtual host is the one docs/operations.md shows ("Behind TLS and
HTTP/2"); the harness's plain-http port stays for its readiness check."""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from urllib.parse import urljoin

import pytest

import harness as H

OPENSSL = "/usr/bin/openssl"
CURL = "/usr/bin/curl"
LIFETIME = 14  # access token lifetime of this file's devauth
WINDOW = 9     # NomisSSORefreshBeforeExpiry

TLS_CONF = """
LoadModule socache_shmcb_module {moddir}/mod_socache_shmcb.so
LoadModule ssl_module {moddir}/mod_ssl.so
LoadModule http2_module {moddir}/mod_http2.so
LoadModule proxy_module {moddir}/mod_proxy.so
LoadModule proxy_http_module {moddir}/mod_proxy_http.so
LoadModule proxy_wstunnel_module {moddir}/mod_proxy_wstunnel.so
SSLSessionCache "shmcb:{dir}/run/ssl_scache(512000)"

Listen 127.0.0.1:{tls}
<VirtualHost 127.0.0.1:{tls}>
    ServerName 127.0.0.1
    SSLEngine on
    SSLCertificateFile    "{pki}/server.pem"
    SSLCertificateKeyFile "{pki}/server.key"
    Protocols h2 http/1.1
    H2WebSockets on
</VirtualHost>

ScriptAlias /api/env "{dir}/cgi-bin/env.cgi"
<Location /api>
    AuthType nomis-bearer
    Require valid-user
</Location>
ProxyPass /protected/app http://127.0.0.1:{echo}/app
ProxyPass /protected/live ws://127.0.0.1:{ws}/live
"""


def _run(*argv, cwd):
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=60)


def make_pki(d):
    """A private CA and a server certificate for 127.0.0.1 signed by it."""
    _run(OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=nsso h2 test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    _run(OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
         "-keyout", "server.key", "-out", "server.csr", cwd=d)
    H.write_file(os.path.join(d, "server.ext"), "subjectAltName=IP:127.0.0.1\n")
    _run(OPENSSL, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.pem", cwd=d)
    os.chmod(os.path.join(d, "server.key"), 0o644)  # read by root at start only


def spki_hash(pem):
    """base64 SHA-256 of the certificate's public key (Chromium's
    --ignore-certificate-errors-spki-list trusts exactly that key)."""
    p = subprocess.run("%s x509 -in %s -pubkey -noout | %s pkey -pubin -outform der | "
                       "%s dgst -sha256 -binary | base64" % (OPENSSL, pem, OPENSSL, OPENSSL),
                       shell=True, check=True, stdout=subprocess.PIPE, text=True)
    return p.stdout.strip()


@pytest.fixture(scope="module")
def pki():
    d = H.make_tree("nsso-h2-pki-")
    make_pki(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def auth8():
    d = H.DevAuth(extra_args=["--access-token-lifetime", str(LIFETIME)]).start()
    yield d
    d.cleanup()


class Site:
    """The httpd and its TLS port."""

    def __init__(self, h, tls_port, pki_dir):
        self.h, self.tls, self.pki = h, tls_port, pki_dir

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.tls, path)


@pytest.fixture(scope="module")
def ws_backend():
    ws = H.ReadyServer([H.PYTHON, os.path.join(H.HERE, "backend_ws.py"), "--port", "0"]).start()
    yield ws
    ws.cleanup()


@pytest.fixture(scope="module")
def tls_site(module_httpd_factory, auth8, pki, echo_backend, ws_backend):
    tls = H.free_port()
    h = module_httpd_factory(
        auth_url=auth8.auth_url,
        nsso_extra="NomisSSOClockSkew 0\nNomisSSORefreshBeforeExpiry %d" % WINDOW,
        extra=lambda h: TLS_CONF.format(moddir=H.MODDIR, dir=h.dir, tls=tls, pki=pki,
                                        echo=echo_backend.port, ws=ws_backend.port))
    return Site(h, tls, pki)


@pytest.fixture
def site(tls_site, request):
    from conftest import serving
    serving(request, tls_site.h)
    return tls_site


# ---------------------------------------------------------------------------
# curl --http2
# ---------------------------------------------------------------------------
class Resp:
    def __init__(self, version, status, headers, body):
        self.version, self.status, self.headers, self.body = version, status, headers, body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def cookies(self):
        return {n: (v, a) for n, v, a in (H.parse_set_cookie(v) for k, v in self.headers
                                          if k.lower() == "set-cookie")}


def curl(site, url, cookies=None, headers=None, http2=True):
    d = tempfile.mkdtemp(prefix="nsso-curl-")
    try:
        argv = [CURL, "-sS", "--cacert", os.path.join(site.pki, "ca.pem"),
                "-D", os.path.join(d, "h"), "-o", os.path.join(d, "b"),
                "-w", "%{http_version}", "--max-time", "20",
                "-H", "Accept: text/html"]
        argv.append("--http2" if http2 else "--http1.1")
        if cookies:
            argv += ["-b", "; ".join("%s=%s" % kv for kv in cookies.items())]
        for k, v in (headers or {}).items():
            argv += ["-H", "%s: %s" % (k, v)]
        p = subprocess.run(argv + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        with open(os.path.join(d, "h"), encoding="latin-1") as f:
            lines = [ln.rstrip("\r\n") for ln in f]
        with open(os.path.join(d, "b"), encoding="utf-8", errors="replace") as f:
            body = f.read()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    status = int(lines[0].split()[1])
    hdrs = [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:] if ":" in ln]
    return Resp(p.stdout.strip(), status, hdrs, body)


def curl_sign_in(site, auth, user="ALLOC_SPO", path="/protected/env"):
    """The whole sign-in with curl --http2 to httpd (devauth's form through
    requests): the session cookie."""
    r = curl(site, site.url(path))
    assert r.version == "2" and r.status == 302, (r.version, r.status, r.body)
    loc = r.header("Location")
    assert loc.startswith(auth.auth_url + "/oauth/authorize?"), loc
    assert "redirect_uri=https%3A%2F%2F127.0.0.1%3A" + str(site.tls) in loc, loc
    state = {n: v for n, (v, a) in r.cookies().items() if n.startswith(H.STATE_PREFIX)}
    assert state, r.headers
    for n, (v, a) in r.cookies().items():
        assert a.get("secure") is True and a.get("httponly") is True, (n, a)
    callback = H.Browser(site.h, auth).authorize(loc, user)
    cb = curl(site, callback, cookies=state)
    assert cb.version == "2" and cb.status == 302, (cb.status, cb.body, site.h.log_tail())
    sid, attrs = cb.cookies()[H.COOKIE]
    assert sid and attrs.get("secure") is True and attrs.get("httponly") is True, attrs
    assert urljoin(site.url("/"), cb.header("Location")) == site.url(path)
    return sid


def test_sign_in_session_and_sign_out_over_h2_with_curl(site, auth8):
    sid = curl_sign_in(site, auth8)
    r = curl(site, site.url("/protected/env"), cookies={H.COOKIE: sid})
    assert r.version == "2" and r.status == 200, r.body
    env = H.cgi_env(r.body)
    assert env["REMOTE_USER"] == "ALLOC_SPO" and env["HTTPS"] == "on", env
    assert env["SERVER_PROTOCOL"] == "HTTP/2.0", env
    assert "ALLOC_MGR" in env["NOMIS_SSO_ROLES"], env
    # HSTS is the sysadmin's to set (mod_headers), never the module's
    assert r.header("Strict-Transport-Security") is None, r.headers
    # sign-out the service's own link would do (Sec-Fetch-Site same-origin)
    r = curl(site, site.url("/nomis-sso/logout"), cookies={H.COOKIE: sid},
             headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status == 302 and r.header("Location").startswith(auth8.auth_url + "/sign-out?")
    v, attrs = r.cookies()[H.COOKIE]
    assert v == "" and attrs.get("max-age") == "0" and attrs.get("secure") is True, attrs
    r = curl(site, site.url("/protected/env"), cookies={H.COOKIE: sid})
    assert r.status == 302, "the session outlived sign-out"


def test_bearer_token_over_h2(site, auth8):
    token = auth8.mint(username="ALLOC_POM", lifetime=300)["access_token"]
    r = curl(site, site.url("/api/env"), headers={"Authorization": "Bearer " + token,
                                                  "Accept": "application/json"})
    assert r.version == "2" and r.status == 200, (r.status, r.body)
    env = H.cgi_env(r.body)
    assert env["REMOTE_USER"] == "ALLOC_POM" and env["AUTH_TYPE"] == "nomis-bearer", env
    r = curl(site, site.url("/api/env"), headers={"Authorization": "Bearer " + token[:-4] + "AAAA",
                                                  "Accept": "application/json"})
    assert r.status == 401


def test_spoofed_headers_stripped_over_h2(site, auth8):
    sid = curl_sign_in(site, auth8, user="ALLOC_POM", path="/protected/app")
    r = curl(site, site.url("/protected/app"), cookies={H.COOKIE: sid},
             headers={"X-Nomis-User": "EVIL", "X-Nomis-Roles": "ALLOC_MGR",
                      "X-Nomis-Made-Up": "1"})
    assert r.version == "2" and r.status == 200, r.body
    import json
    got = [(k, v) for k, v in json.loads(r.body)["headers"] if k.lower().startswith("x-nomis-")]
    names = {k.lower(): v for k, v in got}
    assert names.get("x-nomis-user") == "ALLOC_POM", got
    assert names.get("x-nomis-roles") == "ALLOC_CASE_MGR", got
    assert "x-nomis-made-up" not in names and len([k for k, _ in got
                                                  if k.lower() == "x-nomis-user"]) == 1, got


# ---------------------------------------------------------------------------
# many streams on one connection (python3-h2)
# ---------------------------------------------------------------------------
def h2_many(site, requests_):
    """[(path, cookie)] sent as concurrent streams on ONE TLS h2 connection:
    [(status, body)] in the same order."""
    import h2.config
    import h2.connection
    import h2.events
    ctx = ssl.create_default_context(cafile=os.path.join(site.pki, "ca.pem"))
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", site.tls), timeout=30)
    sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        assert sock.selected_alpn_protocol() == "h2"
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        streams = {}
        for i, (path, cookie) in enumerate(requests_):
            sid = conn.get_next_available_stream_id()
            streams[sid] = {"i": i, "status": None, "body": b"", "done": False}
            conn.send_headers(sid, [(":method", "GET"), (":scheme", "https"),
                                    (":authority", "127.0.0.1:%d" % site.tls),
                                    (":path", path), ("accept", "text/html"),
                                    ("cookie", "%s=%s" % (H.COOKIE, cookie))],
                              end_stream=True)
        sock.sendall(conn.data_to_send())
        deadline = time.monotonic() + 30
        while not all(s["done"] for s in streams.values()):
            assert time.monotonic() < deadline, "h2 streams did not all end"
            data = sock.recv(65536)
            assert data, "connection closed by the server"
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    streams[ev.stream_id]["status"] = int(dict(ev.headers)[b":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    streams[ev.stream_id]["body"] += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    streams[ev.stream_id]["done"] = True
            sock.sendall(conn.data_to_send())
        conn.close_connection()
        sock.sendall(conn.data_to_send())
    finally:
        sock.close()
    out = sorted(streams.values(), key=lambda s: s["i"])
    return [(s["status"], s["body"].decode("utf-8", "replace")) for s in out]


def ws_messages(buf):
    """The payloads of the complete WebSocket frames at the start of buf."""
    import io
    from backend_ws import read_frame
    f, out = io.BytesIO(buf), []
    while True:
        try:
            out.append(read_frame(f)[1])
        except (EOFError, ValueError):
            return out


def h2_websocket(site, path, cookie=None):
    """A WebSocket over h2 (RFC 8441 extended CONNECT, H2WebSockets on):
    (status, the backend's first message or None, its echo of "ping")."""
    import json
    import h2.config
    import h2.connection
    import h2.events
    import h2.settings
    from backend_ws import frame
    ctx = ssl.create_default_context(cafile=os.path.join(site.pki, "ca.pem"))
    ctx.set_alpn_protocols(["h2"])
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", site.tls), timeout=20),
                           server_hostname="127.0.0.1")
    buf, status, ended = b"", None, False
    try:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        # the server must offer extended CONNECT before a client may use it
        while conn.remote_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL) != 1:
            data = sock.recv(65536)
            assert data, "closed before SETTINGS"
            conn.receive_data(data)
            sock.sendall(conn.data_to_send())
        sid = conn.get_next_available_stream_id()
        headers = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"),
                   (":authority", "127.0.0.1:%d" % site.tls), (":path", path),
                   ("sec-websocket-version", "13"), ("x-nomis-user", "EVIL")]
        if cookie:
            headers.append(("cookie", "%s=%s" % (H.COOKIE, cookie)))
        conn.send_headers(sid, headers)
        sock.sendall(conn.data_to_send())
        sent_ping = False
        deadline = time.monotonic() + 20
        sock.settimeout(0.5)
        while time.monotonic() < deadline and not ended:
            # the ping goes once the tunnel is up: mod_http2 may hold the
            # backend's first message until the client has sent data
            if status == 200 and not sent_ping:
                conn.send_data(sid, frame(b"ping", mask=os.urandom(4)))
                sock.sendall(conn.data_to_send())
                sent_ping = True
            if sent_ping and len(ws_messages(buf)) >= 2:
                break
            try:
                data = sock.recv(65536)
            except (socket.timeout, TimeoutError):
                continue
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    status = int(dict(ev.headers)[b":status"])
                elif isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    buf += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, (h2.events.StreamEnded, h2.events.StreamReset)):
                    ended = ended or ev.stream_id == sid
            sock.sendall(conn.data_to_send())
    finally:
        sock.close()
    if status != 200:
        return status, None, None
    msgs = ws_messages(buf)
    assert len(msgs) == 2, buf
    return status, json.loads(msgs[0]), msgs[1]


def test_websocket_over_h2_keeps_the_identity_check(site, auth8):
    status, hello, _ = h2_websocket(site, "/protected/live")
    assert status in (302, 401), "a WebSocket without a session got %s" % status
    sid = curl_sign_in(site, auth8, "ALLOC_POM")
    status, hello, echo = h2_websocket(site, "/protected/live", sid)
    assert status == 200, site.h.log_tail()
    seen = hello["headers"]
    assert seen.get("X-Nomis-User") == "ALLOC_POM", seen
    assert seen.get("X-Nomis-Roles") == "ALLOC_CASE_MGR", seen
    assert echo == b"echo:ping"


def refreshes(auth):
    return auth.stats().get("grants", {}).get("refresh_token", 0)


def test_many_streams_one_session_one_refresh(site, auth8):
    sid = curl_sign_in(site, auth8)
    r = curl(site, site.url("/protected/env"), cookies={H.COOKIE: sid})
    exp = int(H.cgi_env(r.body)["NOMIS_SSO_EXPIRES"])
    before = refreshes(auth8)
    delay = exp - WINDOW + 1 - time.time()
    if delay > 0:
        time.sleep(delay)
    assert exp - time.time() > 1, "too slow to test inside the window"
    got = h2_many(site, [("/protected/env?n=%d" % i, sid) for i in range(30)])
    users = [H.cgi_env(b).get("REMOTE_USER") for _, b in got]
    assert [s for s, _ in got] == [200] * 30, got[:2]
    assert users == ["ALLOC_SPO"] * 30, users
    assert refreshes(auth8) == before + 1, auth8.stats()
    expires = {H.cgi_env(b)["NOMIS_SSO_EXPIRES"] for _, b in got}
    assert all(int(e) >= exp for e in expires), expires


def test_two_users_interleaved_on_one_connection(site, auth8):
    spo = curl_sign_in(site, auth8, "ALLOC_SPO")
    pom = curl_sign_in(site, auth8, "ALLOC_POM")
    plan = [(("/protected/env?n=%d" % i), spo if i % 2 == 0 else pom) for i in range(40)]
    got = h2_many(site, plan)
    for i, (status, body) in enumerate(got):
        env = H.cgi_env(body)
        want = "ALLOC_SPO" if i % 2 == 0 else "ALLOC_POM"
        assert status == 200, (i, body)
        assert env.get("QUERY_STRING") == "n=%d" % i
        assert env.get("REMOTE_USER") == want, (i, env.get("REMOTE_USER"))
        assert env.get("NOMIS_SSO_ROLES") == ("ALLOC_MGR" if want == "ALLOC_SPO"
                                              else "ALLOC_CASE_MGR"), env
        assert env.get("SERVER_PROTOCOL") == "HTTP/2.0"


# ---------------------------------------------------------------------------
# Chromium over h2
# ---------------------------------------------------------------------------
def test_sign_in_and_out_with_chromium_over_h2(site, auth8):
    if not H.chromium_available():
        pytest.skip("chromium/chromedriver not installed")
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    driver, cleanup = H.chromium(["--ignore-certificate-errors-spki-list=" +
                                  spki_hash(os.path.join(site.pki, "server.pem"))])
    try:
        wait = WebDriverWait(driver, 20)
        driver.get(site.url("/protected/env?from=chromium"))
        wait.until(EC.presence_of_element_located((By.ID, "username")))
        driver.find_element(By.ID, "username").send_keys("ALLOC_SPO")
        driver.find_element(By.ID, "password").send_keys(H.PASSWORD)
        driver.find_element(By.ID, "submit").click()

        def shows_env(d):
            try:
                return "REMOTE_USER=" in d.find_element(By.TAG_NAME, "body").text
            except WebDriverException:
                return False
        wait.until(shows_env)
        env = H.cgi_env(driver.find_element(By.TAG_NAME, "body").text)
        assert env["REMOTE_USER"] == "ALLOC_SPO" and env["SERVER_PROTOCOL"] == "HTTP/2.0", env
        proto = driver.execute_script(
            "return performance.getEntriesByType('navigation')[0].nextHopProtocol")
        assert proto == "h2", proto
        cookie = {c["name"]: c for c in driver.get_cookies()}[H.COOKIE]
        assert cookie["secure"] is True and cookie["httpOnly"] is True, cookie
        # typed sign-out (Sec-Fetch-Site: none) ends the session
        driver.get(site.url("/nomis-sso/logout"))
        # through HMPPS Auth's sign-out and back to this site's home page
        WebDriverWait(driver, 20).until(lambda d: d.current_url == site.url("/"))
        assert H.COOKIE not in {c["name"] for c in driver.get_cookies()}
        driver.get(site.url("/protected/env"))
        wait.until(EC.presence_of_element_located((By.ID, "username")))
        assert driver.current_url.startswith(auth8.auth_url + "/oauth/authorize?")
    finally:
        cleanup()
