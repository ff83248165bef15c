//! Tokens: access and refresh tokens and authorization codes, stored by SHA-256 of their value.
//! Expiry is unix seconds (bigint). Revocation sets `expires_at` to now; cleanup deletes rows
//! long expired.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Bytea, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ehealth_core::SecretHash;
use serde::Serialize;
use uuid::Uuid;

use crate::models::Page;
use crate::schema::tokens;

pub const ACCESS_TOKEN: &str = "access_token";
pub const REFRESH_TOKEN: &str = "refresh_token";
pub const AUTHORIZATION_CODE: &str = "authorization_code";
pub const CHANGE_PASSWORD_TOKEN: &str = "change_password_token";
/// Issued after a password when the user has an active factor: good only for the OTP step.
pub const TWO_FACTOR_TOKEN: &str = "2fa_access_token";
/// A refresh token of the standard endpoint (`/oauth/token`): rotated on every use, a reuse
/// ends its family. Named apart so that the eHealth endpoint never finds it.
pub const OAUTH_REFRESH_TOKEN: &str = "oauth_refresh_token";

#[derive(Clone, Debug, Queryable, Selectable, QueryableByName, Serialize, utoipa::ToSchema)]
#[diesel(table_name = tokens, check_for_backend(diesel::pg::Pg))]
pub struct Token {
    pub id: Uuid,
    pub name: String,
    /// Unix seconds.
    pub expires_at: i64,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub user_id: Uuid,
    pub used_at: Option<DateTime<Utc>>,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A token to store; its value is known only to the caller.
#[derive(Debug)]
pub struct NewToken {
    pub id: Uuid,
    pub name: &'static str,
    pub hash: SecretHash,
    pub expires_at: i64,
    pub details: serde_json::Value,
    pub user_id: Uuid,
}

pub fn now_unix() -> i64 {
    Utc::now().timestamp()
}

crate::sql::statement!(
    InsertTokenSql = "INSERT INTO tokens (id, name, value_hash, expires_at, details, user_id)
         VALUES ($1, $2, $3, $4, $5, $6)
      RETURNING id, name, expires_at, details, user_id, used_at, inserted_at, updated_at"
);

/// Stores a token (login, authorize, refresh). Hand-written so that it stays prepared: diesel
/// does not cache an INSERT, so every call would be parsed and planned again.
pub async fn insert(conn: &mut AsyncPgConnection, t: &NewToken) -> QueryResult<Token> {
    crate::sql::Prepared::<InsertTokenSql>::new()
        .bind::<SqlUuid, _>(t.id)
        .bind::<Text, _>(t.name)
        .bind::<Bytea, _>(t.hash.as_bytes())
        .bind::<BigInt, _>(t.expires_at)
        .bind::<Jsonb, _>(&t.details)
        .bind::<SqlUuid, _>(t.user_id)
        .get_result(conn)
        .await
}

/// Everything a code or refresh grant checks, in one round trip: the connection authenticated by
/// (client_id, client_secret), the presented token, and the user's approval of that client.
#[derive(Debug, QueryableByName)]
pub struct GrantCheck {
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub connection_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub connection_redirect_uri: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub token_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub token_user_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub token_expires_at: Option<i64>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub token_details: Option<serde_json::Value>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub token_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub app_scope: Option<String>,
}

crate::sql::statement!(
    GrantCheckSql = "SELECT c.id AS connection_id, c.redirect_uri AS connection_redirect_uri,
                t.id AS token_id, t.user_id AS token_user_id, t.expires_at AS token_expires_at,
                t.details AS token_details, t.used_at AS token_used_at, a.scope AS app_scope
           FROM (SELECT 1) AS one
           LEFT JOIN connections c ON c.client_id = $1 AND c.secret_hash = $2
           LEFT JOIN tokens t ON t.value_hash = $3 AND t.name = $4
           LEFT JOIN apps a ON a.user_id = t.user_id AND a.client_id = $1"
);

pub async fn grant_check(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    client_secret: &SecretHash,
    token: &SecretHash,
    token_name: &str,
) -> QueryResult<GrantCheck> {
    crate::sql::Prepared::<GrantCheckSql>::new()
        .bind::<SqlUuid, _>(client_id)
        .bind::<Bytea, _>(client_secret.as_bytes())
        .bind::<Bytea, _>(token.as_bytes())
        .bind::<Text, _>(token_name)
        .get_result(conn)
        .await
}

/// The redirect rule of `ehealth_core::redirect::redirect_matches` in SQL, for `$4` (the requested
/// URI) against a registered one: equal once trailing slashes are dropped, or followed by `/` or
/// `?`; no CR/LF. A test checks both agree on a table of cases.
macro_rules! redirect_ok_sql {
    ($registered:literal) => {
        concat!(
            "(strpos($4, chr(10)) = 0 AND strpos($4, chr(13)) = 0 AND left($4, length(rtrim(",
            $registered,
            ", '/'))) = rtrim(",
            $registered,
            ", '/')",
            " AND (length($4) = length(rtrim(",
            $registered,
            ", '/')) OR substr($4, length(rtrim(",
            $registered,
            ", '/')) + 1, 1) IN ('/', '?')))"
        )
    };
}

crate::sql::statement!(
    ExchangeCodeSql = concat!(
        "WITH chk AS (
             SELECT c.id AS connection_id, c.redirect_uri AS connection_redirect_uri,
                    t.id AS token_id, t.user_id AS token_user_id, t.expires_at AS token_expires_at,
                    t.details AS token_details, t.used_at AS token_used_at, a.scope AS app_scope
               FROM (SELECT 1) AS one
               LEFT JOIN connections c ON c.client_id = $1 AND c.secret_hash = $2
               LEFT JOIN tokens t ON t.value_hash = $3 AND t.name = 'authorization_code'
               LEFT JOIN apps a ON a.user_id = t.user_id AND a.client_id = $1),
         ok AS (
             SELECT * FROM chk
              WHERE connection_id IS NOT NULL AND token_id IS NOT NULL
                AND token_details ->> 'client_id' = $1::text AND token_expires_at > $5
                AND ",
        redirect_ok_sql!("token_details ->> 'redirect_uri'"),
        "
                AND ",
        redirect_ok_sql!("connection_redirect_uri"),
        "
                AND token_details ->> 'code_challenge' IS NULL
                AND app_scope IS NOT NULL AND token_used_at IS NULL),
         used AS (
             UPDATE tokens SET used_at = now(), updated_at = now()
              WHERE id = (SELECT token_id FROM ok) AND used_at IS NULL
          RETURNING id, user_id),
         ins AS (
             INSERT INTO tokens (id, name, value_hash, expires_at, details, user_id)
             SELECT $6, 'refresh_token', $7, $8, $9, used.user_id FROM used
             UNION ALL
             SELECT $10, 'access_token', $11, $12,
                    jsonb_build_object('grant_type', 'authorization_code', 'client_id', $1::text,
                                       'scope', coalesce(ok.token_details ->> 'scope_request', ''),
                                       'redirect_uri', ok.token_details ->> 'redirect_uri'),
                    used.user_id
               FROM used, ok
          RETURNING id)
         SELECT chk.*, (SELECT count(*) FROM ins) AS inserted FROM chk"
    )
);

