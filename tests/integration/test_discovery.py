"""HMPPS Auth discovery (issue 11 part 3) through a real httpd and the dev
auth server: the module reads <AuthURL>/issuer/.well-known/openid-configuration
at start-up and again with each JWKS fetch and follows its endpoints; explicit
directives win; a document naming another issuer is refused and logged;
HMPPS Auth down at start-up does not stop httpd, which starts on the
documented endpoints and picks the document up once HMPPS Auth is back.

devauth's discovery fault "moved" serves a document whose authorize, token and
JWKS endpoints are under /auth/alt/ (counted as authorize_alt, token_alt,
jwks_alt), so following the document shows in the counters."""

import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
from urllib.parse import urljoin

import pytest
import requests

import harness as H
from conftest import _track

# one child process: the endpoints a child learnt show in its next sign-in
ONE_CHILD = ("StartServers 1\nMinSpareThreads 5\nMaxSpareThreads 25\n"
             "ThreadsPerChild 25\nMaxRequestWorkers 25\nServerLimit 1\n")


def requests_to(auth, endpoint):
    return auth.stats()["requests"].get(endpoint, 0)


def counts(auth, *names):
    return {n: requests_to(auth, n) for n in names}


@pytest.fixture
def made(request):
    hs = []

    def make(auth_url, extra_nsso="", internal_url=None, **kw):
        conf = H.nsso_directives(auth_url, internal_url=internal_url, extra=extra_nsso)
        h = H.Httpd(auth_url, nsso_conf=conf, mpm_conf=ONE_CHILD, **kw)
        hs.append(h)
        _track(request, h)
        h.start()
        return h

    yield make
    for h in hs:
        h.cleanup()


def login_ok(h, auth, user="ALLOC_SPO"):
    """Sign in wherever the module sends the browser (H.Browser.login insists
    on the default authorize path); the final page."""
    b = H.Browser(h, auth)
    r = b.get("/protected/env")
    loc = r.headers.get("Location", "")
    assert r.status_code == 302 and loc.startswith(auth.auth_url + "/"), h.explain(r)
    cb = b.callback(b.authorize(loc, user))
    assert cb.status_code == 302, h.explain(cb, "callback")
    page = b.get(urljoin(h.base + "/", cb.headers["Location"]))
    assert page.status_code == 200, h.explain(page, "sign-in failed")
    assert H.cgi_env(page.text).get("REMOTE_USER") == user, page.text
    return page


def test_endpoints_from_the_document(made, devauth):
    devauth.fault("discovery", "moved")
    before = counts(devauth, "discovery", "authorize", "token", "jwks",
                    "authorize_alt", "token_alt", "jwks_alt")
    h = made(devauth.auth_url)
    assert requests_to(devauth, "discovery") > before["discovery"], "not read at start-up"
    assert re.search(r"discovery: .*openid-configuration read", h.log_since()), h.log_tail()
    login_ok(h, devauth)
    after = counts(devauth, *before)
    for alt in ("authorize_alt", "token_alt", "jwks_alt"):
        assert after[alt] > before[alt], (alt, before, after)
    for plain in ("authorize", "token", "jwks"):
        assert after[plain] == before[plain], (plain, before, after)


def test_internal_url_wins_over_the_document(made, devauth):
    """With NomisSSOAuthInternalURL the token and JWKS endpoints stay under it;
    the browser still goes to the documented authorize endpoint."""
    devauth.fault("discovery", "moved")
    before = counts(devauth, "authorize_alt", "token", "jwks", "token_alt", "jwks_alt")
    h = made(devauth.auth_url, internal_url=devauth.auth_url)
    login_ok(h, devauth)
    after = counts(devauth, *before)
    assert after["authorize_alt"] > before["authorize_alt"], (before, after)
    assert after["token"] > before["token"] and after["token_alt"] == before["token_alt"]
    assert after["jwks_alt"] == before["jwks_alt"], (before, after)


def test_discovery_off(made, devauth):
    devauth.fault("discovery", "moved")
    before = counts(devauth, "discovery", "token", "token_alt")
    h = made(devauth.auth_url, extra_nsso="NomisSSODiscovery Off")
    login_ok(h, devauth)
    after = counts(devauth, *before)
    assert after["discovery"] == before["discovery"], (before, after)
    assert after["token"] > before["token"] and after["token_alt"] == before["token_alt"]


def test_wrong_issuer_is_refused_and_logged(made, devauth):
    devauth.fault("discovery", "wrong_issuer")
    before = counts(devauth, "discovery", "token")
    h = made(devauth.auth_url)
    log = h.log_since()
    assert requests_to(devauth, "discovery") > before["discovery"]
    m = re.search(r":error\].*discovery: the document at \S+ is refused: its issuer "
                  r"'https://wrong-issuer\.invalid/auth/issuer' is not the one expected, "
                  r"'([^']*)'", log)
    assert m and m.group(1) == devauth.auth_url + "/issuer", log
    # the documented endpoints are used instead: sign-in still works
    login_ok(h, devauth)
    assert requests_to(devauth, "token") > before["token"]


