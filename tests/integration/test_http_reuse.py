"""Connections to HMPPS Auth reused per child (src/http.c): devauth serves
https itself (--tls-cert, a private CA made here) and counts the connections
it accepts. Sign-ins through one httpd child open far fewer connections than
the token, user and caseload calls they make."""

import os
import shutil
import threading
import subprocess

import pytest

import harness as H

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
ONE_CHILD = ("StartServers 1\nServerLimit 1\nMinSpareThreads 1\nMaxSpareThreads 25\n"
             "ThreadsPerChild 25\nMaxRequestWorkers 25\n")
SIGN_INS = 8


def _pki(d):
    def run(*args):
        subprocess.run(args, cwd=d, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    run(OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=nsso test CA", "-keyout", "ca.key", "-out", "ca.pem")
    run(OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=devauth",
        "-keyout", "auth.key", "-out", "auth.csr")
    H.write_file(os.path.join(d, "auth.ext"), "subjectAltName=IP:127.0.0.1\n")
    run(OPENSSL, "x509", "-req", "-in", "auth.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "auth.ext", "-out", "auth.pem")


@pytest.fixture
def tls_auth(monkeypatch):
    d = H.make_tree("nsso-tlsauth-")
    os.chmod(d, 0o755)
    _pki(d)
    # the tests' own requests (browser, test hooks) trust the private CA
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", os.path.join(d, "ca.pem"))
    auth = H.DevAuth(extra_args=["--tls-cert", os.path.join(d, "auth.pem"),
                                 "--tls-key", os.path.join(d, "auth.key")]).start()
    try:
        yield auth, d
    finally:
        auth.cleanup()
        shutil.rmtree(d, ignore_errors=True)


def test_sign_ins_reuse_connections_to_hmpps_auth(tls_auth):
    auth, d = tls_auth
    assert auth.auth_url.startswith("https://")
    h = H.Httpd(auth.auth_url, mpm_conf=ONE_CHILD, nsso_conf=H.nsso_directives(
        auth.auth_url, extra="NomisSSOCACertificateFile %s/ca.pem" % d))
    try:
        h.start()
        b = H.Browser(h, auth)
        _, page = b.login("/protected/env", "ALLOC_SPO")  # warms the JWKS cache
        assert page.status_code == 200, h.explain(page)
        before = auth.stats()
        for _ in range(SIGN_INS):
            b.drop_cookie(H.COOKIE)
            _, page = b.login("/protected/env", "ALLOC_SPO")
            assert page.status_code == 200 and "REMOTE_USER=ALLOC_SPO" in page.text, \
                h.explain(page)
        after = auth.stats()
        calls = sum(after["requests"].values()) - sum(before["requests"].values())
        conns = after["connections"] - before["connections"]
        module_calls = sum(after["requests"][k] - before["requests"][k]
                           for k in ("token", "me", "caseloads", "roles", "jwks", "verify"))
        H.debug("%d sign-ins: %d requests to devauth (%d from the module), %d connections"
                % (SIGN_INS, calls, module_calls, conns))
        assert module_calls >= SIGN_INS  # at least the token exchange each time
        # every connection of the browser and the module would be new without
        # reuse; with it, a handful serve them all
        assert conns <= 4, "%d connections for %d calls" % (conns, calls)
    finally:
        h.cleanup()


def test_concurrent_sign_ins_share_the_pool_safely(tls_auth):
    """Threads of one child taking and returning pooled handles at once: every
    sign-in works, nothing crashes, and the connections stay bounded."""
    auth, d = tls_auth
    h = H.Httpd(auth.auth_url, mpm_conf=ONE_CHILD, nsso_conf=H.nsso_directives(
        auth.auth_url, extra="NomisSSOCACertificateFile %s/ca.pem" % d))
    threads, each = 6, 5
    try:
        h.start()
        before = auth.stats()["connections"]
        results = []

        def worker():
            b = H.Browser(h, auth)
            for _ in range(each):
                b.drop_cookie(H.COOKIE)
                try:
                    _, page = b.login("/protected/env", "ALLOC_SPO")
                    results.append(page.status_code)
                except AssertionError as e:
                    results.append(repr(e))

        ts = [threading.Thread(target=worker) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        assert results == [200] * (threads * each), results
        conns = auth.stats()["connections"] - before
        H.debug("%d concurrent sign-ins: %d connections" % (threads * each, conns))
        # the browsers' own (one or two each) plus at most the pool's 8 handles
        # x 2 connections; without reuse: 2 per sign-in and more
        assert conns <= threads * 2 + 16 + 1, conns
        assert h.running() and "AH00052" not in h.log_since(0)  # no child crashed
    finally:
        h.cleanup()
