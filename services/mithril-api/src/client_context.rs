//! Seed 000's client context: the caller's client (from the trusted headers) and its type
//! decide which client ids it may address.

use ehealth_core::{ClientAccess, ClientId};
use platform::db::{self, DbConn};
use platform::{ApiError, ApiResult, Caller};

use crate::startup::AppState;

/// Ok when `caller` may address `target`. A caller client that does not exist is a 401; a
/// restricted type addressing another client is a 403 `forbidden`.
pub async fn authorize(
    state: &AppState,
    conn: &mut DbConn,
    caller: &Caller,
    target: ClientId,
) -> ApiResult<()> {
    let type_name = mithril_store::clients::type_name(conn, caller.client_id.as_uuid())
        .await?
        .ok_or_else(|| ApiError::access_denied("Client from x-consumer-metadata is not found."))?;
    match state.client_types.access(&type_name) {
        ClientAccess::Any => Ok(()),
        ClientAccess::OwnOnly if caller.client_id == target => Ok(()),
        ClientAccess::OwnOnly => Err(ApiError::forbidden()),
    }
}

/// A pooled connection, once `caller` is known to be allowed to address `target`.
pub async fn connect_for(state: &AppState, caller: &Caller, target: ClientId) -> ApiResult<DbConn> {
    let mut conn = db::conn(&state.pool).await?;
    authorize(state, &mut conn, caller, target).await?;
    Ok(conn)
}
