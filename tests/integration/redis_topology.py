"""Real Redis for the integration tests, one copy for every file: a private
PKI (openssl), a RESP client, one redis-server (plain or TLS-only, an ACL
user), the bare engines behind httpd's socache providers (redis-server,
memcached), and a replication group -- a primary, a replica and three
sentinels, plain or TLS on every port -- with the operations a failover test
needs (wait until the sentinels agree, SENTINEL FAILOVER, REPLICAOF).

Everything listens on 127.0.0.1 on free ports and is stopped by stop()
(and at interpreter exit, through the harness's list of live servers)."""

import os
import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

import harness as H

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
MEMCACHED = shutil.which("memcached") or "/usr/bin/memcached"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
USER = "nsso-app"
SECRET = "redis-acl-password-4f1d"
SENTINEL_SECRET = "sentinel-password-9c2e"
MASTER = "nsso-primary"


def need(path, what):
    if not os.access(path, os.X_OK):
        pytest.fail("%s not installed (%s): tools/deps installs it" % (what, path))


# ---------------------------------------------------------------------------
# PKI
# ---------------------------------------------------------------------------
def _run(*args, cwd):
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, timeout=60)


def make_pki(d):
    """In d: a private CA (ca.pem); good.pem for 127.0.0.1, other.pem for
    another host, client.pem for a client certificate (keys beside them)."""
    _run(OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=nsso test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    for name, san in (("good", "IP:127.0.0.1"), ("other", "DNS:other.example,IP:127.0.0.2"),
                      ("client", "DNS:nsso-client")):
        _run(OPENSSL, "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=%s" % name,
             "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
        H.write_file(os.path.join(d, name + ".ext"), "subjectAltName=%s\n" % san)
        _run(OPENSSL, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem",
             cwd=d)
    for name in ("ca", "good", "other", "client"):
        os.chmod(os.path.join(d, name + ".key"), 0o644)  # redis-server reads them as root


def pki_dir(prefix="nsso-redis-"):
    d = H.make_tree(prefix)
    make_pki(d)
    return d


# ---------------------------------------------------------------------------
# RESP
# ---------------------------------------------------------------------------
class RedisError(Exception):
    pass


def _encode(args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


def read_resp(f, raise_errors=False):
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed")
    line = line.rstrip(b"\r\n")
    kind, rest = line[:1], line[1:]
    if kind == b"-" and raise_errors:
        raise RedisError(rest.decode("utf-8", "replace"))
    if kind in (b"+", b"-", b":"):
        return rest
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read_resp(f, raise_errors) for _ in range(n)]
    raise ValueError(line)


def command(port, *args, tls_dir=None, auth=None, db=None, timeout=5, client_cert=False):
    """One command on a fresh connection to 127.0.0.1:port; auth is
    (user, password) or (password,); TLS when tls_dir (the PKI) is given.
    A -ERR reply to AUTH/SELECT raises RedisError; the command's own reply is
    returned as bytes (errors too, starting with their code)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    if tls_dir:
        ctx = ssl.create_default_context(cafile=os.path.join(tls_dir, "ca.pem"))
        ctx.check_hostname = False
        if client_cert:
            ctx.load_cert_chain(os.path.join(tls_dir, "client.pem"),
                                os.path.join(tls_dir, "client.key"))
        raw = ctx.wrap_socket(raw)
    with raw as s:
        f = s.makefile("rb")
        pre = []
        if auth:
            pre.append(("AUTH",) + tuple(auth))
        if db is not None:
            pre.append(("SELECT", str(db)))
        for c in pre:
            s.sendall(_encode(c))
            read_resp(f, raise_errors=True)
        s.sendall(_encode(args))
        return read_resp(f)


def as_dict(flat):
    """A flat [k, v, k, v...] reply as {str: str}."""
    out = {}
    for i in range(0, len(flat or []) - 1, 2):
        out[flat[i].decode()] = flat[i + 1].decode() if isinstance(flat[i + 1], bytes) \
            else flat[i + 1]
    return out


def _wait_listening(proc, port, what, timeout=10):
    deadline = time.monotonic() + timeout
    while not H.port_open(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            raise H.HarnessError("%s did not start on %d" % (what, port))
        time.sleep(0.02)


# ---------------------------------------------------------------------------
# one redis-server (the module's own client's store)
# ---------------------------------------------------------------------------
class Redis:
    """redis-server with an ACL user (the default user off) unless acl=False,
    TLS-only unless tls=False; data kept across a restart (RDB saved at
    shutdown), as a managed Redis keeps it. extra: more configuration lines."""

    def __init__(self, d, tls=True, cert="good", client_certs=False, acl=True, port=None,
                 extra=()):
        self.d, self.tls, self.cert, self.client_certs = d, tls, cert, client_certs
        self.acl = acl
        self.port = port or H.free_port()
        self.extra = list(extra)
        self.proc = None
        self.conf_path = os.path.join(self.d, "redis-%d.conf" % self.port)

    def tls_lines(self):
        return ["tls-cert-file %s/%s.pem" % (self.d, self.cert),
                "tls-key-file %s/%s.key" % (self.d, self.cert),
                "tls-ca-cert-file %s/ca.pem" % self.d,
                "tls-auth-clients %s" % ("yes" if self.client_certs else "no")]

    def conf(self):
        lines = ["bind 127.0.0.1", "daemonize no", "dir %s" % self.d,
                 "dbfilename dump-%d.rdb" % self.port, "save 3600 1",
                 "appendonly no", "protected-mode yes"]
        if self.acl:
            lines += ["user default off", "user %s on >%s ~* &* +@all" % (USER, SECRET)]
        if self.tls:
            lines += ["port 0", "tls-port %d" % self.port] + self.tls_lines()
        else:
            lines += ["port %d" % self.port]
        return "\n".join(lines + self.extra) + "\n"

    def argv(self):
        return [REDIS, self.conf_path]

    def start(self):
        need(REDIS, "redis-server")
        H.write_file(self.conf_path, self.conf(), 0o600)
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.d)
        H._live.add(self)
        _wait_listening(self.proc, self.port, os.path.basename(self.argv()[0]))
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        H._live.discard(self)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def cmd(self, *args, db=0):
        """One command as the ACL user (or the default user without ACL)."""
        return command(self.port, *args, tls_dir=self.d if self.tls else None,
                       auth=(USER, SECRET) if self.acl else None, db=db,
                       client_cert=self.client_certs)

    def role(self):
        r = self.cmd("ROLE")
        return r[0].decode() if isinstance(r, list) else r.decode()

    def url(self, db=0):
        return "%s://%s127.0.0.1:%d/%d" % ("rediss" if self.tls else "redis",
                                          USER + "@" if self.acl else "", self.port, db)


def store_conf(d, redis, password=SECRET, url=None, ca=True):
    """NomisSSOSessionStore* lines for redis (a Redis), password in a file."""
    pw = H.write_file(os.path.join(d, "redis-password-%d" % redis.port), password + "\n", 0o600)
    lines = ["NomisSSOSessionStore %s" % (url or redis.url())]
    if redis.acl or password != SECRET:
        lines.append("NomisSSOSessionStorePassword file:%s" % pw)
    if redis.tls and ca:
        lines.append("NomisSSOSessionStoreCACertificateFile %s/ca.pem" % d)
    lines.append("NomisSSOInfoURI /nomis-sso/info")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# the bare engines behind httpd's socache providers
# ---------------------------------------------------------------------------
class Engine:
    """redis-server (no ACL, nothing saved) or memcached for socache:redis /
    socache:memcache."""

    def __init__(self, kind):
        self.kind = kind
        self.port = H.free_port()
        self.proc = None

    def start(self):
        if self.kind == "redis":
            cmd = [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"]
        else:
            cmd = [MEMCACHED, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0",
                   "-u", "nobody", "-m", "16"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        H._live.add(self)
        _wait_listening(self.proc, self.port, self.kind)
        return self

    def stop(self):
        H._live.discard(self)
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def redis(self, *args):
        """A command on the plain engine (KEYS/GET/SET in the tests)."""
        return command(self.port, *args)


# ---------------------------------------------------------------------------
# a replication group under Sentinel
# ---------------------------------------------------------------------------
class DelayProxy:
    """A TCP relay 127.0.0.1:port -> 127.0.0.1:target that holds what the
    target sends for `delay` seconds (the other way goes straight through):
    a replica replicating through it lags its primary by `delay`."""

    def __init__(self, target, delay):
        self.target, self.delay = target, delay
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.stopping = False
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.lsock.accept()
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                u.settimeout(None)
            except OSError:
                if self.stopping:
                    return
                continue
            self.socks += [c, u]
            threading.Thread(target=self._pipe, args=(c, u, 0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, self.delay), daemon=True).start()

    def _pipe(self, src, dst, delay):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if delay:
                    due = time.monotonic() + delay
                    # in order: this thread sleeps, the kernel buffers the rest
                    time.sleep(max(0.0, due - time.monotonic()))
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.stopping = True
        for s in [self.lsock] + self.socks:
            try:
                s.close()
            except OSError:
                pass


class Sentinel(Redis):
    """redis-server --sentinel monitoring the group's primary; its conf file is
    its own and writable (sentinels rewrite it)."""

    def __init__(self, d, topo, port):
        super().__init__(d, tls=topo.tls, acl=False, port=port)
        self.topo = topo
        self.conf_path = os.path.join(self.d, "sentinel-%d.conf" % self.port)

    def conf(self):
        t = self.topo
        lines = ["bind 127.0.0.1", "daemonize no", "dir %s" % self.d,
                 "sentinel announce-ip 127.0.0.1", "sentinel resolve-hostnames no",
                 "sentinel monitor %s 127.0.0.1 %d 2" % (t.name, t.primary_port),
                 "sentinel down-after-milliseconds %s %d" % (t.name, t.down_after_ms),
                 "sentinel failover-timeout %s %d" % (t.name, t.failover_timeout_ms),
                 "sentinel parallel-syncs %s 1" % t.name]
        if t.acl:
            lines += ["sentinel auth-user %s %s" % (t.name, USER),
                      "sentinel auth-pass %s %s" % (t.name, SECRET)]
        if t.sentinel_password:
            lines += ["requirepass %s" % t.sentinel_password,
                      "sentinel sentinel-pass %s" % t.sentinel_password]
        if self.tls:
            lines += ["port 0", "tls-port %d" % self.port, "tls-replication yes"] \
                + self.tls_lines()
        else:
            lines += ["port %d" % self.port]
        return "\n".join(lines) + "\n"

    def argv(self):
        return [REDIS, self.conf_path, "--sentinel"]

    def cmd(self, *args, db=None):
        pw = self.topo.sentinel_password
        return command(self.port, *args, tls_dir=self.d if self.tls else None,
                       auth=(pw,) if pw else None)

    def master_port(self):
        r = self.cmd("SENTINEL", "get-master-addr-by-name", self.topo.name)
        return int(r[1]) if isinstance(r, list) and r else None


class Topology:
    """A primary, a replica (replicaof) and three sentinels (quorum 2).

    tls: every port TLS-only (port 0, tls-port, tls-replication yes), the
    PKI in d; acl: the data nodes have the ACL user and the default user off
    (replication and sentinels authenticate as it); sentinel_password: the
    sentinels' default user has a password; replica_delay: the replica
    replicates through a DelayProxy (it lags by that many seconds)."""

    def __init__(self, d, tls=False, acl=True, sentinel_password=None, name=MASTER,
                 replica_delay=0.0, down_after_ms=1000, failover_timeout_ms=5000):
        self.d, self.tls, self.acl = d, tls, acl
        self.sentinel_password = sentinel_password
        self.name = name
        self.replica_delay = replica_delay
        self.down_after_ms, self.failover_timeout_ms = down_after_ms, failover_timeout_ms
        ports = H.free_ports(5)
        self.primary_port = ports[0]
        self.proxy = None
        repl = ["repl-diskless-sync-delay 0"]  # a replica syncs at once (default 5 s)
        if acl:
            repl += ["masteruser %s" % USER, "masterauth %s" % SECRET]
        if tls:
            repl += ["tls-replication yes"]
        self.nodes = [Redis(d, tls=tls, acl=acl, port=ports[0], extra=repl),
                      Redis(d, tls=tls, acl=acl, port=ports[1], extra=repl)]
        self.sentinels = [Sentinel(d, self, p) for p in ports[2:]]

    # --- life -----------------------------------------------------------------
    def start(self):
        try:
            self.nodes[0].start()
            upstream = self.primary_port
            if self.replica_delay:
                self.proxy = DelayProxy(self.primary_port, self.replica_delay)
                upstream = self.proxy.port
            self.nodes[1].extra.append("replicaof 127.0.0.1 %d" % upstream)
            self.nodes[1].start()
            self._wait(lambda: self.link_up(self.nodes[1]), 15, "replica linked")
            for s in self.sentinels:
                s.start()
            self.wait_agreed(self.nodes[0].port)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for s in self.sentinels:
            s.stop()
        for n in self.nodes:
            n.stop()
        if self.proxy:
            self.proxy.stop()

    # --- state ----------------------------------------------------------------
    @staticmethod
    def _wait(check, timeout, what):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except (OSError, RedisError, ValueError, IndexError) as e:
                last = e
            time.sleep(0.05)
        raise H.HarnessError("timed out waiting for %s (last error: %r)" % (what, last))

    @staticmethod
    def link_up(node):
        info = node.cmd("INFO", "replication").decode()
        return "role:slave" in info and "master_link_status:up" in info

    def node(self, port):
        return next(n for n in self.nodes if n.port == port)

    def master(self):
        """The data node the sentinels report as master."""
        return self.node(self.sentinels[0].master_port())

    def replica(self):
        return next(n for n in self.nodes if n.port != self.sentinels[0].master_port())

    def agreed(self, port):
        """Every sentinel reports port as master, knows the other two
        sentinels and a replica whose link is up; port's ROLE is master."""
        for s in self.sentinels:
            if s.master_port() != port:
                return False
            if len(s.cmd("SENTINEL", "sentinels", self.name)) != 2:
                return False
            reps = [as_dict(r) for r in s.cmd("SENTINEL", "replicas", self.name)]
            if not any(r.get("master-link-status") == "ok" and "s_down" not in r["flags"]
                       and "disconnected" not in r["flags"] for r in reps):
                return False
        return self.node(port).role() == "master"

    def wait_agreed(self, port, timeout=30):
        self._wait(lambda: self.agreed(port), timeout,
                   "sentinels agreeing on master %d" % port)

    # --- operations -----------------------------------------------------------
    def failover(self, timeout=30, wait_replica=False):
        """SENTINEL FAILOVER; returns (old port, new port, seconds until the
        sentinels report the new master and its ROLE is master)."""
        def trigger():
            r = self.sentinels[0].cmd("SENTINEL", "FAILOVER", self.name)
            if r != b"OK":
                raise H.HarnessError("SENTINEL FAILOVER answered %r" % r)
        return self._switch(trigger, timeout, wait_replica)

    def kill_primary(self, timeout=30):
        """SIGKILL the master: the sentinels fail over by themselves once it
        is down for down_after_ms. Returns what failover() returns."""
        def trigger():
            node = self.master()
            node.proc.kill()
            node.proc.wait(5)
            node.stop()
        return self._switch(trigger, timeout, False)

    def _switch(self, trigger, timeout, wait_replica):
        old = self.sentinels[0].master_port()
        t0 = time.monotonic()
        trigger()

        def switched():
            ports = {s.master_port() for s in self.sentinels}
            return len(ports) == 1 and old not in ports and \
                self.node(ports.pop()).role() == "master"
        self._wait(switched, timeout, "the failover from %d" % old)
        took = time.monotonic() - t0
        new = self.sentinels[0].master_port()
        if wait_replica:
            self.wait_agreed(new, timeout)
        return old, new, took

    def make_replica_of(self, node, port):
        return node.cmd("REPLICAOF", "127.0.0.1", str(port))

    def make_primary(self, node):
        return node.cmd("REPLICAOF", "NO", "ONE")

    def sentinel_url(self, db=0):
        scheme = "rediss-sentinel" if self.tls else "redis-sentinel"
        hosts = ",".join("127.0.0.1:%d" % s.port for s in self.sentinels)
        return "%s://%s%s/%d#%s" % (scheme, USER + "@" if self.acl else "", hosts, db,
                                    self.name)

    def store_conf(self, extra=()):
        """The module's NomisSSOSessionStore* lines for this group."""
        lines = ["NomisSSOSessionStore %s" % self.sentinel_url()]
        if self.acl:
            pw = H.write_file(os.path.join(self.d, "data-password"), SECRET + "\n", 0o600)
            lines.append("NomisSSOSessionStorePassword file:%s" % pw)
        if self.sentinel_password:
            pw = H.write_file(os.path.join(self.d, "sentinel-password"),
                              self.sentinel_password + "\n", 0o600)
            lines.append("NomisSSOSessionStoreSentinelPassword file:%s" % pw)
        if self.tls:
            lines.append("NomisSSOSessionStoreCACertificateFile %s/ca.pem" % self.d)
        lines.append("NomisSSOInfoURI /nomis-sso/info")
        return "\n".join(lines + list(extra))
