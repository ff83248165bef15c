"""schemathesis calls the services as the gatekeeper and an operator do (make contract).

- Operations whose document names `adminToken` (or `serviceToken`) get the admin token.
- Operations that name `gatewayIdentity` get the seeded caller's identity headers and an
  `x-consumer-signature` over them, the method and the exact target requests will send
  (ehealth_core::identity_signature): what the gatekeeper sets after verifying a token.
- Operations of the gateway's public document that name `oauth2` get the demo access token (and
  the MIS's api-key: the demo token is a broker's); those that name `apiKey`, the api-key.

schemathesis's ignored_auth check then removes or spoils the credential and expects 401.
Env: ADMIN_TOKEN, IDENTITY_SIGNING_KEY, CONTRACT_USER_ID, CONTRACT_CLIENT_ID, CONTRACT_SCOPE,
CONTRACT_ACCESS_TOKEN, CONTRACT_API_KEY, CONTRACT_REDIRECT_URI.
"""
import hashlib
import hmac
import json
import os
import re
import time

import requests
import schemathesis

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

SIGNED_HEADERS = [
    "x-consumer-id",
    "x-consumer-metadata",
    "x-consumer-scope",
    "x-client-id",
    "x-mis-client-id",
    "x-person-id",
]


def identity_headers():
    user = os.environ["CONTRACT_USER_ID"]
    client = os.environ["CONTRACT_CLIENT_ID"]
    return {
        "x-consumer-id": user,
        "x-consumer-metadata": json.dumps({"client_id": client}, separators=(",", ":")),
        "x-consumer-scope": os.environ.get("CONTRACT_SCOPE", ""),
        "x-client-id": client,
    }


def signature(headers, method, target, now=None):
    """`t=<secs>,v1=<hex HMAC-SHA256>` as ehealth_core::identity_signature computes it."""
    now = int(time.time()) if now is None else now
    message = b"ehealth-identity-v1\n"
    for name in SIGNED_HEADERS:
        value = headers.get(name)
        message += (value.encode() if value is not None else b"\0") + b"\n"
    message += f"{now}\n".encode() + method.upper().encode() + b"\n" + target.encode()
    key = os.environ["IDENTITY_SIGNING_KEY"].encode()
    return f"t={now},v1={hmac.new(key, message, hashlib.sha256).hexdigest()}"


def schemes(operation):
    names = set()
    for requirement in operation.definition.raw.get("security") or []:
        names.update(requirement.keys())
    return names


def target_of(case):
    """The path and query exactly as requests will put them on the request line."""
    kwargs = case.as_transport_kwargs(base_url="http://contract.invalid")
    prepared = requests.Request(
        method=kwargs["method"], url=kwargs["url"], params=kwargs.get("params")
    ).prepare()
    return prepared.path_url


@schemathesis.auth()
class GatewayAndOperator:
    def get(self, case, ctx):
        return os.environ["ADMIN_TOKEN"]

    def set(self, case, data, ctx):
        names = schemes(case.operation)
        headers = dict(case.headers or {})
        if "adminToken" in names:
            headers["Authorization"] = f"Bearer {data}"
        if "oauth2" in names:
            headers["Authorization"] = f"Bearer {os.environ['CONTRACT_ACCESS_TOKEN']}"
            # The api-key is the MIS's credential beside the token, not data to generate.
            headers["api-key"] = os.environ["CONTRACT_API_KEY"]
        if "apiKey" in names:
            headers["api-key"] = os.environ["CONTRACT_API_KEY"]
        if "gatewayIdentity" in names:
            headers.update(identity_headers())
            case.headers = headers
            headers["x-consumer-signature"] = signature(headers, case.method, target_of(case))
        case.headers = headers


def is_negative(case):
    meta = getattr(case, "meta", None)
    return meta is not None and meta.generation.mode.is_negative


@schemathesis.check
def business_refusals_are_documented(ctx, response, case):
    """A 422 to a schema-valid request must name only rules of the data that the document lists
    for that operation (`x-business-rules` of its 422). positive_data_acceptance takes 422 as an
    answer (schemathesis.toml) only because this check holds every such 422 to the document."""
    if response.status_code != 422 or is_negative(case):
        return None
    documented = (case.operation.definition.raw.get("responses") or {}).get("422") or {}
    allowed = {(r["entry"], r["rule"]) for r in documented.get("x-business-rules", [])}
    found = {
        (entry.get("entry"), rule["rule"])
        for entry in response.json().get("error", {}).get("invalid", [])
        for rule in entry.get("rules", [])
    }
    undocumented = sorted(found - allowed, key=str)
    if undocumented:
        raise AssertionError(
            f"A schema-valid request got 422 for rules the document does not list: {undocumented}"
        )
    return None


@schemathesis.hook
def map_path_parameters(ctx, path_parameters):
    """Public client routes act on the caller's own client: the seeded one, not a random id
    (which the services rightly refuse with 403 before anything else is tried). Only a valid
    id is replaced: a malformed one is a negative case, and stays as generated."""
    if (
        ctx.operation.path.startswith("/api/clients/")
        and path_parameters
        and UUID.fullmatch(str(path_parameters.get("client_id", "")))
    ):
        path_parameters["client_id"] = os.environ["CONTRACT_CLIENT_ID"]
    return path_parameters


@schemathesis.hook
def map_case(ctx, case):
    """The authorization endpoint (RFC 6749 §4.1.1) shows an error page, rightly, for a client
    it does not know or a redirect URI the client has not registered, whatever else is sent: in
    a positive case, a valid client id becomes the seeded client, with its registered redirect
    URI, so that the rest of the request (response_type, scope, PKCE, state) is what is tested.
    Negative cases stay as generated."""
    query = case.query
    if (
        ctx.operation.path == "/oauth/authorize"
        and not is_negative(case)
        and query
        and UUID.fullmatch(str(query.get("client_id", "")))
    ):
        query["client_id"] = os.environ["CONTRACT_CLIENT_ID"]
        query["redirect_uri"] = os.environ["CONTRACT_REDIRECT_URI"]
    return case
