//! The response envelope every service speaks (EView's shape):
//! success `{"meta","data"[,"paging"][,"urgent"]}`, error `{"meta","error"}`.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Meta {
    pub url: String,
    /// `object` or `list`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub code: u16,
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

#[derive(Clone, Copy, Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct Paging {
    pub page_number: i64,
    pub page_size: i64,
    pub total_entries: i64,
    pub total_pages: i64,
}

impl Paging {
    pub fn new(page_number: i64, page_size: i64, total_entries: i64) -> Self {
        let total_pages = if page_size > 0 {
            (total_entries + page_size - 1) / page_size
        } else {
            0
        };
        Self {
            page_number,
            page_size,
            total_entries,
            total_pages,
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct ErrorBody {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid: Option<Vec<InvalidEntry>>,
}

/// One entry of a 422's `invalid[]`.
#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct InvalidEntry {
    /// `json_data_property`, `query_parameter`, `header` or `request`.
    pub entry_type: &'static str,
    /// `$.field` for bodies, the parameter or header name otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Clone, Debug, Serialize, ToSchema, PartialEq)]
pub struct Rule {
    pub rule: String,
    pub description: String,
    /// A list or an object, by rule.
    pub params: serde_json::Value,
}

impl InvalidEntry {
    pub fn body(path: impl Into<String>, rule: &str, description: impl Into<String>) -> Self {
        Self::with_params(
            "json_data_property",
            path,
            rule,
            description,
            serde_json::json!([]),
        )
    }

    pub fn query(name: impl Into<String>, rule: &str, description: impl Into<String>) -> Self {
        Self::with_params(
            "query_parameter",
            name,
            rule,
            description,
            serde_json::json!([]),
        )
    }

    pub fn header(name: impl Into<String>, rule: &str, description: impl Into<String>) -> Self {
        Self::with_params("header", name, rule, description, serde_json::json!([]))
    }

    pub fn with_params(
        entry_type: &'static str,
        entry: impl Into<String>,
        rule: &str,
        description: impl Into<String>,
        params: serde_json::Value,
    ) -> Self {
        Self {
            entry_type,
            entry: Some(entry.into()),
            rules: vec![Rule {
                rule: rule.to_owned(),
                description: description.into(),
                params,
            }],
        }
    }
}

/// The reference's 422 message.
pub const VALIDATION_FAILED_MESSAGE: &str = "Validation failed. You can find validators description at our API Manifest: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors.";

/// The reference's 400 message for bodies that are not JSON or lack the resource key.
pub const MALFORMED_MESSAGE: &str = "Malformed request. Probably, you have sent corrupted JSON.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_rounds_up() {
        assert_eq!(Paging::new(1, 50, 0).total_pages, 0);
        assert_eq!(Paging::new(1, 50, 50).total_pages, 1);
        assert_eq!(Paging::new(2, 50, 1000).total_pages, 20);
        assert_eq!(Paging::new(1, 50, 1001).total_pages, 21);
    }
}
