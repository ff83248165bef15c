//! The OpenAPI document; its committed snapshot is `proto-contracts/openapi/auth-token.json`.

use utoipa::OpenApi;

use crate::{admin, authorize, grants, verify};

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
