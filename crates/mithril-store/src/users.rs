use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::models::{Page, User};
use crate::schema::{login_failures, password_hstr, users};

/// How many previous passwords a new one may not repeat.
pub const PASSWORD_HISTORY: i64 = 3;

#[derive(Debug, Default)]
pub struct UserFilter {
    pub id: Option<Uuid>,
    pub ids: Option<Vec<Uuid>>,
    pub email: Option<String>,
    pub tax_id: Option<String>,
    pub is_blocked: Option<bool>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub id: Uuid,
    pub email: String,
    /// argon2id PHC string.
    pub password: String,
    pub settings: serde_json::Value,
    pub tax_id: String,
    pub person_id: String,
    pub is_blocked: bool,
    pub block_reason: Option<String>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub email: Option<String>,
    pub settings: Option<serde_json::Value>,
    pub tax_id: Option<String>,
    pub person_id: Option<String>,
}

/// What login needs: the hash never leaves the store in any other shape.
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct LoginUser {
    pub id: Uuid,
    pub password: String,
    pub is_blocked: bool,
    pub password_set_at: DateTime<Utc>,
    pub tax_id: String,
}

/// Case-insensitive e-mail equality: the bind is cast to citext, so the comparison is
/// citext = citext (a plain text bind would compare as text, case-sensitively) and the unique
/// index serves it.
fn email_is(
    email: &str,
) -> diesel::expression::SqlLiteral<
    diesel::sql_types::Bool,
    impl diesel::query_builder::QueryFragment<Pg> + Send + use<>,
> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("users.email = ")
        .bind::<diesel::sql_types::Text, _>(email.to_owned())
        .sql("::citext")
}

fn filtered(f: &UserFilter) -> users::BoxedQuery<'_, Pg> {
    let mut q = users::table.into_boxed();
    if let Some(id) = f.id {
        q = q.filter(users::id.eq(id));
    }
    if let Some(ids) = &f.ids {
        q = q.filter(users::id.eq_any(ids.clone()));
    }
    if let Some(email) = &f.email {
        q = q.filter(email_is(email));
    }
    if let Some(tax_id) = &f.tax_id {
        q = q.filter(users::tax_id.eq(tax_id));
    }
    if let Some(b) = f.is_blocked {
        q = q.filter(users::is_blocked.eq(b));
    }
    q
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &UserFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<Page<User>> {
    let total = filtered(f).count().get_result(conn).await?;
    let rows = filtered(f)
        .select(User::as_select())
        .order((users::inserted_at, users::id))
        .limit(limit)
        .offset(offset)
        .load(conn)
        .await?;
    Ok(Page { rows, total })
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<User> {
    users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
}

pub async fn exists(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(users::table.find(id)))
        .get_result(conn)
        .await
}

/// Inserts a user whose password is already hashed (argon2id PHC string), with its history row.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    email: &str,
    password_hash: &str,
) -> QueryResult<User> {
    create(
        conn,
        &NewUser {
            id,
            email: email.to_owned(),
            password: password_hash.to_owned(),
            settings: serde_json::json!({}),
            tax_id: String::new(),
            person_id: String::new(),
            is_blocked: false,
            block_reason: None,
        },
    )
    .await
}

pub async fn create(conn: &mut AsyncPgConnection, new: &NewUser) -> QueryResult<User> {
    conn.transaction(async |conn| {
        let user = diesel::insert_into(users::table)
            .values(new)
            .returning(User::as_returning())
            .get_result(conn)
            .await?;
        diesel::insert_into(password_hstr::table)
            .values((
                password_hstr::user_id.eq(new.id),
                password_hstr::password.eq(&new.password),
            ))
            .execute(conn)
            .await?;
        Ok(user)
    })
    .await
}

