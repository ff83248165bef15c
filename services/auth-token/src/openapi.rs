//! The OpenAPI document: the handler annotations completed as the wire has them
//! ([`platform::openapi`]). Its committed snapshot is `proto-contracts/openapi/auth-token.json`;
//! `make contract` runs schemathesis against it.

use platform::Schemas;
use platform::openapi::{BodySchema, Contract, Refusal};
use utoipa::OpenApi;

use crate::{admin, authorize, grants, oauth, pages, verify};

/// The served document.
pub fn document(schemas: &Schemas) -> anyhow::Result<serde_json::Value> {
    platform::openapi::wire(&ApiDoc::openapi(), schemas, &contract())
}

fn contract() -> Contract {
    Contract {
        access: crate::access,
        identity: |path| path == "/oauth/apps/authorize",
        actor: |_, _| false,
        bodies: vec![
            BodySchema::of::<authorize::AuthorizeRequest>(),
            BodySchema::of::<grants::two_factor::FactorRequest>(),
            BodySchema::of::<grants::two_factor::ApproveRequest>(),
            // One `token` object, narrowed by grant_type: each endpoint takes its own grants.
            BodySchema::at(
                "post",
                "/oauth/tokens",
                "OAuthGrant",
                &["token_authorization_code", "token_refresh_token"],
                Some("token"),
            ),
            BodySchema::at(
                "post",
                "/auth/login",
                "LoginGrant",
                &["token_password", "token_2fa", "token_refresh_2fa"],
                Some("token"),
            ),
        ],
        max_page_size: admin::MAX_PAGE_SIZE,
        uuid_lists: &["user_ids"],
        refusals: REFUSALS,
        own_form: crate::oauth::is_standard_path,
    }
}

/// The rules of the data behind this service's 422s.
const REFUSALS: &[Refusal] = &[];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "auth-token",
        description = "OAuth for the eHealth platform: login, authorize, code exchange and refresh (public, \
            through the gatekeeper), and the internal verify contract and token administration. Every answer \
            is the envelope {\"meta\":..,\"data\":..}; errors are {\"meta\":..,\"error\":{type,message[,invalid]}}."
    ),
    paths(
        grants::oauth_tokens,
        grants::login,
        authorize::authorize,
        grants::two_factor::init_factor,
        grants::two_factor::approve_factor,
        pages::authorize,
        oauth::token,
        oauth::introspect::introspect,
        oauth::revoke::revoke,
        oauth::metadata::metadata,
        verify::verify,
        verify::verify_api_key,
        verify::user,
        admin::list,
        admin::show,
        admin::delete,
        admin::delete_by_user_ids,
        admin::delete_by_user,
        admin::deactivate_client_tokens,
    ),
    components(schemas(
        ehealth_core::Meta,
        ehealth_core::Paging,
        ehealth_core::ErrorBody,
        ehealth_core::InvalidEntry,
        ehealth_core::Rule
    ))
)]
pub struct ApiDoc;
