//! Reference data from the provider registry: `PUT /admin/legal_entities/{id}`,
//! `/admin/employees/{id}`, `/admin/healthcare_services/{id}`, `/admin/parties/{id}`. Internal (never routed by the
//! gatekeeper); idempotent upserts, 201 when new and 200 when replaced, audited with the actor
//! in `x-consumer-id`.

use actix_http::StatusCode;
use actix_web::web;
use chrono::Utc;
use platform::error::{ConstraintKind, violated_constraint};
use platform::{Actor, ApiError, ApiResult, Reply, RequestSchema, ValidatedJson, db};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::startup::AppState;
use crate::store::{self, EmployeeFields, HealthcareServiceFields, LegalEntityFields, PartyFields};

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct LegalEntityBody {
    #[serde(rename = "type")]
    kind: String,
    status: String,
    is_active: bool,
}

impl RequestSchema for LegalEntityBody {
    const SCHEMA: &'static str = "legal_entity_upsert";
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct EmployeeBody {
    legal_entity_id: Uuid,
    party_id: Uuid,
    employee_type: String,
    status: String,
    is_active: bool,
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    speciality: Option<serde_json::Value>,
}

impl RequestSchema for EmployeeBody {
    const SCHEMA: &'static str = "employee_upsert";
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct HealthcareServiceBody {
    legal_entity_id: Uuid,
    division_id: Uuid,
    #[serde(default)]
    speciality_type: Option<String>,
    category: String,
    status: String,
    is_active: bool,
}

impl RequestSchema for HealthcareServiceBody {
    const SCHEMA: &'static str = "healthcare_service_upsert";
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
pub struct PartyBody {
    verification_status: String,
    /// The registry's last change of the party (the party gate measures from it).
    updated_at: chrono::DateTime<Utc>,
    /// The OAuth users that act for the party: exactly these, afterwards.
    users: Vec<Uuid>,
}

impl RequestSchema for PartyBody {
    const SCHEMA: &'static str = "party_upsert";
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PartyView {
    #[serde(flatten)]
    party: store::Party,
    users: Vec<Uuid>,
}

fn status_of(created: bool) -> StatusCode {
    if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// An unknown legal entity is a 422 at `$.legal_entity_id`, as a body field that fails.
fn unknown_legal_entity(e: diesel::result::Error) -> ApiError {
    match violated_constraint(&e) {
        Some((ConstraintKind::ForeignKey, _)) => {
            ApiError::invalid_field("$.legal_entity_id", "existence", "Legal entity not found")
        }
        _ => e.into(),
    }
}

fn changes<T: Serialize>(body: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(body)
        .map_err(|e| ApiError::internal(anyhow::Error::new(e).context("audit changes")))
}

#[utoipa::path(put, path = "/admin/legal_entities/{id}", tag = "registry",
    params(("id" = Uuid, Path, description = "legal entity id = its OAuth client_id")),
    request_body = LegalEntityBody,
    responses((status = 201, body = store::LegalEntity), (status = 200, body = store::LegalEntity),
              (status = 401, body = ehealth_core::ErrorBody), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn put_legal_entity(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: ValidatedJson<LegalEntityBody>,
) -> ApiResult<Reply> {
    let body = body.into_inner();
    let fields = LegalEntityFields {
        kind: &body.kind,
        status: &body.status,
        is_active: body.is_active,
        updated_at: Utc::now(),
    };
    let mut conn = db::conn(&state.pool).await?;
    let (row, created) =
        store::upsert_legal_entity(&mut conn, actor.0.0, *id, &fields, changes(&body)?).await?;
    Ok(Reply::object(status_of(created), row))
}

#[utoipa::path(put, path = "/admin/employees/{id}", tag = "registry",
    params(("id" = Uuid, Path)), request_body = EmployeeBody,
    responses((status = 201, body = store::Employee), (status = 200, body = store::Employee),
              (status = 401, body = ehealth_core::ErrorBody),
              (status = 422, description = "schema, or $.legal_entity_id unknown", body = ehealth_core::ErrorBody)))]
pub async fn put_employee(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: ValidatedJson<EmployeeBody>,
) -> ApiResult<Reply> {
    let body = body.into_inner();
    let fields = EmployeeFields {
        legal_entity_id: body.legal_entity_id,
        party_id: body.party_id,
        employee_type: &body.employee_type,
        status: &body.status,
        is_active: body.is_active,
        speciality: body.speciality.as_ref().filter(|v| !v.is_null()),
        updated_at: Utc::now(),
    };
    let mut conn = db::conn(&state.pool).await?;
    let (row, created) =
        store::upsert_employee(&mut conn, actor.0.0, *id, &fields, changes(&body)?)
            .await
            .map_err(unknown_legal_entity)?;
    Ok(Reply::object(status_of(created), row))
}

#[utoipa::path(put, path = "/admin/healthcare_services/{id}", tag = "registry",
    params(("id" = Uuid, Path)), request_body = HealthcareServiceBody,
    responses((status = 201, body = store::HealthcareService), (status = 200, body = store::HealthcareService),
              (status = 401, body = ehealth_core::ErrorBody),
              (status = 422, description = "schema, or $.legal_entity_id unknown", body = ehealth_core::ErrorBody)))]
pub async fn put_healthcare_service(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: ValidatedJson<HealthcareServiceBody>,
) -> ApiResult<Reply> {
    let body = body.into_inner();
    let fields = HealthcareServiceFields {
        legal_entity_id: body.legal_entity_id,
        division_id: body.division_id,
        speciality_type: body.speciality_type.as_deref(),
        category: &body.category,
        status: &body.status,
        is_active: body.is_active,
        updated_at: Utc::now(),
    };
    let mut conn = db::conn(&state.pool).await?;
    let (row, created) =
        store::upsert_healthcare_service(&mut conn, actor.0.0, *id, &fields, changes(&body)?)
            .await
            .map_err(unknown_legal_entity)?;
    Ok(Reply::object(status_of(created), row))
}

#[utoipa::path(put, path = "/admin/parties/{id}", tag = "registry",
    params(("id" = Uuid, Path)), request_body = PartyBody,
    responses((status = 201, body = PartyView), (status = 200, body = PartyView),
              (status = 401, body = ehealth_core::ErrorBody), (status = 422, body = ehealth_core::ErrorBody)))]
pub async fn put_party(
    state: web::Data<AppState>,
    actor: Actor,
    id: web::Path<Uuid>,
    body: ValidatedJson<PartyBody>,
) -> ApiResult<Reply> {
    let body = body.into_inner();
    let mut users = body.users.clone();
    users.sort();
    users.dedup();
    let fields = PartyFields {
        verification_status: &body.verification_status,
        updated_at: body.updated_at,
        synced_at: Utc::now(),
    };
    let mut conn = db::conn(&state.pool).await?;
    let (party, users, created) =
        store::upsert_party(&mut conn, actor.0.0, *id, &fields, &users, changes(&body)?).await?;
    Ok(Reply::object(
        status_of(created),
        PartyView { party, users },
    ))
}
