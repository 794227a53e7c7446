"""Reusable helpers for mod_nomis_sso's integration tests.

Everything runs on 127.0.0.1 with ports picked at run time:

* DevAuth  - the development HMPPS Auth stand-in (tests/devauth/devauth.py)
             started as a subprocess, with wrappers for its /__test__ hooks;
* Httpd    - a real Apache httpd with the built module, configured from a
             template in its own temporary directory (world-readable, since
             the children run as www-data), started in the foreground,
             gracefully restarted and stopped by the tests;
* Browser  - a requests.Session-based helper that walks the sign-in flow:
             protected URL -> HMPPS Auth authorize -> devauth's HTML form ->
             the module's callback -> back to the original URL.

Needs Debian's /usr/bin/python3 with python3-requests (and python3-pytest to
run the tests).
"""

import atexit
import html
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.path.abspath(os.environ.get("NSSO_SRCDIR") or os.path.join(HERE, "..", ".."))
MODULE = os.environ.get("NSSO_MODULE") or os.path.join(SRCDIR, ".libs", "mod_nomis_sso.so")
HTTPD = os.environ.get("NSSO_HTTPD") or "/usr/sbin/apache2"
MODDIR = os.environ.get("NSSO_HTTPD_MODDIR") or "/usr/lib/apache2/modules"
DEVAUTH = os.path.join(SRCDIR, "tests", "devauth", "devauth.py")
PYTHON = "/usr/bin/python3"

CLIENT_ID = "allocation-manager"
CLIENT_SECRET = "clientsecret"
PASSPHRASE = "integration-test-passphrase-0123456789"
PASSWORD = "password123456"
COOKIE = "nomis_sso_session"
STATE_PREFIX = COOKIE + "_st_"
CALLBACK = "/nomis-sso/callback"
AUTH_TYPE = "nomis-sso"

START_TIMEOUT = 20.0

# servers started and not yet stopped: stopped at exit whatever happened
_live = set()


@atexit.register
def _stop_leftovers():
    for server in list(_live):
        try:
            server.stop()
        except Exception:  # best effort at interpreter exit
            pass


class HarnessError(AssertionError):
    pass


# ---------------------------------------------------------------------------
# small utilities
# ---------------------------------------------------------------------------
def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_ports(n):
    """n different ports on 127.0.0.1 that nothing listens on right now (all
    bound at once, so the kernel cannot hand out one of them twice)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def closed_port():
    """A port that refuses connections (nothing listening, not reserved)."""
    return free_port()


def port_open(port, timeout=0.2):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def make_tree(prefix):
    """A temporary directory every user can read and traverse."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    return d


def write_file(path, text, mode=0o644):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def tail(path, lines=40):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)


def set_cookie_headers(resp):
    """Every Set-Cookie header of a requests response, unjoined."""
    raw = getattr(resp, "raw", None)
    headers = getattr(raw, "headers", None)
    if headers is not None and hasattr(headers, "getlist"):
        return list(headers.getlist("Set-Cookie"))
    if headers is not None and hasattr(headers, "get_all"):
        return list(headers.get_all("Set-Cookie") or [])
    value = resp.headers.get("Set-Cookie")
    return [value] if value else []