/// The whole code exchange as one statement (one round trip, one commit): the checks of
/// [`grant_check`], then, only when all pass, the conditional UPDATE that marks the code used and
/// the INSERT of the refresh token and of the access token (whose details come from the code).
/// `inserted == 2` means this call redeemed the code; otherwise the caller reads `check` to name
/// the first failed step (or a concurrent redemption).
#[derive(Debug, QueryableByName)]
pub struct Exchange {
    #[diesel(embed)]
    pub check: GrantCheck,
    #[diesel(sql_type = BigInt)]
    pub inserted: i64,
}

/// Ids, hashes and expiries of the two tokens an exchange creates.
#[derive(Debug)]
pub struct ExchangeTokens<'a> {
    pub refresh: &'a NewToken,
    pub access_id: Uuid,
    pub access_hash: &'a SecretHash,
    pub access_expires_at: i64,
}

#[allow(clippy::too_many_arguments)]
pub async fn exchange_code(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
    client_secret: &SecretHash,
    code: &SecretHash,
    redirect_uri: &str,
    now: i64,
    t: &ExchangeTokens<'_>,
) -> QueryResult<Exchange> {
    crate::sql::Prepared::<ExchangeCodeSql>::new()
        .bind::<SqlUuid, _>(client_id)
        .bind::<Bytea, _>(client_secret.as_bytes())
        .bind::<Bytea, _>(code.as_bytes())
        .bind::<Text, _>(redirect_uri)
        .bind::<BigInt, _>(now)
        .bind::<SqlUuid, _>(t.refresh.id)
        .bind::<Bytea, _>(t.refresh.hash.as_bytes())
        .bind::<BigInt, _>(t.refresh.expires_at)
        .bind::<Jsonb, _>(&t.refresh.details)
        .bind::<SqlUuid, _>(t.access_id)
        .bind::<Bytea, _>(t.access_hash.as_bytes())
        .bind::<BigInt, _>(t.access_expires_at)
        .get_result(conn)
        .await
}

