//! Browser sign-ins in progress (auth-token's `/sign-in` pages): found by the SHA-256 of the
//! session value the browser holds; each step moves the row on; the last one deletes it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::sign_ins;

pub const PASSWORD: &str = "password";
pub const FACTOR: &str = "factor";
pub const OTP: &str = "otp";
pub const CONSENT: &str = "consent";

#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = sign_ins, check_for_backend(diesel::pg::Pg))]
pub struct SignIn {
    pub id: Uuid,
    pub session_hash: Vec<u8>,
    pub csrf_hash: Vec<u8>,
    pub client_id: Uuid,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub user_id: Option<Uuid>,
    pub step: String,
    /// A phone the user is setting for their factor (its code was sent there).
    pub phone: Option<String>,
    pub expires_at: DateTime<Utc>,
    pub inserted_at: DateTime<Utc>,
    /// Started at `/oauth/authorize`: the redirect URI matched exactly, the answer carries `iss`.
    pub standard: bool,
    /// The PKCE challenge (S256) the code will carry.
    pub code_challenge: Option<String>,
}

pub async fn create(conn: &mut AsyncPgConnection, row: &SignIn) -> QueryResult<usize> {
    diesel::insert_into(sign_ins::table)
        .values(row)
        .execute(conn)
        .await
}

/// The unexpired sign-in of this session.
pub async fn find(
    conn: &mut AsyncPgConnection,
    session_hash: &[u8],
) -> QueryResult<Option<SignIn>> {
    sign_ins::table
        .filter(sign_ins::session_hash.eq(session_hash))
        .filter(sign_ins::expires_at.gt(Utc::now()))
        .select(SignIn::as_select())
        .first(conn)
        .await
        .optional()
}

/// Moves a sign-in on to `step`, for `user_id`.
pub async fn advance(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    user_id: Uuid,
    step: &str,
) -> QueryResult<usize> {
    diesel::update(sign_ins::table.find(id))
        .set((sign_ins::user_id.eq(user_id), sign_ins::step.eq(step)))
        .execute(conn)
        .await
}

/// The phone a user is setting: its code was sent there; the OTP step approves it.
pub async fn set_phone(conn: &mut AsyncPgConnection, id: Uuid, phone: &str) -> QueryResult<usize> {
    diesel::update(sign_ins::table.find(id))
        .set((sign_ins::phone.eq(phone), sign_ins::step.eq(OTP)))
        .execute(conn)
        .await
}

/// Ends a sign-in (its code was issued or it was denied). 0 when another request ended it.
pub async fn finish(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(sign_ins::table.find(id)).execute(conn).await
}

/// Sign-ins that expired before `before` (the cleanup job).
pub async fn delete_expired(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(sign_ins::table.filter(sign_ins::expires_at.lt(before)))
        .execute(conn)
        .await
}