pub async fn update(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    changes: &UserChanges,
) -> QueryResult<User> {
    diesel::update(users::table.find(id))
        .set((changes, users::updated_at.eq(Utc::now())))
        .returning(User::as_returning())
        .get_result(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(users::table.find(id)).execute(conn).await
}

/// The hashes of the last [`PASSWORD_HISTORY`] passwords, newest first.
pub async fn recent_password_hashes(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Vec<String>> {
    password_hstr::table
        .filter(password_hstr::user_id.eq(id))
        .order((password_hstr::inserted_at.desc(), password_hstr::id.desc()))
        .limit(PASSWORD_HISTORY)
        .select(password_hstr::password)
        .load(conn)
        .await
}

/// Sets a new password hash, records it in the history and keeps only the last few there.
pub async fn set_password(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    password_hash: &str,
) -> QueryResult<User> {
    conn.transaction(async |conn| {
        let now = Utc::now();
        let user = diesel::update(users::table.find(id))
            .set((
                users::password.eq(password_hash),
                users::password_set_at.eq(now),
                users::updated_at.eq(now),
            ))
            .returning(User::as_returning())
            .get_result(conn)
            .await?;
        diesel::insert_into(password_hstr::table)
            .values((
                password_hstr::user_id.eq(id),
                password_hstr::password.eq(password_hash),
            ))
            .execute(conn)
            .await?;
        let keep: Vec<i64> = password_hstr::table
            .filter(password_hstr::user_id.eq(id))
            .order((password_hstr::inserted_at.desc(), password_hstr::id.desc()))
            .limit(PASSWORD_HISTORY)
            .select(password_hstr::id)
            .load(conn)
            .await?;
        diesel::delete(
            password_hstr::table.filter(
                password_hstr::user_id
                    .eq(id)
                    .and(password_hstr::id.ne_all(keep)),
            ),
        )
        .execute(conn)
        .await?;
        Ok(user)
    })
    .await
}

/// Sets `is_blocked` to `blocked` when it is not already; `None` when it already was (or no such user).
pub async fn set_blocked(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    blocked: bool,
    reason: Option<&str>,
) -> QueryResult<Option<User>> {
    diesel::update(users::table.filter(users::id.eq(id).and(users::is_blocked.ne(blocked))))
        .set((
            users::is_blocked.eq(blocked),
            users::block_reason.eq(reason),
            // Unblocking clears the wrong-OTP count too (the reference clears it).
            users::otp_error_counter.eq(0),
            users::updated_at.eq(Utc::now()),
        ))
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()
}

/// A wrong OTP: the user's count of consecutive ones, this one included.
pub async fn otp_failed(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<i32> {
    diesel::update(users::table.find(id))
        .set(users::otp_error_counter.eq(users::otp_error_counter + 1))
        .returning(users::otp_error_counter)
        .get_result(conn)
        .await
}

/// A right OTP ends the count of wrong ones.
pub async fn otp_succeeded(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::otp_error_counter.eq(0))
        .execute(conn)
        .await
}

/// Whether the user is blocked (None: no such user).
pub async fn is_blocked(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<bool>> {
    users::table
        .find(id)
        .select(users::is_blocked)
        .first(conn)
        .await
        .optional()
}

pub async fn find_for_login(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> QueryResult<Option<LoginUser>> {
    users::table
        .filter(email_is(email))
        .select(LoginUser::as_select())
        .first(conn)
        .await
        .optional()
}

/// The key failed logins are counted under: SHA-256 of the address as citext compares it.
const EMAIL_KEY: &str = "sha256(convert_to(lower($1), 'UTF8'))";

#[derive(QueryableByName)]
struct Reserved {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Counts a login attempt for `email` as failed before its password is checked, unless `max`
/// failures since `since` are counted already (then None: the password must not be checked).
/// Attempts for one address take their turn under a transaction-scoped advisory lock, so of
/// any number of parallel attempts at most `max` get through. A correct password then
/// removes the failures ([`clear_login_failures`]).
pub async fn reserve_login_attempt(
    conn: &mut AsyncPgConnection,
    email: &str,
    since: DateTime<Utc>,
    max: i64,
) -> QueryResult<Option<i64>> {
    use diesel::sql_types::{BigInt, Text, Timestamptz};
    let email = email.to_owned();
    conn.transaction(async |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended(lower($1), 1))")
            .bind::<Text, _>(&email)
            .execute(conn)
            .await?;
        let reserved: Option<Reserved> = diesel::sql_query(format!(
            "INSERT INTO login_failures (email_key) SELECT {EMAIL_KEY} \
             WHERE (SELECT count(*) FROM login_failures \
                    WHERE email_key = {EMAIL_KEY} AND failed_at > $2) < $3 \
             RETURNING id"
        ))
        .bind::<Text, _>(&email)
        .bind::<Timestamptz, _>(since)
        .bind::<BigInt, _>(max)
        .get_result(conn)
        .await
        .optional()?;
        Ok(reserved.map(|r| r.id))
    })
    .await
}

/// After a correct password: the address's failures (the reference clears its history).
pub async fn clear_login_failures(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<usize> {
    diesel::sql_query(format!(
        "DELETE FROM login_failures WHERE email_key = {EMAIL_KEY}"
    ))
    .bind::<diesel::sql_types::Text, _>(email)
    .execute(conn)
    .await
}

/// An operator's unlock (and unblock): the failures counted under the user's address.
pub async fn clear_failures(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::sql_query(
        "DELETE FROM login_failures \
         WHERE email_key = (SELECT sha256(convert_to(lower(email::text), 'UTF8')) FROM users WHERE id = $1)",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .execute(conn)
    .await
}

/// Failures older than `before` count for nothing any more (the cleanup job removes them).
pub async fn delete_old_login_failures(
    conn: &mut AsyncPgConnection,
    before: DateTime<Utc>,
) -> QueryResult<usize> {
    diesel::delete(login_failures::table.filter(login_failures::failed_at.lt(before)))
        .execute(conn)
        .await
}
