//! Rows and queries of the `prm` database. Query functions return `diesel::QueryResult`; the
//! domain modules decide what a missing row or a violated constraint means for the caller.
//! Every change is written with its audit row in the same transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use uuid::Uuid;

use crate::schema::{
    audit_log, employee_roles, employees, healthcare_services, legal_entities, parties, party_users,
};

pub const ACTIVE: &str = "ACTIVE";
pub const INACTIVE: &str = "INACTIVE";

/// The columns of [`EmployeeRole`], for hand-written statements.
macro_rules! role_columns {
    () => {
        "id, healthcare_service_id, employee_id, legal_entity_id, start_date, end_date, status, \
         is_active, inserted_at, inserted_by, updated_at, updated_by"
    };
}

/// The role as the API shows it (spec §1.5); `legal_entity_id` is internal.
#[derive(Queryable, QueryableByName, Selectable, Serialize, Debug, Clone, utoipa::ToSchema)]
#[diesel(table_name = employee_roles)]
pub struct EmployeeRole {
    pub id: Uuid,
    pub healthcare_service_id: Uuid,
    pub employee_id: Uuid,
    #[serde(skip)]
    pub legal_entity_id: Uuid,
    pub start_date: DateTime<Utc>,
    pub end_date: Option<DateTime<Utc>>,
    pub status: String,
    pub is_active: bool,
    pub inserted_at: DateTime<Utc>,
    pub inserted_by: Uuid,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Uuid,
}

/// A role to insert ([`insert_role`]).
pub struct NewEmployeeRole {
    pub id: Uuid,
    pub healthcare_service_id: Uuid,
    pub employee_id: Uuid,
    pub legal_entity_id: Uuid,
    pub start_date: DateTime<Utc>,
    pub status: &'static str,
    pub is_active: bool,
    pub inserted_at: DateTime<Utc>,
    pub inserted_by: Uuid,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Uuid,
}

#[derive(Queryable, Selectable, Serialize, Debug, Clone, utoipa::ToSchema)]
#[diesel(table_name = legal_entities)]
pub struct LegalEntity {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub is_active: bool,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Serialize, Debug, Clone, utoipa::ToSchema)]
#[diesel(table_name = employees)]
pub struct Employee {
    pub id: Uuid,
    pub legal_entity_id: Uuid,
    pub party_id: Uuid,
    pub employee_type: String,
    pub status: String,
    pub is_active: bool,
    #[schema(value_type = Option<Object>)]
    pub speciality: Option<serde_json::Value>,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Serialize, Debug, Clone, utoipa::ToSchema)]
#[diesel(table_name = healthcare_services)]
pub struct HealthcareService {
    pub id: Uuid,
    pub legal_entity_id: Uuid,
    pub division_id: Uuid,
    pub speciality_type: Option<String>,
    pub category: String,
    pub status: String,
    pub is_active: bool,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = legal_entities)]
pub struct LegalEntityFields<'a> {
    pub kind: &'a str,
    pub status: &'a str,
    pub is_active: bool,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = employees, treat_none_as_null = true)]
pub struct EmployeeFields<'a> {
    pub legal_entity_id: Uuid,
    pub party_id: Uuid,
    pub employee_type: &'a str,
    pub status: &'a str,
    pub is_active: bool,
    pub speciality: Option<&'a serde_json::Value>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = healthcare_services, treat_none_as_null = true)]
pub struct HealthcareServiceFields<'a> {
    pub legal_entity_id: Uuid,
    pub division_id: Uuid,
    pub speciality_type: Option<&'a str>,
    pub category: &'a str,
    pub status: &'a str,
    pub is_active: bool,
    pub updated_at: DateTime<Utc>,
}

pub async fn audit(
    conn: &mut AsyncPgConnection,
    actor: Uuid,
    table: &str,
    record: Uuid,
    action: &str,
    changes: serde_json::Value,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_id.eq(actor),
            audit_log::table_name.eq(table),
            audit_log::record_id.eq(record),
            audit_log::action.eq(action),
            audit_log::changes.eq(changes),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}

// ----- reference data ---------------------------------------------------------------------

