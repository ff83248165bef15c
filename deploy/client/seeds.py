"""Seeds 000-004 through the gateway with a client generated from its public document.

make client-check generates the package `ehealth_gateway` from the gateway's /openapi.json with
openapi-python-client and runs this against the stack of deploy/local/with-stack.sh. Every call
goes through the generated functions and every answer is parsed into the generated models with
`raise_on_unexpected_status`: an undocumented status, a missing field or a wrong type fails here,
so the document and the wire cannot drift apart unnoticed.
Env: GATE and the demo data of deploy/local/demo_data.sh (DEMO_*).
"""
import os
import sys
from uuid import UUID

from ehealth_gateway import AuthenticatedClient, Client
from ehealth_gateway.api.employee_roles import (
    get_api_employee_roles_id,
    patch_api_employee_roles_id_actions_deactivate,
)
from ehealth_gateway.api.oauth import post_auth_login, post_oauth_apps_authorize, post_oauth_tokens
from ehealth_gateway.api.oauth2 import (
    get_well_known_oauth_authorization_server,
    post_oauth_introspect,
    post_oauth_token,
)
from ehealth_gateway.api.public_connections import (
    delete_api_clients_client_id_connections_connection_id,
    get_api_clients_client_id_connections,
    get_api_clients_client_id_connections_connection_id,
    patch_api_clients_client_id_connections_connection_id,
)
from ehealth_gateway.models import (
    AuthorizeRequest,
    AuthorizeRequestRequest,
    ConnectionUpdate,
    ErrorEnvelope,
    GrantType,
    LoginGrantRequest,
    OAuthErrorBody,
    OAuthGrantRequest,
    TokenAuthorizationCode,
    TokenForm,
    TokenHintForm,
    TokenPassword,
    TokenPasswordGrantType,
)

E = os.environ
GATE = E["GATE"]
MSP = UUID(E["DEMO_MSP_ID"])
CONNECTION = UUID(E["DEMO_CONNECTION_ID"])
API_KEY = E["DEMO_MIS_API_KEY"]
SCOPE = (
    "connection:read connection:write connection:delete connection:refresh_secret "
    "employee_role:read employee_role:write"
)
passed = 0


def step(name, response, status):
    """The answer, parsed: `status` and the documented model, or the run stops here."""
    global passed
    if response.status_code != status or response.parsed is None:
        sys.exit(f"{name}: {response.status_code}, expected {status}: {response.content[:300]!r}")
    if isinstance(response.parsed, ErrorEnvelope):
        sys.exit(f"{name}: an error envelope: {response.parsed.error.message}")
    passed += 1
    print(f"{name}: {status}, parsed as {type(response.parsed).__name__}")
    return response.parsed


anonymous = Client(base_url=GATE, raise_on_unexpected_status=True)

# Seed 003: login, authorize the MSP's app, exchange the code.
login = step(
    "003 login",
    post_auth_login.sync_detailed(
        client=anonymous,
        body=LoginGrantRequest(
            token=TokenPassword(
                client_id=UUID(E["DEMO_FRONT_ID"]),
                email=E["DEMO_EMAIL"],
                grant_type=TokenPasswordGrantType.PASSWORD,
                password=E["DEMO_PASSWORD"],
                scope="app:authorize",
            )
        ),
    ),
    201,
)
user = AuthenticatedClient(base_url=GATE, token=login.data.value, raise_on_unexpected_status=True)
code = step(
    "003 authorize",
    post_oauth_apps_authorize.sync_detailed(
        client=user,
        body=AuthorizeRequestRequest(
            app=AuthorizeRequest(client_id=MSP, redirect_uri=E["DEMO_REDIRECT"], scope=SCOPE)
        ),
    ),
    201,
)
assert code.data.name == "authorization_code", code.data.name
access = step(
    "003 exchange",
    post_oauth_tokens.sync_detailed(
        client=anonymous,
        body=OAuthGrantRequest(
            token=TokenAuthorizationCode(
                client_id=MSP,
                client_secret=E["DEMO_CONNECTION_SECRET"],
                code=code.data.value,
                grant_type="authorization_code",
                redirect_uri=E["DEMO_REDIRECT"],
            )
        ),
    ),
    201,
)
assert access.data.name == "access_token", access.data.name
msp = AuthenticatedClient(base_url=GATE, token=access.data.value, raise_on_unexpected_status=True)