def test_auth_down_at_start_up(made):
    """httpd starts with HMPPS Auth unreachable, on the documented endpoints;
    once it is up sign-in works and the child reads the document (its next
    JWKS fetch), so the next sign-in follows it."""
    port = H.free_port()
    auth_url = "http://127.0.0.1:%d/auth" % port
    h = made(auth_url)
    log = h.log_since()
    assert re.search(r":warn\].*discovery: cannot read http://127\.0\.0\.1:%d/auth/issuer/"
                     r"\.well-known/openid-configuration.*starting on the documented "
                     r"endpoints" % port, log), log
    auth = H.DevAuth(port=port).start()
    try:
        auth.fault("discovery", "moved")
        time.sleep(1.1)  # past NomisSSOJWKSRefetchInterval (1) since the start-up try
        login_ok(h, auth)  # documented defaults: HMPPS Auth's real paths
        assert requests_to(auth, "token") == 1 and requests_to(auth, "discovery") >= 1
        assert requests_to(auth, "jwks_alt") >= 1, auth.stats()
        login_ok(h, auth, "ALLOC_POM")
        assert requests_to(auth, "authorize_alt") >= 1 and requests_to(auth, "token_alt") >= 1
        assert re.search(r":notice\].*discovery: .* read again", h.log_since()), h.log_tail()
    finally:
        auth.cleanup()


def test_bearer_only_server_follows_the_document(made, devauth):
    """A bearer-only server (NomisSSOAuthURL alone) takes its keys from the
    documented jwks_uri too."""
    devauth.fault("discovery", "moved")
    j0 = counts(devauth, "jwks", "jwks_alt")
    h = made(devauth.auth_url)
    h.params["nsso_conf"] = "NomisSSOAuthURL %s\n" % devauth.auth_url
    h.stop()
    h.write_conf()
    with open(h.conf_path, encoding="utf-8") as f:
        text = f.read()
    H.write_file(h.conf_path, text.replace("AuthType nomis-sso", "AuthType nomis-bearer"))
    h.start()
    tok = devauth.mint(username="ALLOC_SPO")["access_token"]
    r = requests.get(h.url("/protected/env"), timeout=10,
                     headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200, h.explain(r)
    j1 = counts(devauth, "jwks", "jwks_alt")
    assert j1["jwks_alt"] > j0["jwks_alt"] and j1["jwks"] == j0["jwks"], (j0, j1)


# ---------------------------------------------------------------------------
# HMPPS Auth over https (as in production): devauth behind a TLS front
# ---------------------------------------------------------------------------
class TlsFront:
    """A TLS terminator on 127.0.0.1 forwarding each connection to a plain
    backend port: HMPPS Auth as the module meets it in production."""

    def __init__(self, certfile, keyfile):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certfile, keyfile)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.backend = None
        self.closed = False

    def start(self, backend_port):
        self.backend = backend_port
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while not self.closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
            back = socket.create_connection(("127.0.0.1", self.backend))
        except (OSError, ssl.SSLError):
            conn.close()
            return
        try:
            while True:
                ready = [tls] if tls.pending() else \
                    select.select([tls, back], [], [], 30)[0]
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (back if s is tls else tls).sendall(data)
        except (OSError, ssl.SSLError):
            return
        finally:
            tls.close()
            back.close()

    def close(self):
        self.closed = True
        self.sock.close()


@pytest.fixture
def https_auth():
    """(devauth whose public URL is https://127.0.0.1:<front>/auth, the CA
    file that trusts the front)."""
    d = H.make_tree("nsso-tls-")  # readable by httpd's children (www-data)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(cert, 0o644)
    front = TlsFront(cert, key)
    base = "https://127.0.0.1:%d/auth" % front.port
    auth = H.DevAuth(extra_args=["--public-url", base]).start()
    front.start(auth.port)
    auth.https_url = base
    try:
        yield auth, cert
    finally:
        front.close()
        auth.cleanup()
        shutil.rmtree(d, ignore_errors=True)


def test_discovery_over_https(made, https_auth):
    """The document read through TLS with NomisSSOCACertificateFile; a
    bearer-only API and a sign-in both follow it."""
    auth, ca = https_auth
    auth.fault("discovery", "moved")
    h = made(auth.https_url, extra_nsso="NomisSSOCACertificateFile %s" % ca)
    assert re.search(r"discovery: https://127\.0\.0\.1:\d+/auth/issuer/\.well-known/"
                     r"openid-configuration read: token endpoint https://\S+/alt/oauth/token",
                     h.log_since()), h.log_tail()
    # sign-in: the browser at the documented authorize endpoint, the child's
    # token exchange and JWKS fetch through TLS with the CA file
    b = H.Browser(h, auth)
    b.s.verify = ca
    r = b.get("/protected/env")
    loc = r.headers.get("Location", "")
    assert r.status_code == 302 and loc.startswith(auth.https_url + "/alt/oauth/authorize?"), \
        h.explain(r)
    cb = b.callback(b.authorize(loc.replace(auth.https_url, auth.auth_url), "ALLOC_SPO"))
    assert cb.status_code == 302, h.explain(cb, "callback")
    page = b.get(urljoin(h.base + "/", cb.headers["Location"]))
    assert page.status_code == 200 and "REMOTE_USER=ALLOC_SPO" in page.text, h.explain(page)
    n = auth.stats()["requests"]
    assert n.get("token_alt", 0) == 1 and n.get("jwks_alt", 0) >= 1, n


def test_https_untrusted_certificate_does_not_stop_httpd(made, https_auth):
    """Without the CA file the certificate is not trusted: discovery fails
    with a warning, httpd starts on the documented endpoints."""
    auth, _ = https_auth
    auth.fault("discovery", "moved")
    h = made(auth.https_url)
    assert re.search(r":warn\].*discovery: cannot read https://.*starting on the documented",
                     h.log_since()), h.log_tail()
    r = H.Browser(h, auth).get("/protected/env")
    assert r.status_code == 302 and r.headers["Location"].startswith(
        auth.https_url + "/oauth/authorize?"), h.explain(r)
