"""tools/demo as a person runs it (without its install and build steps:
NSSO_DEMO_NO_BUILD=1, the module under test): it starts devauth, the NOMIS
API stand-in, the Flask allocation manager and httpd on loopback ports of the
test's choosing; a member of staff signs in through it, sees their
allocations (fetched with their token), only ALLOC_MGR opens the allocate
page, sign-out works, and `tools/demo stop` stops all four."""

import os
import shutil
import subprocess
import tempfile
import time

import pytest

import harness as H

DEMO = os.path.join(H.SRCDIR, "tools", "demo")


class Place:
    """What H.Browser needs of an httpd and a devauth: base URLs."""

    def __init__(self, base, rundir):
        self.base, self.rundir = base, rundir
        self.auth_url = base + "/auth"

    def url(self, path):
        return self.base + path

    def explain(self, resp=None, what=""):
        logs = "\n".join("---- %s ----\n%s" % (n, H.tail(os.path.join(self.rundir, n)))
                         for n in ("error.log", "app.log", "api.log", "devauth.log"))
        if resp is not None:
            what += "\nresponse: %s %s\n%.600s" % (resp.status_code, resp.url, resp.text)
        return what + "\n" + logs

    def log_tail(self):
        return self.explain()


@pytest.fixture
def demo():
    rundir = tempfile.mkdtemp(prefix="nsso-demo-")
    ports = H.free_ports(4)
    env = dict(os.environ, NSSO_DEMO_NO_BUILD="1", NSSO_MODULE=H.MODULE, NSSO_HTTPD=H.HTTPD,
               NSSO_DEMO_DIR=rundir, NSSO_DEMO_PORT=str(ports[0]),
               NSSO_DEMO_AUTH_PORT=str(ports[1]), NSSO_DEMO_APP_PORT=str(ports[2]),
               NSSO_DEMO_API_PORT=str(ports[3]))
    p = subprocess.run([DEMO], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=120)
    try:
        assert p.returncode == 0, p.stdout
        yield {"ports": ports, "env": env, "out": p.stdout,
               "site": Place("http://127.0.0.1:%d" % ports[0], rundir),
               "auth": Place("http://127.0.0.1:%d" % ports[1], rundir)}
    finally:
        subprocess.run([DEMO, "stop"], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(rundir, ignore_errors=True)


def test_demo_signs_in_shows_allocations_and_stops(demo):
    site, auth = demo["site"], demo["auth"]
    assert "/allocations/" in demo["out"] and "ALLOC_SPO" in demo["out"]
    for port in demo["ports"]:
        assert H.port_open(port), "nothing listens on %d" % port
    spo = H.Browser(site, auth)
    _, page = spo.login("/allocations/", username="ALLOC_SPO")
    assert page.status_code == 200, site.explain(page)
    assert 'id="user">ALLOC_SPO<' in page.text and "ALLOC_MGR" in page.text
    assert "The NOMIS API checked the token of <strong>ALLOC_SPO</strong>" in page.text
    assert 'id="menu-allocate"' in page.text
    assert spo.get("/allocations/allocate").status_code == 200
    # the debugging endpoint stays closed in the demo
    assert spo.get("/allocations/whoami.json").status_code == 403

    pom = H.Browser(site, auth)
    _, page = pom.login("/allocations/", username="ALLOC_POM")
    assert page.status_code == 200 and 'id="menu-allocate"' not in page.text, site.explain(page)
    r = pom.get("/allocations/allocate")
    assert r.status_code == 403, site.explain(r)

    # sign out: the session is gone
    r = spo.get("/nomis-sso/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 302 and r.headers["Location"].startswith(auth.auth_url + "/sign-out")
    assert spo.get("/allocations/").status_code == 302

    p = subprocess.run([DEMO, "stop"], env=demo["env"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert p.returncode == 0, p.stdout
    deadline = time.monotonic() + 10
    while any(H.port_open(port) for port in demo["ports"]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(H.port_open(port) for port in demo["ports"]), "tools/demo stop left a server"
