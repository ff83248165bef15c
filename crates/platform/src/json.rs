//! Request bodies validated against the JSON Schemas in `proto-contracts/schemas`.
//!
//! Order of checks, each failure a 4xx envelope and nothing written:
//! Content-Type is JSON (415) → body within the limit (413) → body is JSON (400) → the
//! resource key is present when the endpoint wraps its body (400, as the reference) → the
//! schema accepts it (422 with `invalid[]` at `$.field`) → it deserializes into the handler's type.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use anyhow::Context;
use ehealth_core::InvalidEntry;
use futures_util::StreamExt;
use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// A request body type and the schema that guards it.
pub trait RequestSchema: DeserializeOwned + 'static {
    /// Name of the schema in [`Schemas`] (the file name in proto-contracts/schemas without `.json`).
    const SCHEMA: &'static str;
    /// The resource key the body is wrapped under (`{"client": {..}}`), if any.
    const WRAPPER: Option<&'static str> = None;
}

/// Compiled schemas, built once at startup and shared by every worker, with the schema each was
/// compiled from (the OpenAPI document shows that one, [`crate::openapi`]).
#[derive(Clone)]
pub struct Schemas(Arc<HashMap<&'static str, (jsonschema::Validator, serde_json::Value)>>);

/// Compiles request-body schemas embedded from `proto-contracts/schemas/<name>.json` at build
/// time: `platform::schemas!("client_create", "client_update")` in a service crate.
#[macro_export]
macro_rules! schemas {
    ($($name:literal),* $(,)?) => {
        $crate::Schemas::compile(&[$((
            $name,
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto-contracts/schemas/", $name, ".json")),
        )),*])
    };
}

impl Schemas {
    /// Compiles `(name, schema text)` pairs; a schema that does not compile stops startup.
    /// Free strings get [`crate::openapi::forbid_nul`]'s pattern first: PostgreSQL cannot store
    /// NUL, so a body holding one is a 422, never a failed write.
    pub fn compile(sources: &[(&'static str, &str)]) -> anyhow::Result<Self> {
        let mut map = HashMap::with_capacity(sources.len());
        for (name, text) in sources {
            let mut value: serde_json::Value =
                serde_json::from_str(text).with_context(|| format!("schema {name} is not JSON"))?;
            crate::openapi::forbid_nul(&mut value);
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&value)
                .map_err(|e| anyhow::anyhow!("schema {name} does not compile: {e}"))?;
            map.insert(*name, (validator, value));
        }
        Ok(Self(Arc::new(map)))
    }

    /// The schema `name` was compiled from.
    pub fn source(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.get(name).map(|(_, source)| source)
    }

    /// Validates `instance` against the named schema; `Err` holds the 422 entries.
    pub fn validate(&self, name: &str, instance: &serde_json::Value) -> Result<(), ApiError> {
        let (validator, _) = self.0.get(name).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("schema {name} is not registered"))
        })?;
        let mut entries: Vec<InvalidEntry> = Vec::new();
        for err in validator.iter_errors(instance) {
            for entry in to_entries(&err) {
                match entries.iter_mut().find(|e| e.entry == entry.entry) {
                    Some(existing) => existing.rules.extend(entry.rules),
                    None => entries.push(entry),
                }
            }
        }
        if entries.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(entries))
        }
    }
}

/// The largest body any endpoint accepts, in bytes. Set per app; 64 KiB by default.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        Self(64 * 1024)
    }
}

/// `$.a.b[0]` from a JSON pointer location.
fn json_path(segments: impl Iterator<Item = String>) -> String {
    let mut out = String::from("$");
    for s in segments {
        out.push_str(&s);
    }
    out
}

fn to_entries(err: &jsonschema::ValidationError<'_>) -> Vec<InvalidEntry> {
    let base: Vec<String> = err
        .instance_path()
        .iter()
        .map(|seg| match seg {
            LocationSegment::Property(p) => format!(".{p}"),
            LocationSegment::Index(i) => format!("[{i}]"),
        })
        .collect();
    let at = |extra: Option<&str>| {
        let mut segs = base.clone();
        if let Some(x) = extra {
            segs.push(format!(".{x}"));
        }
        json_path(segs.into_iter())
    };
    let description = err.to_string();
    let params = serde_json::json!([]);
    let entry = |path: String, rule: &str, description: String, params: serde_json::Value| {
        InvalidEntry::with_params("json_data_property", path, rule, description, params)
    };
    match err.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default().to_owned();
            vec![entry(
                at(Some(&name)),
                "required",
                "required property was not present".into(),
                params,
            )]
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|field| {
                entry(
                    at(Some(field)),
                    "schema",
                    "schema does not allow additional properties".into(),
                    serde_json::json!([]),
                )
            })
            .collect(),
        ValidationErrorKind::Type { .. } => vec![entry(at(None), "cast", description, params)],
        ValidationErrorKind::Format { format } => vec![entry(
            at(None),
            "format",
            description,
            serde_json::json!([format]),
        )],
        ValidationErrorKind::Pattern { pattern } => vec![entry(
            at(None),
            "format",
            description,
            serde_json::json!([pattern]),
        )],
        ValidationErrorKind::MinLength { limit } => vec![entry(
            at(None),
            "length",
            description,
            serde_json::json!({"min": limit}),
        )],
        ValidationErrorKind::MaxLength { limit } => vec![entry(
            at(None),
            "length",
            description,
            serde_json::json!({"max": limit}),
        )],
        ValidationErrorKind::Enum { options } => vec![entry(
            at(None),
            "inclusion",
            description,
            (**options).clone(),
        )],
        ValidationErrorKind::Minimum { .. }
        | ValidationErrorKind::Maximum { .. }
        | ValidationErrorKind::ExclusiveMinimum { .. }
        | ValidationErrorKind::ExclusiveMaximum { .. } => {
            vec![entry(at(None), "number", description, params)]
        }
        _ => vec![entry(at(None), "invalid", description, params)],
    }
}

