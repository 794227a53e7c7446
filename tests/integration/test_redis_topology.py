"""The failover tests' Redis replication group itself, with no module: the
sentinels report the primary, SENTINEL FAILOVER swaps primary and replica
(data kept), REPLICAOF makes a primary read-only and back, and the delaying
relay really makes the replica lag. Plain and TLS-on-every-port."""

import shutil
import time

import pytest

import redis_topology as RT


@pytest.fixture
def pki():
    RT.need(RT.REDIS, "redis-server")
    d = RT.pki_dir("nsso-topo-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_sentinels_report_master_and_failover_swaps_it(pki, tls):
    topo = RT.Topology(pki, tls=tls, sentinel_password=RT.SENTINEL_SECRET if tls else None)
    topo.start()
    try:
        primary, replica = topo.nodes
        assert topo.master() is primary and primary.role() == "master"
        assert replica.role() == "slave"
        if tls:  # every port TLS-only: a plain client gets nothing useful
            with pytest.raises((OSError, ValueError, ConnectionError)):
                RT.command(topo.sentinels[0].port, "PING", timeout=1)
            # the sentinels want their password
            r = RT.command(topo.sentinels[0].port, "PING", tls_dir=pki)
            assert r.startswith(b"NOAUTH"), r
        assert primary.cmd("SET", "k", "v") == b"OK"
        old, new, took = topo.failover()
        assert (old, new) == (primary.port, replica.port), (old, new)
        assert replica.role() == "master" and topo.master() is replica
        print("\n[failover %s] sentinels switched in %.2f s" % ("tls" if tls else "plain",
                                                                took))
        # the old primary follows the new one and keeps the data
        topo._wait(lambda: topo.link_up(primary), 30, "old primary following")
        assert primary.cmd("GET", "k") == b"v" and replica.cmd("GET", "k") == b"v"
        assert primary.cmd("SET", "k", "w").startswith(b"READONLY")
    finally:
        topo.stop()
    assert not any(n.running() for n in topo.nodes + topo.sentinels)


def test_replicaof_makes_the_primary_read_only_and_back(pki):
    topo = RT.Topology(pki)
    topo.start()
    try:
        primary = topo.nodes[0]
        primary.cmd("SET", "k", "v")
        topo.make_replica_of(primary, RT.H.closed_port())
        assert primary.cmd("SET", "k", "w").startswith(b"READONLY")
        assert primary.cmd("GET", "k") == b"v"   # the data stays, reads are served
        topo.make_primary(primary)
        assert primary.cmd("SET", "k", "w") == b"OK"
    finally:
        topo.stop()


def test_delayed_replica_lags(pki):
    """The relay test_failover's Replicas test uses: the replica lags by
    0.6 s, so a write not waited for is lost by a failover right after it."""
    topo = RT.Topology(pki, replica_delay=0.6)
    topo.start()
    try:
        primary, replica = topo.nodes
        primary.cmd("SET", "lag", "1")
        assert replica.cmd("GET", "lag") is None
        assert primary.cmd("WAIT", "1", "100") == b"0"
        t0 = time.monotonic()
        assert primary.cmd("WAIT", "1", "5000") == b"1"
        assert 0.3 < time.monotonic() - t0 < 3.0
        assert replica.cmd("GET", "lag") == b"1"
        primary.cmd("SET", "lost", "1")
        old, new, _ = topo.failover()
        assert new == replica.port and replica.cmd("GET", "lost") is None
        assert replica.cmd("GET", "lag") == b"1"
    finally:
        topo.stop()