crate::sql::statement!(RedirectOkSql = concat!("SELECT ", redirect_ok_sql!("$1"), " AS ok"));

#[derive(QueryableByName)]
struct RedirectOk {
    #[diesel(sql_type = Bool)]
    ok: bool,
}

/// The SQL redirect rule, for the test that keeps it equal to the Rust one.
#[doc(hidden)]
pub async fn redirect_ok_in_sql(
    conn: &mut AsyncPgConnection,
    registered: &str,
    requested: &str,
) -> QueryResult<bool> {
    // $1 is the registered URI and $4 the requested one, as in the exchange statement.
    let row: RedirectOk = crate::sql::Prepared::<RedirectOkSql>::new()
        .bind::<Text, _>(registered)
        .bind::<Text, _>("")
        .bind::<Text, _>("")
        .bind::<Text, _>(requested)
        .get_result(conn)
        .await?;
    Ok(row.ok)
}

/// What verify needs about a token, its client and its user, in one round trip.
#[derive(Debug, QueryableByName)]
pub struct VerifyRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = BigInt)]
    pub expires_at: i64,
    #[diesel(sql_type = Jsonb)]
    pub details: serde_json::Value,
    #[diesel(sql_type = SqlUuid)]
    pub user_id: Uuid,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub client_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Bool>)]
    pub client_blocked: Option<bool>,
    #[diesel(sql_type = Nullable<Text>)]
    pub access_type: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    pub user_blocked: Option<bool>,
}

