//! Seed 000's client context: the caller's client (from the trusted headers) and its type
//! decide which client ids it may address.

use ehealth_core::{ClientAccess, ClientId};
use mithril_store::clients;
use platform::db::{self, DbConn, ReadConn};
use platform::{ApiError, ApiResult, Caller};

use crate::startup::AppState;

/// Ok when a caller whose client has the type `type_name` (None: no such client) may address
/// `target`. A caller client that does not exist is a 401; a restricted type addressing another
/// client is a 403 `forbidden`.
fn allowed(
    state: &AppState,
    type_name: Option<String>,
    caller: &Caller,
    target: ClientId,
) -> ApiResult<()> {
    let type_name = type_name
        .ok_or_else(|| ApiError::access_denied("Client from x-consumer-metadata is not found."))?;
    match state.client_types.access(&type_name) {
        ClientAccess::Any => Ok(()),
        ClientAccess::OwnOnly if caller.client_id == target => Ok(()),
        ClientAccess::OwnOnly => Err(ApiError::forbidden()),
    }
}

/// A pooled connection (for writes), once `caller` is known to be allowed to address `target`.
pub async fn connect_for(state: &AppState, caller: &Caller, target: ClientId) -> ApiResult<DbConn> {
    let conn = db::conn(&state.pool).await?;
    let type_name = clients::type_name(&conn, caller.client_id.as_uuid()).await?;
    allowed(state, type_name, caller, target)?;
    Ok(conn)
}

/// A connection for single-statement reads (shared, pipelined), once `caller` is known to be
/// allowed to address `target`.
pub async fn read_for(state: &AppState, caller: &Caller, target: ClientId) -> ApiResult<ReadConn> {
    let conn = state.reads.conn().await?;
    let type_name = conn.checked(clients::type_name(&conn, caller.client_id.as_uuid()).await)?;
    allowed(state, type_name, caller, target)?;
    Ok(conn)
}
