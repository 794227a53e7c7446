"""The Debian package, as a sysadmin meets it: tools/package builds
libapache2-mod-nomis-sso_<version>_<arch>.deb from a copy of the tree, lintian
finds nothing, and (as root) it installs disabled, `a2enmod nomis_sso` and
`apache2ctl configtest` pass, the INSTALLED module signs a member of staff in
through the development auth server in a private httpd configured from the
installed nomis_sso.conf, and `a2dismod` + `dpkg --purge` leave nothing behind.

The install goes into the real system (CI is a throwaway root machine): it is
removed again whatever happens, and no service is ever started (a
policy-rc.d refusing service actions is put in place when there is none).
tests/package/run runs this after make check, never beside it."""

import os
import re
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import harness as H  # noqa: E402

SRCDIR = H.SRCDIR
PACKAGE = "libapache2-mod-nomis-sso"
MODULE = "/usr/lib/apache2/modules/mod_nomis_sso.so"
MODS = "/etc/apache2/mods-available"
ENABLED = "/etc/apache2/mods-enabled"
DOCDIR = "/usr/share/doc/" + PACKAGE
POLICY_RC_D = "/usr/sbin/policy-rc.d"
TOOLS = ("dpkg-buildpackage", "dh", "dh_apache2", "fakeroot", "lintian")


def run(cmd, timeout=120, check=True, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, **kw)
    if check:
        assert p.returncode == 0, "%s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stdout)
    return p


def configure_version():
    text = open(os.path.join(SRCDIR, "configure.ac"), encoding="utf-8").read()
    return re.search(r"AC_INIT\(\[[^]]*\], \[([^]]*)\]", text).group(1)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    """Build the package once: (path of the .deb, output directory)."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail("missing %s: run tools/deps" % ", ".join(missing))
    out = str(tmp_path_factory.mktemp("deb"))
    env = dict(os.environ)
    # tools/test runs the unit tests itself: not again inside the package build
    env["DEB_BUILD_OPTIONS"] = "nocheck parallel=%d" % (os.cpu_count() or 1)
    run([os.path.join(SRCDIR, "tools", "package"), out], timeout=900, env=env)
    debs = [f for f in os.listdir(out) if re.match(PACKAGE + r"_[^_]+_[^_]+\.deb$", f)]
    assert len(debs) == 1, os.listdir(out)
    return os.path.join(out, debs[0]), out


def test_named_for_the_configure_version_and_architecture(deb):
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    assert os.path.basename(deb[0]) == "%s_%s-1_%s.deb" % (PACKAGE, configure_version(), arch)


def test_lintian_reports_nothing(deb):
    changes = [f for f in os.listdir(deb[1]) if f.endswith(".changes")]
    assert len(changes) == 1, os.listdir(deb[1])
    p = run(["lintian", "--fail-on", "error,warning", os.path.join(deb[1], changes[0])],
            check=False)
    findings = [line for line in p.stdout.splitlines() if re.match(r"[EW]: ", line)]
    assert p.returncode == 0 and not findings, p.stdout


def test_contents_conffiles_licence_and_dependencies(deb, tmp_path):
    root = str(tmp_path / "root")
    run(["dpkg-deb", "-R", deb[0], root])
    files = {"/" + os.path.relpath(os.path.join(d, n), root)
             for d, _, names in os.walk(root) for n in names}
    for f in (MODULE, MODS + "/nomis_sso.load", MODS + "/nomis_sso.conf",
              DOCDIR + "/copyright", DOCDIR + "/changelog.Debian.gz",
              DOCDIR + "/README.md.gz", DOCDIR + "/directives.md.gz",
              DOCDIR + "/operations.md.gz", DOCDIR + "/security.md.gz"):
        assert f in files, "%s not in the package: %s" % (f, sorted(files))
    assert not [f for f in files if f.startswith("/usr/local")], sorted(files)
    for name in ("nomis_sso.load", "nomis_sso.conf"):
        with open(root + MODS + "/" + name, encoding="utf-8") as got, \
                open(os.path.join(SRCDIR, "conf.d", name), encoding="utf-8") as shipped:
            assert got.read() == shipped.read(), name
    with open(os.path.join(root, "DEBIAN", "conffiles"), encoding="utf-8") as f:
        assert set(f.read().split()) == {MODS + "/nomis_sso.load", MODS + "/nomis_sso.conf"}
    with open(root + DOCDIR + "/copyright", encoding="utf-8") as f:
        text = f.read()
    assert "License: Expat" in text and "Crown Copyright (Ministry of Justice)" in text
    depends = run(["dpkg-deb", "-f", deb[0], "Depends"]).stdout
    for d in ("apache2-api-", "libcjose0", "libjansson4", "libcurl4", "libssl3"):
        assert d in depends, depends


# ---------------------------------------------------------------------------
# installed on the machine
# ---------------------------------------------------------------------------
def installed():
    p = run(["dpkg-query", "-W", "-f", "${Status}", PACKAGE], check=False)
    return p.returncode == 0 and "installed" in p.stdout and "not-installed" not in p.stdout


def leftovers():
    found = [MODULE] if os.path.exists(MODULE) else []
    for d in (MODS, ENABLED):
        found += [os.path.join(d, n) for n in sorted(os.listdir(d)) if n.startswith("nomis_sso.")]
    return found


def remove_package():
    """Disable (so prerm has no reason to restart apache2), then purge."""
    if os.path.exists(os.path.join(ENABLED, "nomis_sso.load")):
        run(["a2dismod", "-q", "-f", "nomis_sso"], check=False)
    if installed() or run(["dpkg-query", "-W", PACKAGE], check=False).returncode == 0:
        run(["dpkg", "--purge", PACKAGE], timeout=120, check=False)


@pytest.fixture
def system():
    """Root, no package or stray module installed before, none after, and no
    service started meanwhile: the maintainer scripts may ask invoke-rc.d to
    restart apache2, which a policy-rc.d answering 101 refuses."""
    if os.geteuid() != 0:
        pytest.skip("installing the package needs root (tools/test runs as root)")
    if not installed() and leftovers():
        pytest.fail("files of mod_nomis_sso not from the package are installed, left "
                    "alone: %s (make uninstall?)" % leftovers())
    own_policy = not os.path.exists(POLICY_RC_D)
    if own_policy:
        H.write_file(POLICY_RC_D, "#!/bin/sh\n# tests/package/test_deb.py: no service "
                     "actions during the package test\nexit 101\n", 0o755)
    try:
        remove_package()  # a run killed half-way
        assert leftovers() == [], "purging the package left %s" % leftovers()
        yield
    finally:
        remove_package()
        if own_policy:
            os.remove(POLICY_RC_D)


def uncommented_conf(devauth, secrets_dir):
    """The installed nomis_sso.conf with its example directives switched on,
    pointing at devauth and at secret files of the test's own."""
    values = {
        "NomisSSOAuthURL": devauth.auth_url,
        "NomisSSOAuthInternalURL": devauth.auth_url,
        "NomisSSOClientSecret": "file:" + H.write_file(
            os.path.join(secrets_dir, "client-secret"), H.CLIENT_SECRET + "\n", 0o600),
        "NomisSSOCryptoPassphrase": "file:" + H.write_file(
            os.path.join(secrets_dir, "passphrase"), H.PASSPHRASE + "\n", 0o600),
    }
    seen, out = set(), []
    with open(os.path.join(MODS, "nomis_sso.conf"), encoding="utf-8") as f:
        for line in f:
            m = re.match(r"(\s*)#(NomisSSO\w+)\s+(.*)$", line)
            if m:
                name = m.group(2)
                seen.add(name)
                line = "%s%s %s\n" % (m.group(1), name, values.get(name, m.group(3)))
            out.append(line)
    assert set(values) <= seen, "nomis_sso.conf no longer shows %s" % (set(values) - seen)
    assert "NomisSSOClientID" in seen
    return "".join(out)


