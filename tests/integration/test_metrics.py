"""SetHandler nomis-sso-metrics through the real httpd: every metric with its
HELP and TYPE, plausible values after scripted traffic (sign-ins, a failed
sign-in, a denial, a sign-out, bearer tokens accepted and refused, refreshes),
counts summed over many prefork children (MaxConnectionsPerChild 1) and kept
across a graceful restart, and NomisSSOMetrics Off."""

import re

import requests

import harness as H

METRICS = "/nomis-sso/metrics"

ALL = {
    "nomis_sso_sign_ins_total": "counter",
    "nomis_sso_sign_in_failures_total": "counter",
    "nomis_sso_denials_total": "counter",
    "nomis_sso_sign_outs_total": "counter",
    "nomis_sso_refreshes_total": "counter",
    "nomis_sso_bearer_tokens_total": "counter",
    "nomis_sso_sessions_live": "gauge",
    "nomis_sso_store_capacity": "gauge",
    "nomis_sso_store_evictions_total": "counter",
    "nomis_sso_jwks_refreshes_total": "counter",
    "nomis_sso_auth_server_requests_total": "counter",
    "nomis_sso_auth_server_request_seconds": "histogram",
}

SAMPLE = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? (\S+)$')


def site_extra(h, metrics_on=True):
    d = h.dir
    return """
<Location {m}>
    SetHandler nomis-sso-metrics
    Require all granted
</Location>
ScriptAliasMatch "^/api/" "{d}/cgi-bin/env.cgi"
<Location /api>
    AuthType nomis-bearer
    Require valid-user
</Location>
<Location /api/others>
    NomisSSOBearerClients someone-else
</Location>
ScriptAliasMatch "^/managers/" "{d}/cgi-bin/env.cgi"
<Location /managers>
    AuthType nomis-sso
    Require nomis-role MOIC_ADMIN
</Location>
{off}
""".format(m=METRICS, d=d, off="" if metrics_on else "NomisSSOMetrics Off")


def make(httpd_factory, devauth, mpm="event", mpm_conf=None, extra_nsso="", metrics_on=True):
    conf = H.nsso_directives(devauth.auth_url, extra=extra_nsso)
    h = httpd_factory(start=False, mpm=mpm, mpm_conf=mpm_conf, nsso_conf=conf)
    h.params["extra"] = site_extra(h, metrics_on)
    h.write_conf()
    h.start()
    return h


def scrape(h):
    """(samples {(name, labels-string): value}, types {name: type}, helps {name})"""
    r = requests.get(h.url(METRICS), timeout=10, headers={"Connection": "close"})
    assert r.status_code == 200, h.explain(r, "scrape")
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4", r.headers
    samples, types, helps = {}, {}, set()
    for line in r.text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            types[name] = typ
        elif line:
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return samples, types, helps


def value(samples, name, labels=""):
    return samples.get((name, labels), 0.0)


def total(samples, name, **match):
    """Sum of a metric's samples whose labels include match."""
    want = ['%s="%s"' % kv for kv in match.items()]
    return sum(v for (n, lab), v in samples.items()
               if n == name and all(w in lab.split(",") for w in want))


def sign_out(b):
    r = b.get("/nomis-sso/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 302, r.status_code


def test_every_metric_after_traffic(httpd_factory, devauth):
    # refresh on every request: the token lives 1200 s, refresh 1300 s before
    h = make(httpd_factory, devauth, extra_nsso="NomisSSORefreshBeforeExpiry 1300")
    before, _, _ = scrape(h)
    b = H.Browser(h, devauth)
    b.login("/protected/env")                                   # sign-in
    assert b.get("/protected/env").status_code == 200          # refresh ok
    r = b.get("/managers/x")                                    # denial
    assert r.status_code == 403, h.explain(r)
    sign_out(b)                                                 # sign-out
    r = H.Browser(h, devauth).get(H.CALLBACK + "?state=" + "x" * 30 + "&code=c")
    assert r.status_code == 400                                 # failed sign-in: state
    tok = devauth.mint(username="ALLOC_SPO")["access_token"]
    auth = {"Authorization": "Bearer " + tok}
    assert requests.get(h.url("/api/x"), headers=auth, timeout=10).status_code == 200
    bad = {"Authorization": "Bearer " + tok[:-4] + "AAAA"}
    assert requests.get(h.url("/api/x"), headers=bad, timeout=10).status_code == 401
    assert requests.get(h.url("/api/others/x"), headers=auth, timeout=10).status_code == 401
    old = devauth.mint(username="ALLOC_SPO", lifetime=-120)["access_token"]
    assert requests.get(h.url("/api/x"), timeout=10,
                        headers={"Authorization": "Bearer " + old}).status_code == 401

    s, types, helps = scrape(h)
    for name, typ in ALL.items():
        assert types.get(name) == typ, (name, types)
        assert name in helps, name

    def grew(name, labels="", by=1):
        assert value(s, name, labels) - value(before, name, labels) >= by, \
            (name, labels, value(before, name, labels), value(s, name, labels))

    grew("nomis_sso_sign_ins_total")
    grew("nomis_sso_sign_in_failures_total", 'reason="state"')
    grew("nomis_sso_denials_total")
    grew("nomis_sso_sign_outs_total")
    grew("nomis_sso_refreshes_total", 'result="ok"')
    grew("nomis_sso_bearer_tokens_total", 'result="accepted"')
    grew("nomis_sso_bearer_tokens_total", 'result="invalid"')
    grew("nomis_sso_bearer_tokens_total", 'result="expired"')
    grew("nomis_sso_bearer_tokens_total", 'result="wrong_client"')
    assert value(s, "nomis_sso_jwks_refreshes_total") >= 1
    assert value(s, "nomis_sso_store_capacity") == 10000
    assert value(s, "nomis_sso_sessions_live") >= 1
    assert ("nomis_sso_store_evictions_total", "") in s
    # the code exchange and the refresh: token endpoint, 200
    assert value(s, "nomis_sso_auth_server_requests_total",
                 'endpoint="token",code="200"') >= 2, s
    assert value(s, "nomis_sso_auth_server_requests_total",
                 'endpoint="jwks",code="200"') >= 1, s
    # the histogram: cumulative buckets ending in +Inf == count, a sum
    name = "nomis_sso_auth_server_request_seconds"
    buckets = sorted(((float(lab.split('le="')[1].rstrip('"')), v)
                      for (n, lab), v in s.items()
                      if n == name + "_bucket" and 'endpoint="token"' in lab))
    assert buckets and buckets[-1][0] == float("inf"), buckets
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), buckets
    count = value(s, name + "_count", 'endpoint="token"')
    assert buckets[-1][1] == count >= 2
    assert 0 < value(s, name + "_sum", 'endpoint="token"') < 10 * count