/// A request body that passed its schema.
#[derive(Debug)]
pub struct ValidatedJson<T>(pub T);

impl<T> ValidatedJson<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: RequestSchema> ValidatedJson<T> {
    /// The same checks as the extractor, run when the handler asks: for endpoints whose
    /// contract puts a check before the body's (employee-roles' party gate).
    pub async fn read(req: HttpRequest, payload: web::Payload) -> Result<T, ApiError> {
        read_required(req, payload.into_inner()).await
    }
}

fn is_json_content_type(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Reads the whole body, refusing early on a declared or actual size over `limit`.
pub async fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(ApiError::payload_too_large(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::malformed_with("Request body could not be read."))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The whole pipeline; `Ok(None)` only for an empty body when `allow_empty`.
async fn parse_body<T: RequestSchema>(
    req: HttpRequest,
    mut payload: Payload,
    allow_empty: bool,
) -> Result<Option<T>, ApiError> {
    let limit = req.app_data::<BodyLimit>().copied().unwrap_or_default().0;
    if allow_empty && req.headers().get(header::CONTENT_TYPE).is_none() {
        let body = read_body(&req, &mut payload, limit).await?;
        if body.is_empty() {
            return Ok(None);
        }
        return Err(ApiError::unsupported_media_type());
    }
    if !is_json_content_type(&req) {
        return Err(ApiError::unsupported_media_type());
    }
    let body = read_body(&req, &mut payload, limit).await?;
    if allow_empty && body.is_empty() {
        return Ok(None);
    }
    let schemas = req
        .app_data::<Schemas>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no Schemas registered in app data")))?;
    decode_body::<T>(&body, schemas).map(Some)
}

/// A JSON body's bytes to `T`: parsed, unwrapped from `T::WRAPPER` (nothing beside it),
/// validated against `T::SCHEMA`, then cast. Every refusal is a 4xx (`make fuzz` holds it to that).
pub fn decode_body<T: RequestSchema>(body: &[u8], schemas: &Schemas) -> Result<T, ApiError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| ApiError::malformed())?;
    if let Some(key) = T::WRAPPER {
        value = match value {
            serde_json::Value::Object(mut map) => match map.remove(key) {
                // Beside the wrapper nothing is read, so nothing is accepted (the document
                // says `additionalProperties: false`).
                Some(_) if !map.is_empty() => {
                    return Err(ApiError::validation(
                        map.keys()
                            .map(|k| {
                                InvalidEntry::body(
                                    format!("$.{k}"),
                                    "schema",
                                    "schema does not allow additional properties",
                                )
                            })
                            .collect(),
                    ));
                }
                Some(inner) => inner,
                None => return Err(ApiError::malformed()),
            },
            _ => return Err(ApiError::malformed()),
        };
    }
    schemas.validate(T::SCHEMA, &value)?;
    serde_json::from_value::<T>(value)
        .map_err(|e| ApiError::invalid_field("$", "cast", e.to_string()))
}

/// A body that must be present and pass every check.
async fn read_required<T: RequestSchema>(
    req: HttpRequest,
    payload: Payload,
) -> Result<T, ApiError> {
    parse_body::<T>(req, payload, false)
        .await?
        .ok_or_else(ApiError::malformed)
}

impl<T: RequestSchema> FromRequest for ValidatedJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move { read_required(req, payload).await.map(ValidatedJson) })
    }
}

/// Like [`ValidatedJson`], but an empty body (no Content-Type, or a JSON one with no bytes) is
/// `None`. A body that is present gets every check.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T: RequestSchema> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let (req, payload) = (req.clone(), payload.take());
        Box::pin(async move { parse_body::<T>(req, payload, true).await.map(OptionalJson) })
    }
}

/// For partial updates: tells an absent field (`None`) from an explicit `null` (`Some(None)`).
pub fn double_option<'de, T, D>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(de).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> Schemas {
        Schemas::compile(&[(
            "t",
            r#"{"type":"object","additionalProperties":false,"required":["redirect_uri"],
                "properties":{"redirect_uri":{"type":"string","pattern":"^https://.+"},
                              "n":{"type":"array","items":{"type":"integer"}}}}"#,
        )])
        .unwrap()
    }

    fn entries(v: serde_json::Value) -> Vec<(String, String)> {
        let err = schemas().validate("t", &v).unwrap_err();
        assert_eq!(err.status().as_u16(), 422);
        err.body()
            .invalid
            .unwrap()
            .into_iter()
            .flat_map(|e| {
                let path = e.entry.clone().unwrap();
                e.rules.into_iter().map(move |r| (path.clone(), r.rule))
            })
            .collect()
    }

    #[test]
    fn maps_schema_errors_to_entries() {
        assert!(
            schemas()
                .validate("t", &serde_json::json!({"redirect_uri":"https://a"}))
                .is_ok()
        );
        assert_eq!(
            entries(serde_json::json!({})),
            vec![("$.redirect_uri".into(), "required".into())]
        );
        assert_eq!(
            entries(serde_json::json!({"redirect_uri":"http://a","x":1})),
            vec![
                ("$.redirect_uri".into(), "format".into()),
                ("$.x".into(), "schema".into())
            ]
        );
        assert_eq!(
            entries(serde_json::json!({"redirect_uri":"https://a","n":[1,"b"]})),
            vec![("$.n[1]".into(), "cast".into())]
        );
    }
}
