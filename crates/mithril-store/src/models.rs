//! Row models. `Connection` deliberately has no secret field: a secret can only leave the
//! database as a hash, and only the request that generated it ever sees the value.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use crate::schema::*;

/// A named scope set: the shape of both `client_types` and `roles`.
#[derive(Clone, Debug, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = client_types, check_for_backend(diesel::pg::Pg))]
pub struct ClientType {
    pub id: Uuid,
    pub name: String,
    pub scope: String,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = roles, check_for_backend(diesel::pg::Pg))]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub scope: String,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = clients, check_for_backend(diesel::pg::Pg))]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    #[schema(value_type = Object)]
    pub priv_settings: serde_json::Value,
    pub user_id: Uuid,
    pub client_type_id: Uuid,
    pub is_blocked: bool,
    pub block_reason: Option<String>,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Queryable, Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = connections, check_for_backend(diesel::pg::Pg))]
pub struct Connection {
    pub id: Uuid,
    pub client_id: Uuid,
    pub consumer_id: Uuid,
    pub redirect_uri: String,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A public connection has no secret: its codes are redeemed with PKCE (standard OAuth).
    pub is_public: bool,
}

/// A user without the password hash, which never leaves the store.
#[derive(Clone, Debug, Queryable, Selectable, Serialize)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub settings: serde_json::Value,
    pub is_blocked: bool,
    pub block_reason: Option<String>,
    pub password_set_at: DateTime<Utc>,
    pub tax_id: String,
    pub person_id: String,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Paged query results: one page of rows plus the total across pages.
#[derive(Debug)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: i64,
}