# Seed 000: the MSP's connections (a broker: the MIS sends its api-key).
listed = step(
    "000 list connections",
    get_api_clients_client_id_connections.sync_detailed(MSP, client=msp, api_key=API_KEY),
    200,
)
assert any(c.id == CONNECTION for c in listed.data), [c.id for c in listed.data]
assert listed.paging.page_number == 1

# Seed 001: update the connection's redirect URI.
new_uri = "https://mis.example.com/callback/updated"
updated = step(
    "001 update connection",
    patch_api_clients_client_id_connections_connection_id.sync_detailed(
        MSP,
        CONNECTION,
        client=msp,
        api_key=API_KEY,
        body=ConnectionUpdate(redirect_uri=new_uri),
    ),
    200,
)
assert updated.data.redirect_uri == new_uri, updated.data.redirect_uri

# Seed 004: deactivate the demo employee role.
role_id = UUID(E["DEMO_ROLE_ID"])
before = step(
    "004 read employee role",
    get_api_employee_roles_id.sync_detailed(role_id, client=msp, api_key=API_KEY),
    200,
)
assert before.data.status == "ACTIVE", before.data.status
after = step(
    "004 deactivate employee role",
    patch_api_employee_roles_id_actions_deactivate.sync_detailed(role_id, client=msp, api_key=API_KEY),
    200,
)
assert after.data.status == "INACTIVE", after.data.status

# The standard OAuth 2 endpoints (RFC forms, not the envelope), with the same client: the
# metadata, introspection of the seed's token, and a token request refused in RFC 6749 form.
metadata = step(
    "oauth2 metadata",
    get_well_known_oauth_authorization_server.sync_detailed(client=anonymous),
    200,
)
assert metadata.issuer == GATE and metadata.token_endpoint == f"{GATE}/oauth/token", metadata
seen = step(
    "oauth2 introspect",
    post_oauth_introspect.sync_detailed(
        client=anonymous,
        body=TokenHintForm(
            token=access.data.value,
            client_id=str(MSP),
            client_secret=E["DEMO_CONNECTION_SECRET"],
        ),
    ),
    200,
)
assert seen.active is True and seen.client_id == str(MSP), seen
refused = step(
    "oauth2 token with an unknown code",
    post_oauth_token.sync_detailed(
        client=anonymous,
        body=TokenForm(
            grant_type=GrantType.AUTHORIZATION_CODE,
            client_id=str(MSP),
            client_secret=E["DEMO_CONNECTION_SECRET"],
            code="unknown",
            redirect_uri=E["DEMO_REDIRECT"],
        ),
    ),
    400,
)
assert isinstance(refused, OAuthErrorBody) and refused.error == "invalid_grant", refused

# Seed 002: delete the connection. It was the MIS's integration of the MSP, so the MIS's broker
# access through the MSP's token ends with it: the next call is refused at the gateway (the
# revocation reached its verify cache; auth-token refuses an api-key whose MIS no longer
# integrates the token's client).
step(
    "002 delete connection",
    delete_api_clients_client_id_connections_connection_id.sync_detailed(
        MSP, CONNECTION, client=msp, api_key=API_KEY
    ),
    200,
)
gone = get_api_clients_client_id_connections_connection_id.sync_detailed(
    MSP, CONNECTION, client=msp, api_key=API_KEY
)
if gone.status_code != 401 or not isinstance(gone.parsed, ErrorEnvelope):
    sys.exit(f"002 read after delete: {gone.status_code}, expected 401 in the error envelope")
passed += 1
print(f"002 read after delete: 401, parsed as ErrorEnvelope ({gone.parsed.error.message})")
print(f"generated client: {passed} passed, 0 failed")
