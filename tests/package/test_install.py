"""`make install DESTDIR=...` stages everything under DESTDIR and writes
nothing to the live system; `make uninstall DESTDIR=...` removes exactly what
install wrote; an admin's nomis_sso.conf survives a reinstall.

Runs make in the configured source tree (tools/build first)."""

import filecmp
import os
import subprocess

import pytest

SRCDIR = os.path.abspath(os.environ.get("NSSO_SRCDIR")
                         or os.path.join(os.path.dirname(__file__), "..", ".."))
DOCS = ["README.md", "directives.md", "operations.md", "security.md", "performance.md"]


def make(*args):
    p = subprocess.run(["make", "-s", "-C", SRCDIR] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=300)
    assert p.returncode == 0, "make %s failed:\n%s" % (" ".join(args), p.stdout)
    return p.stdout


def make_var(name):
    """A variable of the configured Makefile, expanded."""
    p = subprocess.run(["make", "-s", "-C", SRCDIR, "-f", "Makefile", "-f", "-",
                        "nsso-print-var"], input="nsso-print-var:\n\t@echo $(%s)\n" % name,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert p.returncode == 0, p.stdout
    return p.stdout.strip()


def files_under(root):
    out = set()
    for d, _, names in os.walk(root):
        for n in names:
            out.add(os.path.relpath(os.path.join(d, n), root))
    return out


def snapshot(path):
    """What a live directory holds: {name: (size, mtime_ns)}, or None."""
    if not os.path.isdir(path):
        return None
    out = {}
    for n in os.listdir(path):
        st = os.lstat(os.path.join(path, n))
        out[n] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def dirs():
    if not os.path.exists(os.path.join(SRCDIR, "Makefile")):
        pytest.fail("source tree not configured: run tools/build first")
    d = {k: make_var(v) for k, v in (("moddir", "HTTPD_MODULEDIR"),
                                     ("modsdir", "APACHE2_MODSDIR"), ("docdir", "docdir"))}
    assert d["moddir"].startswith("/") and d["docdir"].startswith("/"), d
    # configure's default; a tree configured without it installs no conf.d/
    d["modsdir"] = d["modsdir"] or "/etc/apache2/mods-available"
    return d


def expected(dirs):
    rel = lambda p: p.lstrip("/")  # noqa: E731
    return ({rel(os.path.join(dirs["moddir"], "mod_nomis_sso.so")),
             rel(os.path.join(dirs["modsdir"], "nomis_sso.load")),
             rel(os.path.join(dirs["modsdir"], "nomis_sso.conf"))}
            | {rel(os.path.join(dirs["docdir"], n)) for n in DOCS})


def changed(before, after):
    """Names of live files added, removed or modified between two snapshots."""
    out = []
    for k in before:
        b, a = before[k] or {}, after[k] or {}
        out += [os.path.join(k, n) for n in sorted(set(a) | set(b)) if a.get(n) != b.get(n)]
    return out


def test_install_stages_everything_under_destdir_and_nothing_elsewhere(dirs, tmp_path):
    stage = str(tmp_path / "stage")
    live = {k: snapshot(v) for k, v in dirs.items()}
    make("install", "DESTDIR=" + stage)
    assert changed(live, {k: snapshot(v) for k, v in dirs.items()}) == [], \
        "make install DESTDIR= wrote to the live system"
    assert files_under(stage) == expected(dirs)
    so = os.path.join(stage, dirs["moddir"].lstrip("/"), "mod_nomis_sso.so")
    assert filecmp.cmp(so, os.path.join(SRCDIR, ".libs", "mod_nomis_sso.so"), shallow=False)
    assert os.stat(so).st_mode & 0o777 == 0o644
    for name in ("nomis_sso.load", "nomis_sso.conf"):
        assert filecmp.cmp(os.path.join(stage, dirs["modsdir"].lstrip("/"), name),
                           os.path.join(SRCDIR, "conf.d", name), shallow=False)

    make("uninstall", "DESTDIR=" + stage)
    assert files_under(stage) == set()
    assert changed(live, {k: snapshot(v) for k, v in dirs.items()}) == []


def test_reinstall_keeps_the_admins_conf_and_uninstall_leaves_it(dirs, tmp_path):
    stage = str(tmp_path / "stage")
    conf = os.path.join(stage, dirs["modsdir"].lstrip("/"), "nomis_sso.conf")
    load = os.path.join(stage, dirs["modsdir"].lstrip("/"), "nomis_sso.load")
    make("install", "DESTDIR=" + stage)
    with open(conf, "a", encoding="utf-8") as f:
        f.write("NomisSSOAuthURL https://sign-in.example/auth\n")
    admins = open(conf, encoding="utf-8").read()
    os.remove(load)

    make("install", "DESTDIR=" + stage)
    assert open(conf, encoding="utf-8").read() == admins, "reinstall overwrote nomis_sso.conf"
    assert os.path.exists(load), "reinstall did not put the .load file back"

    make("uninstall", "DESTDIR=" + stage)
    assert files_under(stage) == {os.path.relpath(conf, stage)}, \
        "uninstall removed the admin's changed nomis_sso.conf, or left something else"
    assert open(conf, encoding="utf-8").read() == admins
