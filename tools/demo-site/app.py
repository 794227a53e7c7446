#!/usr/bin/python3
"""app.py - the demo's "allocation manager": a small Flask application behind
httpd's mod_proxy, protected by mod_nomis_sso. It never sees a password or a
cookie of the module's: who is signed in comes from the X-Nomis-* request
headers the module sets (and strips from what clients send), and the access
token it calls the NOMIS API with from `Authorization: Bearer`
(NomisSSOPassAccessToken On).

    /usr/bin/python3 app.py --port PORT --api http://127.0.0.1:API_PORT

Pages (mounted at /allocations/, httpd proxies that path unchanged):
  /allocations/           "Your allocations": name, roles, caseload, and the
                          cases the NOMIS API returns for the caseload
  /allocations/allocate   allocate a POM: ALLOC_MGR only (httpd's Require
                          nomis-role checks it first; the app checks again)
  /allocations/whoami.json  what reached the app, as JSON (for the tests)
The menu shows "Allocate a POM" only to ALLOC_MGR holders. Loopback only;
prints "READY <port>" once listening. Debian's python3-flask.
"""

import argparse
import json
import sys
import time
import urllib.error
import urllib.request

from flask import Flask, abort, render_template_string, request

app = Flask(__name__)
API = {"url": None}

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }} - Allocation manager</title>
<style>
body{margin:0;font-family:arial,sans-serif;font-size:19px;line-height:1.4;color:#0b0c0c}
header{background:#0b0c0c;color:#fff;padding:12px 15px;border-bottom:10px solid #1d70b8}
nav ul{list-style:none;margin:0;padding:10px 15px;background:#f3f2f1}
nav li{display:inline-block;margin-right:20px}
main{padding:20px 15px;max-width:960px}
a{color:#1d70b8}a:focus{outline:3px solid #fd0;background:#fd0;color:#0b0c0c}
table{border-collapse:collapse;width:100%;max-width:40em}
caption{text-align:left;font-weight:700}th,td{text-align:left;padding:4px 12px 4px 0;
border-bottom:1px solid #b1b4b6}
h1{line-height:1.15}
@media (max-width:640px){body{font-size:16px}h1{font-size:27px}th,td{padding-right:6px}}
</style></head><body>
<header>HM Prison and Probation Service &middot; Allocation manager (demo)</header>
<nav aria-label="Menu"><ul id="menu">
<li><a id="menu-allocations" href="/allocations/">Your allocations</a></li>
{% if can_allocate %}<li><a id="menu-allocate" href="/allocations/allocate">Allocate a POM</a></li>{% endif %}
<li><a id="menu-sign-out" href="/nomis-sso/logout">Sign out</a></li>
</ul></nav>
<main>
<h1>{{ title }}</h1>
<p id="welcome">Signed in as <strong id="name">{{ who.name }}</strong>
(<span id="user">{{ who.user }}</span>), caseload <span id="caseload">{{ who.caseload or "none" }}</span>.</p>
<p>Roles: <span id="roles">{{ who.roles | join(", ") or "none" }}</span></p>
{{ body | safe }}
</main></body></html>
"""


def identity():
    """The member of staff as the module handed them over (headers only)."""
    h = request.headers
    return {
        "user": h.get("X-Nomis-User", ""),
        "name": h.get("X-Nomis-Name", ""),
        "auth_source": h.get("X-Nomis-Auth-Source", ""),
        "roles": [r for r in h.get("X-Nomis-Roles", "").split(",") if r],
        "caseload": h.get("X-Nomis-Caseload", ""),
        "caseloads": [c for c in h.get("X-Nomis-Caseloads", "").split(",") if c],
    }


def call_api(path, caseload):
    """GET the NOMIS API with the token the module passed: (status, JSON)."""
    auth = request.headers.get("Authorization", "")
    req = urllib.request.Request(API["url"] + path, headers={
        "Authorization": auth, "X-Caseload": caseload})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        return e.code, {"error": "HTTP %d" % e.code}
    except (urllib.error.URLError, OSError, ValueError) as e:
        return 502, {"error": type(e).__name__}


def render(title, body, who, status=200):
    return render_template_string(PAGE, title=title, body=body, who=who,
                                  can_allocate="ALLOC_MGR" in who["roles"]), status, {
                                      "Cache-Control": "no-store"}


@app.route("/allocations/")
def allocations():
    who = identity()
    if not who["user"]:
        abort(401)
    status, data = call_api("/allocations", who["caseload"])
    if status != 200:
        body = '<p id="api-error">The NOMIS API refused: %s</p>' % data.get("error")
        return render("Your allocations", body, who, 502)
    rows = "".join('<tr><td>%s</td><td>%s</td><td>%s</td></tr>' % (
        a["prisoner"], a["name"], a["pom"] or "unallocated") for a in data["allocations"])
    body = render_template_string(
        '<p id="api-user">The NOMIS API checked the token of <strong>{{ d.user }}</strong>'
        ' (valid until <span id="token-exp" data-exp="{{ d.token_exp }}">{{ until }}</span>).</p>'
        '<table id="allocations"><caption>Prisoners in {{ d.caseload or "no caseload" }}'
        '</caption><tr><th scope="col">Number</th><th scope="col">Name</th>'
        '<th scope="col">POM</th></tr>{{ rows | safe }}</table>', d=data, rows=rows,
        until=time.strftime("%H:%M:%S UTC", time.gmtime(data["token_exp"])))
    return render("Your allocations", body, who)


@app.route("/allocations/allocate")
def allocate():
    who = identity()
    if "ALLOC_MGR" not in who["roles"]:
        abort(403)
    return render("Allocate a POM", '<p id="allocate">Choose a prisoner, then a Prison '
                  'Offender Manager. (This demo allocates nobody.)</p>', who)


@app.route("/allocations/whoami.json")
def whoami():
    seen = {k: v for k, v in request.headers.items() if k.lower().startswith("x-nomis-")}
    auth = request.headers.get("Authorization", "")
    out = {"headers": seen, "bearer": auth.startswith("Bearer "),
           "identity": identity()}
    if out["bearer"]:
        status, data = call_api("/allocations", identity()["caseload"])
        out["api_status"], out["api"] = status, data
    return out, 200, {"Cache-Control": "no-store"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api", required=True, help="base URL of the NOMIS API stand-in")
    args = ap.parse_args()
    API["url"] = args.api.rstrip("/")
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    sys.stdout.write("READY %d\n" % server.server_port)
    sys.stdout.flush()
    import signal

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