crate::sql::statement!(VerifyRowSql = "SELECT t.id, t.name, t.expires_at, t.details, t.user_id,
                cl.id AS client_id, cl.is_blocked AS client_blocked,
                cl.priv_settings ->> 'access_type' AS access_type, u.is_blocked AS user_blocked
           FROM tokens t
           LEFT JOIN clients cl ON cl.id = CASE WHEN t.details ->> 'client_id' ~ '^[0-9a-fA-F-]{36}$'
                                               THEN (t.details ->> 'client_id')::uuid END
           LEFT JOIN users u ON u.id = t.user_id
          WHERE t.value_hash = $1");

pub async fn verify_row(
    mut conn: &AsyncPgConnection,
    hash: &SecretHash,
) -> QueryResult<Option<VerifyRow>> {
    crate::sql::Prepared::<VerifyRowSql>::new()
        .bind::<Bytea, _>(hash.as_bytes())
        .get_result(&mut conn)
        .await
        .optional()
}

/// The broker behind an `api-key` (a MIS's connection secret) and whether it integrates the
/// token's client (has a connection whose client is `token_client` and consumer is the MIS).
#[derive(Debug, QueryableByName)]
pub struct BrokerRow {
    #[diesel(sql_type = SqlUuid)]
    pub mis_client_id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    pub broker_scope: Option<String>,
    #[diesel(sql_type = Bool)]
    pub bound: bool,
}

crate::sql::statement!(BrokerRowSql = "SELECT k.client_id AS mis_client_id, mis.priv_settings ->> 'broker_scope' AS broker_scope,
                EXISTS (SELECT 1 FROM connections b WHERE b.client_id = $2 AND b.consumer_id = k.client_id) AS bound
           FROM connections k JOIN clients mis ON mis.id = k.client_id
          WHERE k.secret_hash = $1");

pub async fn broker_row(
    mut conn: &AsyncPgConnection,
    api_key: &SecretHash,
    token_client: Uuid,
) -> QueryResult<Option<BrokerRow>> {
    crate::sql::Prepared::<BrokerRowSql>::new()
        .bind::<Bytea, _>(api_key.as_bytes())
        .bind::<SqlUuid, _>(token_client)
        .get_result(&mut conn)
        .await
        .optional()
}

/// The client behind an `api-key` (one of its connection secrets) for the gatekeeper's api-key
/// routes (the reference's `mis_only`): the client, whether it is blocked, its type's scope.
#[derive(Debug, QueryableByName)]
pub struct ApiKeyRow {
    #[diesel(sql_type = SqlUuid)]
    pub client_id: Uuid,
    #[diesel(sql_type = Bool)]
    pub client_blocked: bool,
    #[diesel(sql_type = Text)]
    pub scope: String,
}

crate::sql::statement!(
    ApiKeyRowSql = "SELECT c.id AS client_id, c.is_blocked AS client_blocked, ct.scope
           FROM connections k JOIN clients c ON c.id = k.client_id
           JOIN client_types ct ON ct.id = c.client_type_id
          WHERE k.secret_hash = $1"
);

pub async fn api_key_row(
    mut conn: &AsyncPgConnection,
    api_key: &SecretHash,
) -> QueryResult<Option<ApiKeyRow>> {
    crate::sql::Prepared::<ApiKeyRowSql>::new()
        .bind::<Bytea, _>(api_key.as_bytes())
        .get_result(&mut conn)
        .await
        .optional()
}

/// Expires the live tokens of a user (of one client, or all). Returns how many.
pub async fn expire_for_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    client_id: Option<Uuid>,
) -> QueryResult<usize> {
    let now = now_unix();
    let mut q = diesel::update(tokens::table)
        .filter(tokens::user_id.eq(user_id).and(tokens::expires_at.gt(now)))
        .into_boxed();
    if let Some(c) = client_id {
        q = q.filter(issued_for(c));
    }
    q.set((
        tokens::expires_at.eq(now),
        tokens::updated_at.eq(Utc::now()),
    ))
    .execute(conn)
    .await
}

/// Expires every live token issued for `client_id`.
pub async fn expire_for_client(
    conn: &mut AsyncPgConnection,
    client_id: Uuid,
) -> QueryResult<usize> {
    let now = now_unix();
    diesel::update(tokens::table)
        .filter(tokens::expires_at.gt(now))
        .filter(issued_for(client_id))
        .set((
            tokens::expires_at.eq(now),
            tokens::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
}

crate::sql::statement!(
    ExpireOthersSql = "UPDATE tokens SET expires_at = $1, updated_at = $2
      WHERE user_id = $3 AND expires_at > $1 AND id <> $4 AND name = ANY($5)
        AND details ->> 'client_id' = $6"
);

/// Expires the user's other live tokens of `names` for the same client (the reference's
/// `deactivate_old_tokens`, run after a password login).
pub async fn expire_others(
    conn: &mut AsyncPgConnection,
    keep: Uuid,
    user_id: Uuid,
    client_id: Uuid,
    names: &[&str],
) -> QueryResult<usize> {
    // Hand-written so that it stays prepared (diesel never caches an UPDATE); on every login.
    crate::sql::Prepared::<ExpireOthersSql>::new()
        .bind::<BigInt, _>(now_unix())
        .bind::<Timestamptz, _>(Utc::now())
        .bind::<SqlUuid, _>(user_id)
        .bind::<SqlUuid, _>(keep)
        .bind::<diesel::sql_types::Array<Text>, _>(names)
        .bind::<Text, _>(client_id.to_string())
        .execute(conn)
        .await
}

/// Tokens issued for `client_id` (`details.client_id`; an expression index serves it).
fn issued_for(client_id: Uuid) -> Box<dyn BoxableExpression<tokens::table, Pg, SqlType = Bool>> {
    Box::new(
        diesel::dsl::sql::<Bool>("details ->> 'client_id' = ")
            .bind::<Text, _>(client_id.to_string()),
    )
}

#[derive(Debug, Default)]
pub struct TokenFilter {
    pub user_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
    pub name: Option<String>,
}

fn filtered(f: &TokenFilter) -> tokens::BoxedQuery<'_, Pg> {
    let mut q = tokens::table.into_boxed();
    if let Some(u) = f.user_id {
        q = q.filter(tokens::user_id.eq(u));
    }
    if let Some(c) = f.client_id {
        q = q.filter(issued_for(c));
    }
    if let Some(n) = &f.name {
        q = q.filter(tokens::name.eq(n));
    }
    q
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    f: &TokenFilter,
    limit: i64,
    offset: i64,
) -> QueryResult<Page<Token>> {
    let total = filtered(f).count().get_result(conn).await?;
    let rows = filtered(f)
        .select(Token::as_select())
        .order((tokens::inserted_at, tokens::id))
        .limit(limit)
        .offset(offset)
        .load(conn)
        .await?;
    Ok(Page { rows, total })
}

/// The token with this value, whatever its name (the 2FA endpoints say which name they want).
pub async fn find_by_hash(
    conn: &mut AsyncPgConnection,
    hash: &SecretHash,
) -> QueryResult<Option<Token>> {
    tokens::table
        .filter(tokens::value_hash.eq(hash.to_vec()))
        .select(Token::as_select())
        .first(conn)
        .await
        .optional()
}

/// The token with this value and one of `names`, locked until the transaction ends: a code or
/// refresh token being redeemed. A concurrent redemption waits, then finds it used.
pub async fn lock_by_hash(
    conn: &mut AsyncPgConnection,
    hash: &SecretHash,
    names: &[&str],
) -> QueryResult<Option<Token>> {
    tokens::table
        .filter(tokens::value_hash.eq(hash.to_vec()))
        .filter(tokens::name.eq_any(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()))
        .select(Token::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Marks a code or a rotated refresh token used (it stays, so that a reuse is recognised).
pub async fn mark_used(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::update(tokens::table.find(id).filter(tokens::used_at.is_null()))
        .set((
            tokens::used_at.eq(Utc::now()),
            tokens::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
}

/// Expires every live token of one grant (`details.family`): a reused code or refresh token,
/// or a revoked refresh token. The update announces each to the gatekeepers.
pub async fn expire_family(conn: &mut AsyncPgConnection, family: Uuid) -> QueryResult<usize> {
    let now = now_unix();
    diesel::update(tokens::table)
        .filter(tokens::expires_at.gt(now))
        .filter(
            diesel::dsl::sql::<Bool>("details ->> 'family' = ").bind::<Text, _>(family.to_string()),
        )
        .set((
            tokens::expires_at.eq(now),
            tokens::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
}

/// Expires one live token (a revoked access token).
pub async fn expire(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    let now = now_unix();
    diesel::update(tokens::table.find(id).filter(tokens::expires_at.gt(now)))
        .set((
            tokens::expires_at.eq(now),
            tokens::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await
}

pub async fn get(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Token> {
    tokens::table
        .find(id)
        .select(Token::as_select())
        .first(conn)
        .await
}

pub async fn delete(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<usize> {
    diesel::delete(tokens::table.find(id)).execute(conn).await
}

/// Hard-deletes a user's tokens (optionally of one client and/or name).
pub async fn delete_by_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    client_id: Option<Uuid>,
    name: Option<&str>,
) -> QueryResult<usize> {
    let mut q = diesel::delete(tokens::table)
        .filter(tokens::user_id.eq(user_id))
        .into_boxed();
    if let Some(c) = client_id {
        q = q.filter(issued_for(c));
    }
    if let Some(n) = name {
        q = q.filter(tokens::name.eq(n.to_owned()));
    }
    q.execute(conn).await
}

pub async fn delete_by_users(
    conn: &mut AsyncPgConnection,
    user_ids: &[Uuid],
) -> QueryResult<usize> {
    diesel::delete(tokens::table.filter(tokens::user_id.eq_any(user_ids.to_vec())))
        .execute(conn)
        .await
}

crate::sql::statement!(
    DeleteExpiredSql =
        "DELETE FROM tokens WHERE id IN (SELECT id FROM tokens WHERE expires_at <= $1 LIMIT $2)"
);

/// Deletes up to `limit` tokens that expired at or before `before` (unix seconds).
pub async fn delete_expired(
    conn: &mut AsyncPgConnection,
    before: i64,
    limit: i64,
) -> QueryResult<usize> {
    crate::sql::Prepared::<DeleteExpiredSql>::new()
        .bind::<BigInt, _>(before)
        .bind::<BigInt, _>(limit)
        .execute(conn)
        .await
}
