"""The standard OAuth 2 flow through the gateway with a stock client library (authlib).

make oauth-check runs this against the stack of deploy/local/with-stack.sh. authlib's
OAuth2Session does what an MIS's client does: it builds the authorization URL with PKCE (S256),
authenticates with client_secret_basic, fetches, refreshes, introspects and revokes tokens. The
sign-in pages in between are driven by posting their forms, as a browser does (headless Chromium
drives the same pages in make sign-in-check).
Env: GATE and the demo data of deploy/local/demo_data.sh (DEMO_*).
"""
import html
import os
import re
import sys
import time

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError

E = os.environ
GATE = E["GATE"]
MSP = E["DEMO_MSP_ID"]
SCOPE = "connection:read connection:write"
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + str(detail) if detail and not ok else ''}")


def fields(page):
    return {
        html.unescape(n): html.unescape(v)
        for n, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page)
    }


def sign_in(url):
    """The browser's part: the password form, then the consent form when asked."""
    browser = requests.Session()
    page = browser.get(url, allow_redirects=False)
    assert page.status_code == 200, (page.status_code, page.text[:300])
    form = fields(page.text)
    res = browser.post(f"{GATE}/sign-in", allow_redirects=False,
                       data={**form, "email": E["DEMO_EMAIL"], "password": E["DEMO_PASSWORD"]})
    if res.status_code == 200:
        res = browser.post(f"{GATE}/sign-in/consent", allow_redirects=False,
                           data={**fields(res.text), "decision": "approve"})
    assert res.status_code == 303, (res.status_code, res.text[:300])
    return res.headers["location"]


def seed_000(token):
    """Seed 000 through the gateway: the clinic's connections, read with the token."""
    return requests.get(f"{GATE}/api/clients/{MSP}/connections",
                        headers={"authorization": f"Bearer {token}", "api-key": E["DEMO_MIS_API_KEY"]})


def until(predicate, seconds=5.0):
    """Waits for a condition (the gateway drops a revoked token when the event arrives)."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


meta = requests.get(f"{GATE}/.well-known/oauth-authorization-server").json()
check("metadata: issuer is the gateway", meta["issuer"] == GATE, meta["issuer"])
check("metadata: PKCE S256 only", meta["code_challenge_methods_supported"] == ["S256"])

# A confidential client: client_secret_basic, PKCE honoured.
client = OAuth2Session(MSP, E["DEMO_CONNECTION_SECRET"], scope=SCOPE,
                       redirect_uri=E["DEMO_REDIRECT"], code_challenge_method="S256",
                       token_endpoint_auth_method="client_secret_basic")
verifier = generate_token(64)
url, state = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
back = sign_in(url)
check("authorize: the redirect carries state and iss",
      f"state={state}" in back and "iss=" in back, back)
token = client.fetch_token(meta["token_endpoint"], authorization_response=back, code_verifier=verifier)
check("token: Bearer with a refresh token", token["token_type"] == "Bearer" and "refresh_token" in token, token)
check("seed 000 with the token: 200", seed_000(token["access_token"]).status_code == 200)

first_refresh = token["refresh_token"]
refreshed = client.refresh_token(meta["token_endpoint"])
check("refresh: a new refresh token (rotation)", refreshed["refresh_token"] != first_refresh)
check("seed 000 with the refreshed token: 200", seed_000(refreshed["access_token"]).status_code == 200)

seen = client.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"]).json()
check("introspect: active, with scope and client", seen.get("active") is True
      and seen.get("client_id") == MSP and seen.get("scope") == SCOPE, seen)

res = client.revoke_token(meta["revocation_endpoint"], token=refreshed["refresh_token"],
                          token_type_hint="refresh_token")
check("revoke the refresh token: 200", res.status_code == 200, res.status_code)
seen = client.introspect_token(meta["introspection_endpoint"], token=refreshed["access_token"]).json()
check("introspect after revocation: inactive", seen == {"active": False}, seen)
refused = until(lambda: seed_000(refreshed["access_token"]).status_code == 401)
check("seed 000 with the revoked grant's token: 401", refused)

# Reuse detection: a second grant; its first refresh token used twice ends it.
verifier = generate_token(64)
url, _ = client.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
token = client.fetch_token(meta["token_endpoint"], authorization_response=sign_in(url), code_verifier=verifier)
stolen = token["refresh_token"]
rotated = client.refresh_token(meta["token_endpoint"])
try:
    client.refresh_token(meta["token_endpoint"], refresh_token=stolen)
    check("a reused refresh token is refused", False, "accepted")
except OAuthError as e:
    check("a reused refresh token is refused: invalid_grant", e.error == "invalid_grant", e.error)
seen = client.introspect_token(meta["introspection_endpoint"], token=rotated["access_token"]).json()
check("the reuse ended the grant's newest token too", seen == {"active": False}, seen)

# A public client: no secret, PKCE required.
public = OAuth2Session(MSP, scope=SCOPE, redirect_uri=E["DEMO_APP_REDIRECT"],
                       code_challenge_method="S256", token_endpoint_auth_method="none")
verifier = generate_token(64)
url, _ = public.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier)
token = public.fetch_token(meta["token_endpoint"], authorization_response=sign_in(url), code_verifier=verifier)
check("public client: token with PKCE", token["token_type"] == "Bearer", token)
check("public client: seed 000 with its token: 200", seed_000(token["access_token"]).status_code == 200)
public.revoke_token(meta["revocation_endpoint"], token=token["refresh_token"])
check("public client: revoked", until(lambda: seed_000(token["access_token"]).status_code == 401))

passed = sum(results)
print(f"oauth client: {passed} passed, {len(results) - passed} failed")
sys.exit(0 if passed == len(results) else 1)
