//! One-time passwords of two-factor login (spec §2 `otp`, §7 OTP). Stored as the SHA-256 of
//! their id and code only ([`ehealth_core::otp`]); single-use; a verification takes the OTP's
//! row lock, so parallel guesses count every attempt.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::schema::otps;

pub const NEW: &str = "NEW";
const VERIFIED: &str = "VERIFIED";
const CANCELED: &str = "CANCELED";
const EXPIRED: &str = "EXPIRED";

/// An OTP to store: its code is known only to the caller (and the SMS).
#[derive(Debug)]
pub struct NewOtp {
    pub id: Uuid,
    pub user_id: Uuid,
    /// `<2FA token id>===<phone>`.
    pub key: String,
    pub code_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

/// Stores an OTP and cancels the key's earlier ones (the latest is the one that counts).
pub async fn issue(conn: &mut AsyncPgConnection, otp: NewOtp) -> QueryResult<()> {
    conn.transaction(async |conn| {
        diesel::update(otps::table.filter(otps::key.eq(&otp.key).and(otps::status.eq(NEW))))
            .set(otps::status.eq(CANCELED))
            .execute(conn)
            .await?;
        diesel::insert_into(otps::table)
            .values((
                otps::id.eq(otp.id),
                otps::user_id.eq(otp.user_id),
                otps::key.eq(&otp.key),
                otps::code_hash.eq(&otp.code_hash),
                otps::expires_at.eq(otp.expires_at),
            ))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
}

/// OTPs issued to a user since `since` (the send throttle).
pub async fn sent_since(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    since: DateTime<Utc>,
) -> QueryResult<i64> {
    otps::table
        .filter(otps::user_id.eq(user_id).and(otps::inserted_at.gt(since)))
        .count()
        .get_result(conn)
        .await
}

/// The outcome of a guess, in the reference's order of checks.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    Verified,
    Expired,
    TooManyAttempts,
    /// Wrong, or no OTP waits under the key.
    Invalid,
}

/// Checks `guess` against the latest NEW OTP of `key`. A right guess uses the OTP up; every
/// guess counts as an attempt.
pub async fn check(
    conn: &mut AsyncPgConnection,
    key: &str,
    max_attempts: i32,
    matches: impl FnOnce(Uuid, &[u8]) -> bool + Send,
) -> QueryResult<Check> {
    conn.transaction(async |conn| {
        let latest: Option<(Uuid, Vec<u8>, DateTime<Utc>, i32)> = otps::table
            .filter(otps::key.eq(key).and(otps::status.eq(NEW)))
            .order(otps::inserted_at.desc())
            .select((otps::id, otps::code_hash, otps::expires_at, otps::attempts))
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let Some((id, hash, expires_at, attempts)) = latest else {
            return Ok(Check::Invalid);
        };
        let row = otps::table.find(id);
        if expires_at <= Utc::now() {
            diesel::update(row)
                .set(otps::status.eq(EXPIRED))
                .execute(conn)
                .await?;
            return Ok(Check::Expired);
        }
        if attempts >= max_attempts {
            return Ok(Check::TooManyAttempts);
        }
        let right = matches(id, &hash);
        let status = if right { VERIFIED } else { NEW };
        diesel::update(row)
            .set((otps::attempts.eq(attempts + 1), otps::status.eq(status)))
            .execute(conn)
            .await?;
        Ok(if right {
            Check::Verified
        } else {
            Check::Invalid
        })
    })
    .await
}
