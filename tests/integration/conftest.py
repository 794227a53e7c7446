"""pytest fixtures for the integration suite: a dev auth server for the whole
run, httpd instances per module or per test, and a report hook that adds the
error_log tail of every httpd a failed test used."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402


def pytest_report_header(config):
    return ["mod_nomis_sso: module %s, httpd %s" % (H.MODULE, H.HTTPD)]


@pytest.fixture(scope="session", autouse=True)
def _module_built():
    if not os.path.exists(H.MODULE):
        pytest.skip("module not built: %s (run make first)" % H.MODULE)
    if not os.access(H.HTTPD, os.X_OK):
        pytest.skip("no httpd at %s" % H.HTTPD)


def _track(request, obj):
    """Remember an httpd or devauth used by the running test (for failure reports)."""
    node = request.node
    used = getattr(node, "_nsso_used", None)
    if used is None:
        used = node._nsso_used = []
    if obj not in used:
        used.append(obj)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and call.when in ("setup", "call"):
        for obj in getattr(item, "_nsso_used", []):
            if isinstance(obj, H.Httpd):
                rep.sections.append(("httpd %s error_log" % obj.port, obj.log_tail(60)))
            elif isinstance(obj, H.DevAuth):
                rep.sections.append(("devauth %s log" % obj.port, obj.log_tail(30)))


# ---------------------------------------------------------------------------
# devauth
# ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def devauth_server():
    d = H.DevAuth().start()
    yield d
    d.cleanup()


@pytest.fixture
def devauth(devauth_server, request):
    """The shared dev auth server, without faults before and after the test."""
    if devauth_server.proc is None or devauth_server.proc.poll() is not None:
        devauth_server.proc = None
        devauth_server.start()
    devauth_server.clear_faults()
    _track(request, devauth_server)
    yield devauth_server
    devauth_server.clear_faults()


@pytest.fixture
def private_devauth(request):
    """A dev auth server of the test's own (it may be stopped by the test)."""
    d = H.DevAuth().start()
    _track(request, d)
    yield d
    d.cleanup()


# ---------------------------------------------------------------------------
# httpd
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shared_httpd(devauth_server):
    """One event-MPM httpd for the tests of a module that don't change it."""
    h = H.Httpd(devauth_server.auth_url, mpm="event")
    try:
        h.start()
    except Exception:
        h.cleanup()
        raise
    yield h
    h.cleanup()


@pytest.fixture
def site(shared_httpd, devauth, request):
    """The shared httpd, checked to be alive for this test."""
    if not shared_httpd.running():
        pytest.fail("shared httpd is down\n" + shared_httpd.log_tail())
    _track(request, shared_httpd)
    return shared_httpd


@pytest.fixture
def httpd_factory(devauth, request):
    """make(start=True, auth_url=<devauth>, **Httpd options) -> a started Httpd,
    stopped and removed after the test."""
    made = []

    def make(start=True, auth_url=None, **kw):
        h = H.Httpd(auth_url or devauth.auth_url, **kw)
        made.append(h)
        _track(request, h)
        if start:
            h.start()
        return h

    yield make
    for h in made:
        h.cleanup()


@pytest.fixture
def browser(site, devauth):
    return H.Browser(site, devauth)
