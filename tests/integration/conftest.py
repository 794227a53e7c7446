"""pytest fixtures for the integration suite: a dev auth server for the whole
run, httpd instances per module or per test (all made by HttpdFactory), and
a report hook that adds the error_log tail of every httpd a failed test
used."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness as H  # noqa: E402
from backend_echo import EchoBackend  # noqa: E402


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
# the echo backend: a proxied application that answers with the request
# headers it received (what X-Nomis-* reach an application)
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def echo_backend():
    e = EchoBackend(H.PYTHON).start()
    yield e
    e.stop()


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
# httpd: one factory, at two scopes
# ---------------------------------------------------------------------------
# the nsso_directives() keywords a factory call may give beside nsso_extra
NSSO_KW = ("client_id", "secret", "passphrase", "timeout", "refetch", "internal_url")


class HttpdFactory:
    """make(start=True, auth_url=None, extra="", nsso_extra=None, **Httpd
    options) -> an Httpd, removed at cleanup().

    extra is the site configuration after the standard <Location>s: text, or
    a function of the new Httpd (for paths inside its directory). nsso_extra
    adds NomisSSO* lines to the standard NomisSSO block (with the NSSO_KW
    keywords); nsso_conf replaces the block. Started unless start=False.
    An httpd that fails to start stays until the test's teardown (its
    error_log goes into the failure report); a module's is removed at once."""

    def __init__(self, auth, request=None):
        self.auth = auth
        self.request = request
        self.made = []

    def __call__(self, start=True, auth_url=None, extra="", nsso_extra=None, **kw):
        auth_url = auth_url or self.auth.auth_url
        if nsso_extra is not None:
            nsso_kw = {k: kw.pop(k) for k in NSSO_KW if k in kw}
            kw["nsso_conf"] = H.nsso_directives(auth_url, extra=nsso_extra, **nsso_kw)
        h = H.Httpd(auth_url, **kw)
        self.made.append(h)
        if self.request is not None:
            _track(self.request, h)
        try:
            if callable(extra):
                extra = extra(h)
            if extra:
                h.params["extra"] = extra
                h.write_conf()
            if start:
                h.start()
        except BaseException:
            if self.request is None:
                self.made.remove(h)
                h.cleanup()
            raise
        return h

    def cleanup(self):
        while self.made:
            self.made.pop().cleanup()


@pytest.fixture
def httpd_factory(devauth, request):
    """HttpdFactory for one test: its httpds are stopped and removed after it
    (and named in its failure report)."""
    f = HttpdFactory(devauth, request)
    yield f
    f.cleanup()


@pytest.fixture(scope="module")
def module_httpd_factory(devauth_server):
    """HttpdFactory for a test module's shared httpds, removed after the
    module; a per-test fixture hands them out through serving()."""
    f = HttpdFactory(devauth_server)
    yield f
    f.cleanup()


def serving(request, h):
    """h (a module's shared httpd), checked alive for the test that asks and
    named in its failure report."""
    if not h.running():
        pytest.fail("httpd %s is down\n%s" % (h.port, h.log_tail()))
    _track(request, h)
    return h


@pytest.fixture(scope="module")
def shared_httpd(module_httpd_factory):
    """One event-MPM httpd for the tests of a module that don't change it."""
    return module_httpd_factory(mpm="event")


@pytest.fixture
def site(shared_httpd, devauth, request):
    """The shared httpd, checked to be alive for this test."""
    return serving(request, shared_httpd)


@pytest.fixture
def browser(site, devauth):
    return H.Browser(site, devauth)