def test_install_enable_configtest_sign_in_and_purge(deb, system, monkeypatch, tmp_path):
    out = run(["dpkg", "-i", deb[0]], timeout=120).stdout
    assert installed(), out
    assert os.path.exists(MODULE)
    # installed disabled: enabling is the admin's step
    assert not os.path.exists(os.path.join(ENABLED, "nomis_sso.load"))
    run(["a2enmod", "nomis_sso"])
    assert os.path.islink(os.path.join(ENABLED, "nomis_sso.load"))
    assert os.path.islink(os.path.join(ENABLED, "nomis_sso.conf"))
    p = run(["apache2ctl", "configtest"])
    assert "Syntax OK" in p.stdout

    # the admin's nomis_sso.conf survives a reinstall (a dpkg conffile)
    conf = os.path.join(MODS, "nomis_sso.conf")
    with open(conf, "a", encoding="utf-8") as f:
        f.write("# edited by tests/package/test_deb.py\n")
    edited = open(conf, encoding="utf-8").read()
    run(["dpkg", "-i", deb[0]], timeout=120)
    assert open(conf, encoding="utf-8").read() == edited, "reinstall replaced nomis_sso.conf"

    # the installed module, configured from the installed .conf, signs staff in
    devauth = H.DevAuth().start()
    h = None
    try:
        monkeypatch.setattr(H, "MODULE", MODULE)
        h = H.Httpd(nsso_conf=uncommented_conf(devauth, str(tmp_path)))
        assert h.params["module"] == MODULE
        rc, text = h.config_test()
        assert rc == 0, text + "\n" + open(h.conf_path).read()
        h.start()
        _, page = H.Browser(h, devauth).login("/protected/env", username="ALLOC_SPO")
        assert page.status_code == 200, h.explain(page)
        env = H.cgi_env(page.text)
        assert env.get("REMOTE_USER") == "ALLOC_SPO", h.explain(page)
        assert env.get("NOMIS_SSO_ROLES") == "ALLOC_MGR", h.explain(page)
    finally:
        if h is not None:
            h.cleanup()
        devauth.cleanup()

    run(["a2dismod", "nomis_sso"])
    run(["dpkg", "--purge", PACKAGE], timeout=120)
    assert not installed()
    assert leftovers() == []