def parse_set_cookie(header):
    """(name, value, {attribute-lowercase: value-or-True}) of one Set-Cookie."""
    parts = [p.strip() for p in header.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        if not p:
            continue
        k, sep, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if sep else True
    return name.strip(), value.strip(), attrs


def cookies_set(resp):
    """{name: (value, attrs)} for the response's Set-Cookie headers (last wins)."""
    out = {}
    for h in set_cookie_headers(resp):
        name, value, attrs = parse_set_cookie(h)
        out[name] = (value, attrs)
    return out


def new_session_cookie(resp):
    """The session id a response hands out, or None (clearing doesn't count)."""
    v = cookies_set(resp).get(COOKIE)
    if v is None or not v[0] or v[1].get("max-age") == "0":
        return None
    return v[0]


def query_of(url):
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def raw_request(port, method, target, headers=None, body=None, timeout=10):
    """Send a request line verbatim (e.g. '//host' targets that clients rewrite).
    Returns (status, [(header, value)], body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        hdrs = {"Host": "127.0.0.1:%d" % port}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        data = r.read()
        return r.status, r.getheaders(), data
    finally:
        conn.close()


# ---------------------------------------------------------------------------
# devauth
# ---------------------------------------------------------------------------
def _start_server(obj, argv, ready, what):
    """Start argv for obj (its proc, log_path and workdir) and wait for the
    READY line, the first and only line on its stdout: the port ready's group
    names. A server that says nothing else in time is stopped."""
    log = open(obj.log_path, "a", encoding="utf-8")
    obj.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log,
                                stdin=subprocess.DEVNULL, cwd=obj.workdir, text=True)
    log.close()
    _live.add(obj)
    deadline = time.monotonic() + START_TIMEOUT
    line = ""
    while time.monotonic() < deadline:
        line = obj.proc.stdout.readline()
        if line or obj.proc.poll() is not None:
            break
    m = re.match(ready, line or "")
    if not m:
        obj.stop()
        raise HarnessError("%s did not start (%r):\n%s" % (what, line, tail(obj.log_path)))
    return int(m.group(1))


def _stop_server(obj):
    """SIGTERM (then SIGKILL) a server started with stdout piped, and forget it."""
    _live.discard(obj)
    if obj.proc is None:
        return
    if obj.proc.poll() is None:
        obj.proc.send_signal(signal.SIGTERM)
        try:
            obj.proc.wait(10)
        except subprocess.TimeoutExpired:
            obj.proc.kill()
            obj.proc.wait(5)
    if obj.proc.stdout:
        obj.proc.stdout.close()
    obj.proc = None


class DevAuth:
    """The development auth server as a subprocess."""

    def __init__(self, workdir=None, port=0, extra_args=()):
        self.workdir = workdir or make_tree("nsso-devauth-")
        self.own_dir = workdir is None
        self.port = port
        self.extra_args = list(extra_args)
        self.proc = None
        self.scheme = "https" if "--tls-cert" in self.extra_args else "http"
        self.log_path = os.path.join(self.workdir, "devauth.log")

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    @property
    def auth_url(self):
        return self.base + "/auth"

    def start(self):
        if self.proc is not None:
            raise HarnessError("devauth already running")
        self.port = _start_server(
            self, [PYTHON, DEVAUTH, "--port", str(self.port)] + self.extra_args,
            r"READY https?://127\.0\.0\.1:(\d+)/auth", "devauth")
        return self

    def stop(self):
        _stop_server(self)

    def cleanup(self):
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines=30):
        return tail(self.log_path, lines)

    # --- test hooks ---------------------------------------------------------
    def _post(self, path, obj=None):
        r = requests.post(self.base + "/__test__" + path, json=obj or {}, timeout=10)
        r.raise_for_status()
        return r.json()

    def fault(self, endpoint, mode, count=None, delay=None):
        body = {"endpoint": endpoint, "mode": mode}
        if count is not None:
            body["count"] = count
        if delay is not None:
            body["delay"] = delay
        return self._post("/fault", body)

    def clear_faults(self):
        return self._post("/fault/clear")

    def rotate_keys(self, drop_old=False):
        return self._post("/rotate-keys", {"drop_old": drop_old})

    def stats(self):
        r = requests.get(self.base + "/__test__/stats", timeout=10)
        r.raise_for_status()
        return r.json()

    def reset_stats(self):
        return self._post("/reset-stats")

    def mint(self, **kw):
        return self._post("/mint", kw)

    def set_roles(self, username, roles):
        return self._post("/roles", {"username": username, "roles": roles})

    def revoke(self, **kw):
        return self._post("/revoke", kw)

    def jwks(self):
        return requests.get(self.auth_url + "/.well-known/jwks.json", timeout=10).json()


# ---------------------------------------------------------------------------
# other loopback servers: any script that prints "READY <port>" first
# ---------------------------------------------------------------------------
class ReadyServer:
    """argv as a subprocess that binds 127.0.0.1, prints "READY <port>" (or
    "READY <url ending in :port/...>") and serves until SIGTERM: the demo's
    application and NOMIS API, the websocket backend."""

    def __init__(self, argv, name=None, workdir=None):
        self.argv = list(argv)
        self.name = name or os.path.basename(self.argv[1] if len(self.argv) > 1 else argv[0])
        self.workdir = workdir or make_tree("nsso-%s-" % self.name.replace(".", "-"))
        self.log_path = os.path.join(self.workdir, self.name + ".log")
        self.proc = None
        self.port = None

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self):
        self.port = _start_server(self, self.argv, r"READY (?:\S*:)?(\d+)", self.name)
        return self

    def stop(self):
        _stop_server(self)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines=30):
        return tail(self.log_path, lines)


# ---------------------------------------------------------------------------
# httpd
# ---------------------------------------------------------------------------
CONF_TEMPLATE = """\
# generated by tests/integration/harness.py
ServerRoot "{dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{dir}/httpd.pid"
DefaultRuntimeDir "{dir}/run"
ErrorLog "{dir}/error_log"
LogLevel {loglevel}
User www-data
Group www-data

LoadModule mpm_{mpm}_module {moddir}/mod_mpm_{mpm}.so
<IfModule !mod_unixd.c>
    LoadModule unixd_module {moddir}/mod_unixd.so
</IfModule>
LoadModule authn_core_module {moddir}/mod_authn_core.so
LoadModule authz_core_module {moddir}/mod_authz_core.so
LoadModule authz_user_module {moddir}/mod_authz_user.so
LoadModule mime_module {moddir}/mod_mime.so
LoadModule dir_module {moddir}/mod_dir.so
<IfModule !mod_log_config.c>
    LoadModule log_config_module {moddir}/mod_log_config.so
</IfModule>
LoadModule alias_module {moddir}/mod_alias.so
LoadModule cgid_module {moddir}/mod_cgid.so
LoadModule headers_module {moddir}/mod_headers.so
LoadModule nomis_sso_module "{module}"

{mpm_conf}
TypesConfig /etc/mime.types
ScriptSock "{dir}/run/cgid.sock"
LogFormat "%P %>s \\"%r\\" %u" nsso
CustomLog "{dir}/access_log" nsso
Timeout 30
KeepAlive {keepalive}

# lets the tests see which configuration generation answered
Header always set X-NSSO-Generation "{generation}"

DocumentRoot "{dir}/htdocs"
DirectoryIndex index.html
<Directory "{dir}/htdocs">
    Require all granted
</Directory>
<Directory "{dir}/cgi-bin">
    Require all granted
</Directory>

{nsso_conf}
ScriptAlias /protected/env "{dir}/cgi-bin/env.cgi"
<Location /protected>
    AuthType nomis-sso
    Require valid-user
</Location>
# "//evil.example" is merged to /evil.example for matching: protecting it
# lets a test start a sign-in whose original URL was //evil.example
<Location /evil.example>
    AuthType nomis-sso
    Require valid-user
</Location>
{extra}
"""

MPM_CONF = {
    "event": "StartServers 2\nMinSpareThreads 10\nMaxSpareThreads 50\n"
             "ThreadsPerChild 25\nMaxRequestWorkers 50\nServerLimit 4\n",
    "prefork": "StartServers 3\nMinSpareServers 2\nMaxSpareServers 6\n"
               "MaxRequestWorkers 20\nServerLimit 20\n",
}


def nsso_directives(auth_url, client_id=CLIENT_ID, secret=CLIENT_SECRET,
                    passphrase=PASSPHRASE, timeout=2, refetch=1, internal_url=None,
                    extra=""):
    lines = ["NomisSSOAuthURL %s" % auth_url]
    if internal_url:
        lines.append("NomisSSOAuthInternalURL %s" % internal_url)
    if client_id is not None:
        lines.append("NomisSSOClientID %s" % client_id)
    if secret is not None:
        lines.append("NomisSSOClientSecret %s" % secret)
    if passphrase is not None:
        lines.append("NomisSSOCryptoPassphrase %s" % passphrase)
    if timeout is not None:
        lines.append("NomisSSOHTTPTimeout %d" % timeout)
    if refetch is not None:
        lines.append("NomisSSOJWKSRefetchInterval %d" % refetch)
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


class Httpd:
    """One httpd instance in its own temporary directory."""

    def __init__(self, auth_url=None, mpm="event", nsso_conf=None, extra="",
                 mpm_conf=None, keepalive=True, env=None, loglevel="warn nomis_sso:debug",
                 wrapper=(), **nsso_kw):
        if not os.path.exists(MODULE):
            raise HarnessError("module not built: %s" % MODULE)
        self.dir = make_tree("nsso-httpd-")
        for sub in ("run", "htdocs", "cgi-bin"):
            os.mkdir(os.path.join(self.dir, sub))
            os.chmod(os.path.join(self.dir, sub), 0o755)
        self.port = free_port()
        self.mpm = mpm
        # a command prefix httpd runs under (e.g. unshare -m ... for a private
        # /etc/resolv.conf); it must exec httpd in the end (same pid)
        self.wrapper = list(wrapper)
        self.generation = 1
        self.env = dict(os.environ)
        # a sanitizer build of the module needs its runtime preloaded into
        # httpd (and only httpd): tools/sanitize sets NSSO_HTTPD_PRELOAD
        if os.environ.get("NSSO_HTTPD_PRELOAD"):
            self.env["LD_PRELOAD"] = os.environ["NSSO_HTTPD_PRELOAD"]
        self.env.update(env or {})
        self.proc = None
        self.conf_path = os.path.join(self.dir, "httpd.conf")
        self.error_log = os.path.join(self.dir, "error_log")
        self.access_log = os.path.join(self.dir, "access_log")
        self.stdout_path = os.path.join(self.dir, "httpd.out")
        if nsso_conf is None:
            nsso_conf = nsso_directives(auth_url, **nsso_kw)
        self.params = {
            "dir": self.dir, "port": self.port, "moddir": MODDIR, "module": MODULE,
            "mpm": mpm, "mpm_conf": MPM_CONF[mpm] if mpm_conf is None else mpm_conf,
            "keepalive": "On" if keepalive else "Off", "nsso_conf": nsso_conf,
            "extra": extra, "loglevel": loglevel,
        }
        self._write_site()
        self.write_conf()

    # --- files ----------------------------------------------------------------
    def _write_site(self):
        d = self.dir
        write_file(os.path.join(d, "htdocs", "index.html"),
                   "<!DOCTYPE html><title>home</title><p id=home>home page</p>\n")
        write_file(os.path.join(d, "htdocs", "public.html"),
                   "<!DOCTYPE html><title>public</title><p id=public>public page</p>\n")
        os.mkdir(os.path.join(d, "htdocs", "protected"))
        os.chmod(os.path.join(d, "htdocs", "protected"), 0o755)
        write_file(os.path.join(d, "htdocs", "protected", "page.html"),
                   "<!DOCTYPE html><title>protected</title><p id=secret>protected page</p>\n")
        shutil.copyfile(os.path.join(HERE, "cgi", "env.cgi"),
                        os.path.join(d, "cgi-bin", "env.cgi"))
        os.chmod(os.path.join(d, "cgi-bin", "env.cgi"), 0o755)

    def write_conf(self):
        text = CONF_TEMPLATE.format(generation=self.generation, **self.params)
        write_file(self.conf_path, text)
        return self.conf_path

    def write_extra_file(self, name, text, mode=0o644):
        return write_file(os.path.join(self.dir, name), text, mode)

    # --- URLs -----------------------------------------------------------------
    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    # --- logs -----------------------------------------------------------------
    def log_mark(self):
        try:
            return os.path.getsize(self.error_log)
        except OSError:
            return 0

    def log_since(self, mark=0):
        try:
            with open(self.error_log, "rb") as f:
                f.seek(mark)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        out = "---- %s (tail) ----\n%s" % (self.error_log, tail(self.error_log, lines))
        if os.path.exists(self.stdout_path) and os.path.getsize(self.stdout_path):
            out += "\n---- httpd stdout/stderr ----\n" + tail(self.stdout_path, 20)
        return out

    def access_lines(self):
        try:
            with open(self.access_log, encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []

    def explain(self, resp=None, what=""):
        """Text for assertion messages: the response and the error_log tail."""
        parts = [what] if what else []
        if resp is not None:
            parts.append("response: %s %s\nheaders: %s\nbody: %.600s" % (
                resp.status_code, resp.url, dict(resp.headers), resp.text))
        parts.append(self.log_tail())
        return "\n".join(parts)

    # --- process --------------------------------------------------------------
    def config_test(self):
        """`httpd -t -f conf`: (exit code, combined output)."""
        p = subprocess.run(self.wrapper + [HTTPD, "-t", "-f", self.conf_path], env=self.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=30)
        return p.returncode, p.stdout

    def start(self, attempts=3):
        if self.proc is not None:
            raise HarnessError("httpd already running")
        for attempt in range(attempts):
            out = open(self.stdout_path, "a", encoding="utf-8")
            self.proc = subprocess.Popen(self.wrapper + [HTTPD, "-f", self.conf_path,
                                                         "-DFOREGROUND"],
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
            out.close()
            _live.add(self)
            try:
                self.wait_generation(self.generation)
                return self
            except HarnessError:
                log = self.log_tail(200)
                # somebody took the port between free_port() and Listen, or
                # it is one a test's own Listen line (a virtual host) uses
                lost_port = ("Address already in use" in log
                             or "Cannot define multiple Listeners" in log)
                self.stop()
                if not lost_port or attempt == attempts - 1:
                    raise
                self.port = self.params["port"] = free_port()
                self.write_conf()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_generation(self, generation, timeout=START_TIMEOUT):
        """Wait until a fresh connection is answered by the given generation."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise HarnessError("httpd exited with %s\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                r = requests.get(self.url("/public.html"), timeout=2,
                                 headers={"Connection": "close"})
                last = r.headers.get("X-NSSO-Generation")
                if r.status_code == 200 and last == str(generation):
                    return
            except requests.RequestException as e:
                last = repr(e)
            time.sleep(0.05)
        raise HarnessError("httpd generation %s not serving (last: %s)\n%s"
                           % (generation, last, self.log_tail()))

    def graceful(self, use_signal=False):
        """Graceful restart; returns when the new generation answers."""
        self.generation += 1
        self.write_conf()
        if use_signal:
            os.kill(self.proc.pid, signal.SIGUSR1)
        else:
            p = subprocess.run([HTTPD, "-f", self.conf_path, "-k", "graceful"],
                               env=self.env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=30)
            if p.returncode != 0:
                raise HarnessError("graceful failed (%d): %s\n%s"
                                   % (p.returncode, p.stdout, self.log_tail()))
        self.wait_generation(self.generation)

    def stop(self):
        _live.discard(self)
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                # the whole process group is ours (start_new_session)
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# a browser made of requests.Session
# ---------------------------------------------------------------------------
HIDDEN_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
FORM_ACTION = re.compile(r'<form id="signin" method="post" action="([^"]+)">')
DENY_LINK = re.compile(r'<a id="deny" href="([^"]+)">')


class Browser:
    """Walks the sign-in flow with one cookie jar, one redirect at a time."""

    def __init__(self, httpd, devauth, session=None):
        self.httpd = httpd
        self.devauth = devauth
        self.s = session or requests.Session()
        self.s.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"

    def get(self, path_or_url, **kw):
        url = path_or_url if "://" in path_or_url else self.httpd.url(path_or_url)
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", 15)
        return self.s.get(url, **kw)

    def cookie(self, name):
        for c in self.s.cookies:
            if c.name == name:
                return c.value
        return None

    def state_cookies(self):
        return {c.name: c.value for c in self.s.cookies if c.name.startswith(STATE_PREFIX)}

    def session_id(self):
        return self.cookie(COOKIE)

    def set_session_cookie(self, value):
        self.drop_cookie(COOKIE)
        self.s.cookies.set(COOKIE, value, domain="127.0.0.1", path="/")

    def drop_cookie(self, name):
        for c in list(self.s.cookies):
            if c.name == name:
                self.s.cookies.clear(c.domain, c.path, c.name)

    def begin(self, path):
        """Request a protected page without a session: the authorize URL."""
        r = self.get(path)
        loc = r.headers.get("Location", "")
        if r.status_code != 302 or not loc.startswith(self.devauth.auth_url + "/oauth/authorize?"):
            raise HarnessError("expected a redirect to HMPPS Auth for %s\n%s"
                               % (path, self.httpd.explain(r)))
        return loc

    def authorize(self, authorize_url, username="ALLOC_SPO", password=PASSWORD):
        """Sign in at devauth (form, or silent SSO): the callback URL it sends back."""
        r = self.s.get(authorize_url, allow_redirects=False, timeout=15)
        if r.status_code == 302:  # silent SSO: devauth remembers us
            return r.headers["Location"]
        if r.status_code != 200 or 'id="signin"' not in r.text:
            raise HarnessError("devauth sign-in form not shown: %s %.500s\n%s"
                               % (r.status_code, r.text, self.devauth.log_tail()))
        return self.submit_form(r.text, username, password)

    def submit_form(self, page, username, password=PASSWORD):
        action = html.unescape(FORM_ACTION.search(page).group(1))
        fields = {k: html.unescape(v) for k, v in HIDDEN_INPUT.findall(page)}
        fields["username"] = username
        fields["password"] = password
        r = self.s.post(urljoin(self.devauth.base + "/", action), data=fields,
                        allow_redirects=False, timeout=15)
        if r.status_code != 302:
            raise HarnessError("devauth refused the sign-in: %s %.500s"
                               % (r.status_code, r.text))
        return r.headers["Location"]

    def deny_url(self, authorize_url):
        """The form's Cancel link (error=access_denied back to the callback)."""
        r = self.s.get(authorize_url, allow_redirects=False, timeout=15)
        m = DENY_LINK.search(r.text)
        if not m:
            raise HarnessError("no Cancel link on the devauth form: %.500s" % r.text)
        return html.unescape(m.group(1))

    def get_current(self, path, timeout=5.0, **kw):
        """GET answered by the httpd's current configuration generation (an old
        child may still be finishing after a graceful restart, and a prefork
        child that is exiting may close a connection it accepted without an
        answer: httpd's own graceful race, tried again until the deadline)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = self.get(path, headers={"Connection": "close"}, **kw)
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            if r.headers.get("X-NSSO-Generation") == str(self.httpd.generation) \
                    or time.monotonic() > deadline:
                return r
            time.sleep(0.05)

    def callback(self, callback_url, **kw):
        return self.get(callback_url, **kw)

    def login(self, path="/protected/env", username="ALLOC_SPO"):
        """The whole flow; returns (callback response, final page response)."""
        cb = self.callback(self.authorize(self.begin(path), username))
        if cb.status_code != 302:
            raise HarnessError("callback did not redirect\n%s" % self.httpd.explain(cb))
        page = self.get(urljoin(self.httpd.base + "/", cb.headers["Location"]))
        return cb, page


class Logins:
    """One signed-in Browser per user on one httpd, made on first use."""

    def __init__(self, h, devauth):
        self.h = h
        self.devauth = devauth
        self.browsers = {}

    def __call__(self, user):
        b = self.browsers.get(user)
        if b is None:
            b = Browser(self.h, self.devauth)
            _, page = b.login("/protected/env", username=user)
            assert page.status_code == 200, self.h.explain(page, "sign-in as %s" % user)
            assert cgi_env(page.text).get("REMOTE_USER") == user, self.h.explain(page)
            self.browsers[user] = b
        return b

    def get(self, user, path, **kw):
        return self(user).get(path, **kw)


def cgi_env(text):
    """Parse env.cgi output (NAME=value lines) into a dict."""
    out = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", k):
            out[k] = v
    return out


def private_resolv_conf(path):
    """An Httpd wrapper: httpd in a mount namespace of its own whose
    /etc/resolv.conf is the file at path (nothing else changes)."""
    return ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/resolv.conf && exec "$@"',
            path]


def debug(*args):
    sys.stderr.write(" ".join(str(a) for a in args) + "\n")


# ---------------------------------------------------------------------------
# headless Chromium (Debian's chromium + chromedriver, through selenium)
# ---------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def chromium_available():
    return all(os.access(p, os.X_OK) for p in (CHROMIUM, CHROMEDRIVER))


def chromium(extra_args=(), javascript=True, width=1200, height=900):
    """A new headless Chromium with a profile of its own: (driver, cleanup).
    javascript=False turns scripts off for the pages (selenium's own
    execute_script still runs); width x height is the window in CSS px."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="nsso-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
                "--window-size=%d,%d" % (width, height)) + tuple(extra_args):
        opts.add_argument(arg)
    if not javascript:
        opts.add_experimental_option("prefs", {
            "profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)

    def cleanup():
        try:
            driver.quit()
        finally:
            shutil.rmtree(profile, ignore_errors=True)
    return driver, cleanup
