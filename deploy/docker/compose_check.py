#!/usr/bin/env python3
"""The compose stack's checks (make compose-check; deploy/docker/compose-check.sh runs them).

  compose_check.py inside             on the compose network (the toolbox container): every
                                      internal API refuses calls without the admin credential,
                                      and a service refuses identity headers the gateway did not
                                      sign
  compose_check.py outside GATEWAY    on the host: only the gateway's port answers on loopback,
                                      and the whole flow runs through it (login, authorize, code
                                      exchange, refresh, seeds 000-004 with their 401/403 cases)

Environment: the DEMO_* values of deploy/local/demo_data.sh (outside), ADMIN_TOKEN (inside).
Each check prints one line; the last line counts them ('N passed, N failed'); exit 1 on any
failure.
"""
import json
import os
import socket
import sys
import urllib.error
import urllib.request

PASSED, FAILED = [], []


def check(name, ok, detail=""):
    (PASSED if ok else FAILED).append(name)
    print(f"{'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail and not ok else ""))


def call(method, url, body=None, headers=None):
    """(status, parsed JSON or None, headers) of one request."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            raw, status, hdrs = res.read(), res.status, res.headers
    except urllib.error.HTTPError as e:
        raw, status, hdrs = e.read(), e.code, e.headers
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return status, parsed, hdrs


def expect(name, result, status, error_type=None, message=None):
    got, body, _ = result
    ok = got == status
    if ok and error_type:
        ok = (body or {}).get("error", {}).get("type") == error_type
    if ok and message:
        ok = (body or {}).get("error", {}).get("message") == message
    check(name, ok, f"got {got} {json.dumps(body)[:300]}")
    return body


def inside():
    admin = {"authorization": f"Bearer {os.environ['ADMIN_TOKEN']}"}
    internal = [
        ("GET", "http://mithril-api:4010/admin/clients"),
        ("POST", "http://mithril-api:4010/admin/client_types"),
        ("GET", "http://auth-token:4020/admin/tokens"),
        ("DELETE", "http://auth-token:4020/admin/tokens?user_ids=00000000-0000-0000-0000-000000000000"),
        ("GET", "http://auth-token:4020/admin/tokens/anything/verify"),
        ("PUT", "http://employee-roles:4030/admin/legal_entities/00000000-0000-0000-0000-000000000000"),
        ("POST", "http://gatekeeper:4001/cache/purge"),
        ("POST", "http://gatekeeper:4001/explain"),
        ("GET", "http://gatekeeper:4001/routes"),
        ("POST", "http://gatekeeper:4001/routes/reload"),
    ]
    for method, url in internal:
        expect(f"{method} {url} without the admin token: 401", call(method, url, {}), 401,
               "access_denied", "Admin credential required.")
        expect(f"{method} {url} with a wrong token: 401",
               call(method, url, {}, {"authorization": "Bearer wrong-token-0000000000"}), 401,
               "access_denied", "Invalid admin credential.")
    expect("GET mithril-api /admin/clients with the admin token: 200",
           call("GET", "http://mithril-api:4010/admin/clients", None, admin), 200)
    forged = {"x-consumer-id": "00000000-0000-0000-0000-000000000001",
              "x-consumer-metadata": json.dumps({"client_id": os.environ["DEMO_MSP_ID"],
                                                 "scope": "connection:read"})}
    expect("forged identity straight to mithril-api: 401",
           call("GET", f"http://mithril-api:4010/api/clients/{os.environ['DEMO_MSP_ID']}/connections",
                None, forged), 401, "access_denied", "Missing header x-consumer-signature")
    expect("forged identity straight to employee-roles: 401",
           call("GET", "http://employee-roles:4030/api/employee_roles?status=ACTIVE", None, forged),
           401, "access_denied", "Missing header x-consumer-signature")
    for url in ["http://gatekeeper:4001/ready", "http://gatekeeper:4001/metrics"]:
        status, _, _ = call("GET", url)
        check(f"{url} needs no credential: 200", status == 200, f"got {status}")
    metrics = urllib.request.urlopen("http://gatekeeper:4001/metrics", timeout=5).read().decode()
    check("the gatekeeper receives revocation events (as gatekeeper_listener)",
          "gatekeeper_revocation_listener_up 1" in metrics.splitlines())


def port_closed(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) != 0


def outside(gateway):
    e = os.environ
    for port in [4001, 4010, 4020, 4030, 5432, 6379]:
        check(f"127.0.0.1:{port} does not answer", port_closed(port))
    g = f"http://{gateway}"
    msp, mis, conn = e["DEMO_MSP_ID"], e["DEMO_MIS_ID"], e["DEMO_CONNECTION_ID"]
    api_key = {"api-key": e["DEMO_MIS_API_KEY"]}

    # Login -> authorize -> exchange -> refresh, through the published port.
    body = expect("login: 201", call("POST", f"{g}/auth/login", {"token": {
        "grant_type": "password", "email": e["DEMO_EMAIL"], "password": e["DEMO_PASSWORD"],
        "client_id": e["DEMO_FRONT_ID"], "scope": "app:authorize"}}), 201)
    login = body["data"]["value"]
    expect("authorize without a token: 401",
           call("POST", f"{g}/oauth/apps/authorize", {"app": {}}), 401, "access_denied")
    scope = "connection:read connection:write employee_role:read employee_role:write"
    body = expect("authorize: 201", call("POST", f"{g}/oauth/apps/authorize", {"app": {
        "client_id": msp, "redirect_uri": e["DEMO_REDIRECT"], "scope": scope}},
        {"authorization": f"Bearer {login}"}), 201)
    code = body["data"]["value"]
    grant = {"grant_type": "authorization_code", "client_id": msp,
             "client_secret": e["DEMO_CONNECTION_SECRET"], "code": code,
             "redirect_uri": e["DEMO_REDIRECT"]}
    body = expect("seed 003, code exchange: 201", call("POST", f"{g}/oauth/tokens", {"token": grant}), 201)
    token, refresh = body["data"]["value"], body["data"]["details"]["refresh_token"]
    expect("seed 003, the code a second time: 401",
           call("POST", f"{g}/oauth/tokens", {"token": grant}), 401)
    expect("refresh: 201", call("POST", f"{g}/oauth/tokens", {"token": {
        "grant_type": "refresh_token", "client_id": msp,
        "client_secret": e["DEMO_CONNECTION_SECRET"], "refresh_token": refresh}}), 201)
    bearer = {"authorization": f"Bearer {token}", **api_key}

    # Seeds 000-002 through the gateway.
    conns = f"{g}/api/clients/{msp}/connections"
    expect("seed 000 without a token: 401", call("GET", conns), 401, "access_denied")
    expect("seed 000 with an unknown token: 401",
           call("GET", conns, None, {"authorization": "Bearer not-a-token", **api_key}), 401,
           "access_denied")
    body = expect("seed 000: 200", call("GET", conns, None, bearer), 200)
    check("seed 000 lists the demo connection",
          any(c["id"] == conn for c in (body or {}).get("data", [])))
    expect("seed 001: 200", call("GET", f"{conns}/{conn}", None, bearer), 200)
    expect("seed 002: 200", call("PATCH", f"{conns}/{conn}",
                                 {"redirect_uri": e["DEMO_REDIRECT"]}, bearer), 200)
    expect("seed 002 without connection:delete scope, DELETE: 403",
           call("DELETE", f"{conns}/{conn}", None, bearer), 403, "forbidden",
           "Invalid scopes. Missing allowances: connection:delete")
    expect("/admin is never routed: 404", call("GET", f"{g}/admin/clients", None, bearer), 404)

    # Seed 004 through the gateway: the demo role goes INACTIVE once.
    deactivate = f"{g}/api/employee_roles/{e['DEMO_ROLE_ID']}/actions/deactivate"
    expect("seed 004 without a token: 401", call("PATCH", deactivate), 401, "access_denied")
    body = expect("seed 004: 200", call("PATCH", deactivate, None, bearer), 200)
    check("seed 004 role is INACTIVE", (body or {}).get("data", {}).get("status") == "INACTIVE")
    expect("seed 004 again: 409", call("PATCH", deactivate, None, bearer), 409, "request_conflict")
    reader = expect("a read-only code: 201", call("POST", f"{g}/oauth/apps/authorize", {"app": {
        "client_id": msp, "redirect_uri": e["DEMO_REDIRECT"], "scope": "employee_role:read"}},
        {"authorization": f"Bearer {login}"}), 201)
    body = expect("read-only exchange: 201", call("POST", f"{g}/oauth/tokens", {"token": {
        **grant, "code": reader["data"]["value"]}}), 201)
    read_only = {"authorization": f"Bearer {body['data']['value']}", **api_key}
    expect("seed 004 with only employee_role:read: 403",
           call("PATCH", deactivate, None, read_only), 403, "forbidden",
           "Invalid scopes. Missing allowances: employee_role:write")


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "inside":
        inside()
    elif mode == "outside" and len(sys.argv) == 3:
        outside(sys.argv[2])
    else:
        sys.exit(__doc__)
    print(f"compose-check {mode}: {len(PASSED)} passed, {len(FAILED)} failed")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
