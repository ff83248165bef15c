//! Token issuance: a random value shown once, its SHA-256 stored; and the token view the
//! reference answers with (`id name value expires_at user_id details`).

use diesel_async::AsyncPgConnection;
use ehealth_core::SecretValue;
use mithril_store::tokens::{self, NewToken, now_unix};
use platform::{ApiError, ApiResult};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A token about to be stored, with its value.
pub struct Minted {
    pub row: NewToken,
    pub value: SecretValue,
}

pub fn mint(
    name: &'static str,
    ttl_secs: i64,
    user_id: Uuid,
    details: serde_json::Value,
) -> ApiResult<Minted> {
    let value = SecretValue::generate()
        .map_err(|e| ApiError::internal(anyhow::anyhow!("OS RNG failed: {e}")))?;
    let row = NewToken {
        id: Uuid::now_v7(),
        name,
        hash: value.hash(),
        expires_at: now_unix().saturating_add(ttl_secs),
        details,
        user_id,
    };
    Ok(Minted { row, value })
}

/// Issues a login token (`details.client_id` = `client_id`) and ends the user's other live
/// tokens of that client named in `ending`: the reference's `deactivate_old_tokens`, run after
/// the password, 2FA and factor steps.
pub async fn issue_ending_others(
    conn: &mut AsyncPgConnection,
    name: &'static str,
    ttl_secs: i64,
    user_id: Uuid,
    client_id: Uuid,
    details: serde_json::Value,
    ending: &[&str],
) -> ApiResult<Minted> {
    let token = mint(name, ttl_secs, user_id, details)?;
    tokens::insert(conn, &token.row).await?;
    tokens::expire_others(conn, token.row.id, user_id, client_id, ending).await?;
    Ok(token)
}

#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    /// The bearer value: shown only when the token is issued (and echoed by verify).
    pub value: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub user_id: Uuid,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl Minted {
    pub fn view(&self) -> TokenView {
        TokenView {
            id: self.row.id,
            name: self.row.name.to_owned(),
            value: self.value.expose().to_owned(),
            expires_at: self.row.expires_at,
            user_id: self.row.user_id,
            details: self.row.details.clone(),
        }
    }
}