pub async fn legal_entity_status(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<String>> {
    legal_entities::table
        .find(id)
        .select(legal_entities::status)
        .first(conn)
        .await
        .optional()
}

pub async fn employee(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<Employee>> {
    employees::table
        .find(id)
        .select(Employee::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn healthcare_service(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> QueryResult<Option<HealthcareService>> {
    healthcare_services::table
        .find(id)
        .select(HealthcareService::as_select())
        .first(conn)
        .await
        .optional()
}

/// `pub async fn $name(conn, actor, id, fields, changes) -> (row, created)`: inserts or replaces
/// one reference row by id and audits it, in one transaction; `created` is true when it was new.
macro_rules! upsert_by_id {
    ($name:ident, $table:ident, $fields:ident, $row:ident) => {
        pub async fn $name(
            conn: &mut AsyncPgConnection,
            actor: Uuid,
            id: Uuid,
            fields: &$fields<'_>,
            changes: serde_json::Value,
        ) -> QueryResult<($row, bool)> {
            conn.transaction(async |conn| {
                let existed = $table::table
                    .find(id)
                    .select($table::id)
                    .for_update()
                    .first::<Uuid>(conn)
                    .await
                    .optional()?
                    .is_some();
                let row = diesel::insert_into($table::table)
                    .values(($table::id.eq(id), fields))
                    .on_conflict($table::id)
                    .do_update()
                    .set(fields)
                    .returning($row::as_returning())
                    .get_result(conn)
                    .await?;
                let action = if existed { "UPDATE" } else { "INSERT" };
                audit(conn, actor, stringify!($table), id, action, changes).await?;
                Ok((row, !existed))
            })
            .await
        }
    };
}

upsert_by_id!(
    upsert_legal_entity,
    legal_entities,
    LegalEntityFields,
    LegalEntity
);
upsert_by_id!(upsert_employee, employees, EmployeeFields, Employee);
upsert_by_id!(
    upsert_healthcare_service,
    healthcare_services,
    HealthcareServiceFields,
    HealthcareService
);

// ----- parties ----------------------------------------------------------------------------

#[derive(Queryable, Selectable, Serialize, Debug, Clone, utoipa::ToSchema)]
#[diesel(table_name = parties)]
pub struct Party {
    pub id: Uuid,
    pub verification_status: String,
    pub updated_at: DateTime<Utc>,
    pub synced_at: DateTime<Utc>,
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = parties)]
pub struct PartyFields<'a> {
    pub verification_status: &'a str,
    pub updated_at: DateTime<Utc>,
    pub synced_at: DateTime<Utc>,
}

upsert_by_id!(upsert_party_row, parties, PartyFields, Party);

/// The party and, exactly, the users that act for it (a user moves from its previous party).
pub async fn upsert_party(
    conn: &mut AsyncPgConnection,
    actor: Uuid,
    id: Uuid,
    fields: &PartyFields<'_>,
    users: &[Uuid],
    changes: serde_json::Value,
) -> QueryResult<(Party, Vec<Uuid>, bool)> {
    conn.transaction(async |conn| {
        let (party, created) = upsert_party_row(conn, actor, id, fields, changes).await?;
        diesel::delete(
            party_users::table
                .filter(party_users::party_id.eq(id))
                .filter(party_users::user_id.ne_all(users)),
        )
        .execute(conn)
        .await?;
        let rows: Vec<_> = users
            .iter()
            .map(|u| (party_users::user_id.eq(*u), party_users::party_id.eq(id)))
            .collect();
        if !rows.is_empty() {
            diesel::insert_into(party_users::table)
                .values(&rows)
                .on_conflict(party_users::user_id)
                .do_update()
                .set(party_users::party_id.eq(id))
                .execute(conn)
                .await?;
        }
        let mut users = party_users::table
            .filter(party_users::party_id.eq(id))
            .select(party_users::user_id)
            .load::<Uuid>(conn)
            .await?;
        users.sort();
        Ok((party, users, created))
    })
    .await
}

/// The verification status and the registry's `updated_at` of the party the user acts for.
pub async fn party_of_user(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> QueryResult<Option<(String, DateTime<Utc>)>> {
    party_users::table
        .inner_join(parties::table)
        .filter(party_users::user_id.eq(user_id))
        .select((parties::verification_status, parties::updated_at))
        .get_result(conn)
        .await
        .optional()
}

// ----- roles ------------------------------------------------------------------------------

ehealth_core::sql::statement!(
    RoleSql = concat!(
        "SELECT ",
        role_columns!(),
        " FROM employee_roles WHERE id = $1"
    )
);

/// The role by id (hand-written: the hottest read, prepared without rendering diesel's SQL).
pub async fn role(mut conn: &AsyncPgConnection, id: Uuid) -> QueryResult<Option<EmployeeRole>> {
    ehealth_core::sql::Prepared::<RoleSql>::new()
        .bind::<diesel::sql_types::Uuid, _>(id)
        .get_result(&mut conn)
        .await
        .optional()
}

pub async fn active_role_exists(
    conn: &mut AsyncPgConnection,
    employee_id: Uuid,
    healthcare_service_id: Uuid,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        employee_roles::table
            .filter(employee_roles::employee_id.eq(employee_id))
            .filter(employee_roles::healthcare_service_id.eq(healthcare_service_id))
            .filter(employee_roles::status.eq(ACTIVE)),
    ))
    .get_result(conn)
    .await
}

ehealth_core::sql::statement!(
    InsertRoleSql = concat!(
        "INSERT INTO employee_roles (id, healthcare_service_id, employee_id, legal_entity_id,
             start_date, status, is_active, inserted_at, inserted_by, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
      RETURNING ",
        role_columns!()
    )
);

/// Inserts the role; the table's trigger writes the audit row in the same statement. A
/// concurrent duplicate fails on the partial unique index (the caller turns that into 409).
/// Hand-written so that it stays prepared (diesel does not cache this INSERT).
pub async fn insert_role(
    conn: &mut AsyncPgConnection,
    new: &NewEmployeeRole,
) -> QueryResult<EmployeeRole> {
    use diesel::sql_types::{Bool, Text, Timestamptz, Uuid as SqlUuid};
    ehealth_core::sql::Prepared::<InsertRoleSql>::new()
        .bind::<SqlUuid, _>(new.id)
        .bind::<SqlUuid, _>(new.healthcare_service_id)
        .bind::<SqlUuid, _>(new.employee_id)
        .bind::<SqlUuid, _>(new.legal_entity_id)
        .bind::<Timestamptz, _>(new.start_date)
        .bind::<Text, _>(new.status)
        .bind::<Bool, _>(new.is_active)
        .bind::<Timestamptz, _>(new.inserted_at)
        .bind::<SqlUuid, _>(new.inserted_by)
        .bind::<Timestamptz, _>(new.updated_at)
        .bind::<SqlUuid, _>(new.updated_by)
        .get_result(conn)
        .await
}

/// What a deactivation found (the transition is decided under the row lock).
pub enum Deactivation {
    Done(EmployeeRole),
    /// No role with this id, or not `is_active`.
    Missing,
    /// The role belongs to another legal entity.
    Foreign,
    /// The role is not ACTIVE (its status).
    NotActive(String),
}

ehealth_core::sql::statement!(
    DeactivateRoleSql = concat!(
        "UPDATE employee_roles
            SET end_date = $1, status = 'INACTIVE', updated_at = $1, updated_by = $2
          WHERE id = $3 AND legal_entity_id = $4 AND is_active AND status = 'ACTIVE'
      RETURNING ",
        role_columns!()
    )
);

/// Deactivates the role when it is the legal entity's, `is_active` and ACTIVE: one conditional
/// UPDATE (the trigger audits it). Only when nothing was updated does a second read say why; of
/// two concurrent deactivations the second waits for the first's row lock, then finds INACTIVE.
/// Hand-written so that it stays prepared: diesel never caches an UPDATE, and re-preparing it
/// on every call cost the database more than the update itself.
pub async fn deactivate_role(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    legal_entity_id: Uuid,
    actor: Uuid,
) -> QueryResult<Deactivation> {
    use diesel::sql_types::{Timestamptz, Uuid as SqlUuid};
    let updated = ehealth_core::sql::Prepared::<DeactivateRoleSql>::new()
        .bind::<Timestamptz, _>(Utc::now())
        .bind::<SqlUuid, _>(actor)
        .bind::<SqlUuid, _>(id)
        .bind::<SqlUuid, _>(legal_entity_id)
        .get_result::<EmployeeRole>(conn)
        .await
        .optional()?;
    if let Some(role) = updated {
        return Ok(Deactivation::Done(role));
    }
    Ok(match role(conn, id).await?.filter(|r| r.is_active) {
        None => Deactivation::Missing,
        Some(r) if r.legal_entity_id != legal_entity_id => Deactivation::Foreign,
        Some(r) => Deactivation::NotActive(r.status),
    })
}

pub struct RoleFilter {
    pub legal_entity_id: Uuid,
    pub employee_id: Option<Uuid>,
    pub healthcare_service_id: Option<Uuid>,
    pub status: Option<String>,
}

/// One page of the caller's roles (active records only) and the total.
pub async fn list_roles(
    conn: &mut AsyncPgConnection,
    f: &RoleFilter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<EmployeeRole>, i64)> {
    let query = || {
        let mut q = employee_roles::table
            .filter(employee_roles::legal_entity_id.eq(f.legal_entity_id))
            .filter(employee_roles::is_active.eq(true))
            .into_boxed();
        if let Some(e) = f.employee_id {
            q = q.filter(employee_roles::employee_id.eq(e));
        }
        if let Some(h) = f.healthcare_service_id {
            q = q.filter(employee_roles::healthcare_service_id.eq(h));
        }
        if let Some(s) = &f.status {
            q = q.filter(employee_roles::status.eq(s.clone()));
        }
        q
    };
    let total = query().count().get_result::<i64>(conn).await?;
    let rows = query()
        .order((employee_roles::inserted_at.desc(), employee_roles::id))
        .offset(offset)
        .limit(limit)
        .select(EmployeeRole::as_select())
        .load(conn)
        .await?;
    Ok((rows, total))
}

/// The roles of one employee (internal), optionally of one status.
pub async fn roles_of_employee(
    conn: &mut AsyncPgConnection,
    employee_id: Uuid,
    status: Option<&str>,
) -> QueryResult<Vec<EmployeeRole>> {
    let mut q = employee_roles::table
        .filter(employee_roles::employee_id.eq(employee_id))
        .filter(employee_roles::is_active.eq(true))
        .into_boxed();
    if let Some(s) = status {
        q = q.filter(employee_roles::status.eq(s.to_owned()));
    }
    q.order((employee_roles::inserted_at.desc(), employee_roles::id))
        .select(EmployeeRole::as_select())
        .load(conn)
        .await
}

/// Which roles a bulk deactivation takes.
pub enum Scope {
    Employee(Uuid),
    LegalEntity(Uuid),
}

/// Sets every ACTIVE role in scope INACTIVE in one statement (the trigger audits each row).
/// Returns the ids deactivated.
pub async fn deactivate_all(
    conn: &mut AsyncPgConnection,
    scope: Scope,
    actor: Uuid,
) -> QueryResult<Vec<Uuid>> {
    let now = Utc::now();
    let set = (
        employee_roles::end_date.eq(now),
        employee_roles::status.eq(INACTIVE),
        employee_roles::updated_at.eq(now),
        employee_roles::updated_by.eq(actor),
    );
    let active = employee_roles::status
        .eq(ACTIVE)
        .and(employee_roles::is_active.eq(true));
    // One conditional UPDATE: roles deactivated concurrently are simply not returned.
    let ids: Vec<Uuid> = match scope {
        Scope::Employee(id) => {
            diesel::update(
                employee_roles::table.filter(active.and(employee_roles::employee_id.eq(id))),
            )
            .set(set)
            .returning(employee_roles::id)
            .get_results(conn)
            .await?
        }
        Scope::LegalEntity(id) => {
            diesel::update(
                employee_roles::table.filter(active.and(employee_roles::legal_entity_id.eq(id))),
            )
            .set(set)
            .returning(employee_roles::id)
            .get_results(conn)
            .await?
        }
    };
    Ok(ids)
}
