//! Authentication factors (spec §2 `authentication_factors`): one SMS factor per user at most;
//! `factor` is the phone, empty until the user sets it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::models::Page;
use crate::schema::authentication_factors as factors;

pub const SMS: &str = "SMS";

#[derive(Clone, Debug, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = factors, check_for_backend(diesel::pg::Pg))]
pub struct AuthFactor {
    pub id: Uuid,
    pub user_id: Uuid,
    #[serde(rename = "type")]
    #[diesel(column_name = factor_type)]
    pub factor_type: String,
    /// The phone (`+380XXXXXXXXX`), or null until it is set.
    pub factor: Option<String>,
    pub is_active: bool,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct FactorFilter {
    pub factor_type: Option<String>,
    pub is_active: Option<bool>,
}

/// The user's active SMS factor, if any (login asks for an OTP when there is one).
pub async fn active_sms(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Option<AuthFactor>> {
    factors::table
        .filter(factors::user_id.eq(user_id))
        .filter(factors::factor_type.eq(SMS))
        .filter(factors::is_active.eq(true))
        .select(AuthFactor::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    f: &FactorFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<Page<AuthFactor>> {
    let filtered = || {
        let mut q = factors::table
            .filter(factors::user_id.eq(user_id))
            .into_boxed();
        if let Some(t) = &f.factor_type {
            q = q.filter(factors::factor_type.eq(t.clone()));
        }
        if let Some(a) = f.is_active {
            q = q.filter(factors::is_active.eq(a));
        }
        q
    };
    let total = filtered().count().get_result(conn).await?;
    let rows = filtered()
        .select(AuthFactor::as_select())
        .order((factors::inserted_at, factors::id))
        .limit(limit)
        .offset(offset)
        .load(conn)
        .await?;
    Ok(Page { rows, total })
}

/// A new factor (`SMS`: the table allows no other type); a second one of a type for the same
/// user is a unique violation.
pub async fn create(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    factor_type: &str,
    factor: Option<&str>,
) -> QueryResult<AuthFactor> {
    diesel::insert_into(factors::table)
        .values((
            factors::id.eq(Uuid::now_v7()),
            factors::user_id.eq(user_id),
            factors::factor_type.eq(factor_type),
            factors::factor.eq(factor),
        ))
        .returning(AuthFactor::as_returning())
        .get_result(conn)
        .await
}

/// The user's factor `id` (None when it is another user's or does not exist).
pub async fn get(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<AuthFactor>> {
    factors::table
        .filter(factors::id.eq(id).and(factors::user_id.eq(user_id)))
        .select(AuthFactor::as_select())
        .first(conn)
        .await
        .optional()
}

/// Clears the phone of an active factor (None when there is no such active factor).
pub async fn reset(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
) -> QueryResult<Option<AuthFactor>> {
    diesel::update(
        factors::table.filter(
            factors::id
                .eq(id)
                .and(factors::user_id.eq(user_id))
                .and(factors::is_active.eq(true)),
        ),
    )
    .set((
        factors::factor.eq(None::<String>),
        factors::updated_at.eq(diesel::dsl::now),
    ))
    .returning(AuthFactor::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Enables or disables a factor; None when it already is so (or does not exist).
pub async fn set_active(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    id: Uuid,
    active: bool,
) -> QueryResult<Option<AuthFactor>> {
    diesel::update(
        factors::table.filter(
            factors::id
                .eq(id)
                .and(factors::user_id.eq(user_id))
                .and(factors::is_active.ne(active)),
        ),
    )
    .set((
        factors::is_active.eq(active),
        factors::updated_at.eq(diesel::dsl::now),
    ))
    .returning(AuthFactor::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// Sets the phone of the user's SMS factor (approve_factor).
pub async fn set_phone(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    phone: &str,
) -> QueryResult<usize> {
    diesel::update(
        factors::table.filter(
            factors::user_id
                .eq(user_id)
                .and(factors::factor_type.eq(SMS)),
        ),
    )
    .set((
        factors::factor.eq(phone),
        factors::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// `+380` and nine digits: the reference's only accepted phone format.
pub fn is_phone(value: &str) -> bool {
    value
        .strip_prefix("+380")
        .is_some_and(|rest| rest.len() == 9 && rest.bytes().all(|b| b.is_ascii_digit()))
}
