//! auth-token: OAuth for the eHealth platform. Login (`password`), authorization codes,
//! `/oauth/tokens` (`authorization_code`, `refresh_token`), the verify contract the gatekeeper
//! calls, revocation, and the cleanup of long-expired tokens.

mod admin;
mod authorize;
pub mod cleanup;
pub mod cli;
mod grants;
mod issue;
pub mod oauth;
pub mod openapi;
mod pages;
pub mod settings;
mod sms;
pub mod startup;
mod verify;

pub use settings::Settings;
pub use startup::Application;

pub(crate) fn schemas() -> anyhow::Result<platform::Schemas> {
    platform::schemas!(
        "token_request",
        "token_authorization_code",
        "token_refresh_token",
        "token_password",
        "app_authorize",
        "token_2fa",
        "token_refresh_2fa",
        "factor_init",
        "factor_approve",
    )
}

/// Who may call a path: operators everywhere under `/admin`; the gatekeeper's service
/// credential also on the two verify endpoints.
fn access(path: &str) -> platform::admin::Access {
    use platform::admin::{Access, admin_paths};
    let verify_token = path
        .strip_prefix("/admin/tokens/")
        .and_then(|rest| rest.strip_suffix("/verify"))
        .is_some_and(|token| !token.is_empty() && !token.contains('/'));
    if verify_token || path == "/admin/api_keys/verify" {
        Access::AdminOrService
    } else {
        admin_paths(path)
    }
}

fn configure(cfg: &mut actix_web::web::ServiceConfig, state: startup::AppState) {
    use actix_web::web;
    cfg.app_data(web::Data::new(state))
        .configure(pages::configure)
        .configure(oauth::configure)
        .service(web::resource("/oauth/tokens").post(grants::oauth_tokens))
        .service(web::resource("/auth/login").post(grants::login))
        .service(web::resource("/oauth/apps/authorize").post(authorize::authorize))
        .service(
            web::resource("/oauth/users/actions/init_factor").post(grants::two_factor::init_factor),
        )
        .service(
            web::resource("/oauth/users/actions/approve_factor")
                .post(grants::two_factor::approve_factor),
        )
        .service(
            web::resource("/admin/tokens")
                .get(admin::list)
                .delete(admin::delete_by_user_ids),
        )
        .service(
            web::resource("/admin/tokens/{id}")
                .get(admin::show)
                .delete(admin::delete),
        )
        .service(web::resource("/admin/tokens/{token}/verify").get(verify::verify))
        .service(web::resource("/admin/api_keys/verify").get(verify::verify_api_key))
        .service(web::resource("/admin/tokens/{token}/user").get(verify::user))
        .service(web::resource("/admin/users/{user_id}/tokens").delete(admin::delete_by_user))
        .service(
            web::resource("/admin/clients/{id}/actions/deactivate_tokens")
                .patch(admin::deactivate_client_tokens),
        );
}