def test_auth_server_failures_counted(httpd_factory, devauth):
    h = make(httpd_factory, devauth)
    devauth.fault("token", "500", count=1)
    b = H.Browser(h, devauth)
    r = b.callback(b.authorize(b.begin("/protected/env")))
    assert r.status_code == 502, h.explain(r)
    s, _, _ = scrape(h)
    assert value(s, "nomis_sso_auth_server_requests_total",
                 'endpoint="token",code="500"') == 1, s
    assert value(s, "nomis_sso_sign_in_failures_total", 'reason="auth_unavailable"') == 1


PREFORK_MANY = ("StartServers 3\nMinSpareServers 2\nMaxSpareServers 4\n"
                "MaxRequestWorkers 6\nServerLimit 6\nMaxConnectionsPerChild 1\n")


def fresh_get(b, path):
    """A request on a connection of its own: a new prefork child each time."""
    return b.get_current(path, timeout=10)


def signin_one_child_per_request(h, devauth):
    b = H.Browser(h, devauth)
    b.s.headers["Connection"] = "close"
    cb = b.callback(b.authorize(b.begin("/protected/env")))
    assert cb.status_code == 302, h.explain(cb)
    r = fresh_get(b, "/protected/env")
    assert r.status_code == 200, h.explain(r)
    return b


def test_counts_summed_over_children_and_kept_across_graceful(httpd_factory, devauth):
    h = make(httpd_factory, devauth, mpm="prefork", mpm_conf=PREFORK_MANY)
    seen = []

    def check(expected_signins):
        s, _, _ = scrape(h)
        # every scrape is one more child: the sum never goes down
        for name in ("nomis_sso_sign_ins_total", "nomis_sso_jwks_refreshes_total"):
            if seen:
                assert value(s, name) >= value(seen[-1], name), (name, seen[-1], s)
        assert value(s, "nomis_sso_sign_ins_total") == expected_signins, h.log_tail()
        seen.append(s)
        return s

    check(0)
    for i in range(6):
        signin_one_child_per_request(h, devauth)
        check(i + 1)
    pids = {line.split()[0] for line in h.access_lines()}
    assert len(pids) >= 10, "expected many children, saw %d" % len(pids)
    tokens = value(seen[-1], "nomis_sso_auth_server_requests_total",
                   'endpoint="token",code="200"')
    assert tokens == 6
    h.graceful()
    s = check(6)
    assert value(s, "nomis_sso_auth_server_requests_total",
                 'endpoint="token",code="200"') == tokens
    signin_one_child_per_request(h, devauth)
    check(7)
    h.graceful(use_signal=True)
    check(7)


def test_metrics_off(httpd_factory, devauth):
    h = make(httpd_factory, devauth, metrics_on=False)
    H.Browser(h, devauth).login("/protected/env")
    r = requests.get(h.url(METRICS), timeout=10)
    assert r.status_code == 404, h.explain(r)


def test_only_get(httpd_factory, devauth):
    h = make(httpd_factory, devauth)
    r = requests.post(h.url(METRICS), timeout=10)
    assert r.status_code == 405 and "GET" in r.headers.get("Allow", ""), h.explain(r)
