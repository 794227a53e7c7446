"""The Debian package lists are complete: every program, macro file, header
and pkg-config file a build from a clean checkout uses belongs to a package
that docs/operations.md's `apt-get install` line (or debian/control's
Build-Depends) installs, directly or as a dependency apt would choose, or to
an Essential package; and tools/deps --demo installs at least that list.
Checked against this machine's files and apt's metadata."""

import os
import re
import shutil
import subprocess

import pytest

SRCDIR = os.path.abspath(os.environ.get("NSSO_SRCDIR")
                         or os.path.join(os.path.dirname(__file__), "..", ".."))

PROGRAMS = ["autoreconf", "autoconf", "aclocal", "automake", "libtoolize", "pkg-config",
            "cc", "gcc", "make", "apr-1-config", "apu-1-config"]
HTTPD = "/usr/sbin/apache2"  # to run it (and the tests), not to build it
MACROS = ["/usr/share/aclocal/pkg.m4", "/usr/share/aclocal/libtool.m4"]
PKGCONFIG = ["cjose", "jansson", "libcurl", "libcrypto"]
HEADERS = ["cjose/cjose.h", "jansson.h", "curl/curl.h", "openssl/evp.h"]


def out(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          check=True, timeout=60).stdout


def operations_list():
    text = open(os.path.join(SRCDIR, "docs", "operations.md"), encoding="utf-8").read()
    for m in re.finditer(r"apt-get install ((?:[^\n\\]|\\\n)+)", text):
        words = [w for w in m.group(1).replace("\\\n", " ").split() if not w.startswith("-")]
        if "apache2-dev" in words:
            return words
    pytest.fail("docs/operations.md has no `apt-get install ... apache2-dev ...` line")


def build_files(with_httpd):
    apxs = shutil.which("apxs") or shutil.which("apxs2")
    assert apxs, "apxs not found"
    files = [apxs] + MACROS + ([HTTPD] if with_httpd else [])
    for p in PROGRAMS:
        path = p if p.startswith("/") else shutil.which(p)
        assert path, "%s not found on this machine" % p
        files.append(path)
    for m in PKGCONFIG:
        files.append(out(["pkg-config", "--path", m]).strip())
    incdir = out([apxs, "-q", "INCLUDEDIR"]).strip()
    files.append(os.path.join(incdir, "httpd.h"))
    multiarch = os.path.join("/usr/include", out(["gcc", "-print-multiarch"]).strip())
    for h in HEADERS:
        found = [os.path.join(d, h) for d in ("/usr/include", multiarch)
                 if os.path.exists(os.path.join(d, h))]
        assert found, "%s not found on this machine" % h
        files.append(found[0])
    return files


def owners(paths):
    """{path: the package that ships it} (following alternatives' symlinks)."""
    candidates = {p: [os.path.realpath(p), p] for p in paths}
    wanted = sorted({c for cs in candidates.values() for c in cs})
    text = subprocess.run(["dpkg", "-S"] + wanted, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True, timeout=120).stdout
    shipped = {}
    for line in text.splitlines():
        pkgs, _, path = line.partition(": ")
        shipped.setdefault(path.strip(), pkgs.split(",")[0].split(":")[0].strip())
    result = {}
    for p, cs in candidates.items():
        found = [shipped[c] for c in cs if c in shipped]
        assert found, "no package owns %s" % p
        result[p] = found[0]
    return result


DEPENDS_CMD = ["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts",
               "--no-breaks", "--no-replaces", "--no-enhances"]


def chosen_depends(text):
    """{package: [the dependency apt installs for each of its Depends and
    PreDepends on a clean machine]}, from `apt-cache depends` output: the
    first alternative of an or-group that exists (a virtual package by its
    first provider)."""
    out, pkg, groups = {}, None, []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            pkg = line.strip().strip("<>").split(":")[0]
            groups = out.setdefault(pkg, [])
            continue
        m = re.match(r"^ ( |\|)(Pre)?Depends: (.*)$", line)
        if m:
            if not groups or not groups[-1]["open"]:
                groups.append({"alts": [], "open": False})
            groups[-1]["alts"].append([m.group(3).strip(), []])
            groups[-1]["open"] = m.group(1) == "|"
        elif line.startswith("    ") and groups and groups[-1]["alts"]:
            groups[-1]["alts"][-1][1].append(line.strip())
        elif re.match(r"^  \w+:", line) and groups:
            groups[-1]["open"] = False
    result = {}
    for name, gs in out.items():
        picks = []
        for g in gs:
            for dep, providers in g["alts"]:
                if not dep.startswith("<"):
                    picks.append(dep.split(":")[0])
                    break
                if providers:
                    picks.append(providers[0].split(":")[0])
                    break
        result[name] = picks
    return result


def closure(packages):
    """What apt-get install --no-install-recommends of packages installs on a
    clean Debian: the packages and, recursively, their chosen dependencies,
    with the Essential packages every Debian system has."""
    essential = out(["dpkg-query", "-W", "-f", "${Package} ${Essential}\\n"])
    have = {line.split()[0] for line in essential.splitlines() if line.endswith(" yes")}
    todo = set(packages)
    while todo:
        have |= todo
        deps = chosen_depends(out(DEPENDS_CMD + sorted(todo)))
        todo = {d for picks in deps.values() for d in picks} - have
    return have


def test_operations_list_covers_a_source_build():
    listed = operations_list()
    have = closure(listed)
    missing = {f: pkg for f, pkg in owners(build_files(with_httpd=True)).items()
               if pkg not in have}
    assert not missing, "docs/operations.md's packages do not bring: %s" % missing


def build_depends():
    text = open(os.path.join(SRCDIR, "debian", "control"), encoding="utf-8").read()
    field = re.search(r"^Build-Depends:(.*?)^\S", text, re.S | re.M).group(1)
    names = [re.match(r"\s*([a-z0-9][a-z0-9+.-]*)", dep).group(1)
             for dep in field.replace("\n", " ").split(",") if dep.strip()]
    # debhelper-compat is provided by debhelper; build-essential is implied
    return ["debhelper" if n == "debhelper-compat" else n for n in names] + ["build-essential"]


def test_debian_build_depends_cover_the_build():
    have = closure(build_depends())
    missing = {f: pkg for f, pkg in owners(build_files(with_httpd=False)).items()
               if pkg not in have}
    assert not missing, "debian/control's Build-Depends do not bring: %s" % missing


def test_demo_installs_at_least_the_build_list():
    demo = out([os.path.join(SRCDIR, "tools", "deps"), "--demo", "--list"]).split()
    assert set(operations_list()) <= set(demo)
    for heavy in ("chromium", "clang", "valgrind", "redis-server", "memcached", "lintian"):
        assert heavy not in demo, "tools/deps --demo installs %s" % heavy
    full = out([os.path.join(SRCDIR, "tools", "deps"), "--list"]).split()
    assert set(demo) <= set(full)
    for tool in ("dpkg-dev", "debhelper", "fakeroot", "lintian", "libcmocka-dev"):
        assert tool in full
