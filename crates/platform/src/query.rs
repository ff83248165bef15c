//! Query parameters read by name, collecting every problem into one 422 (`query_parameter`).
//! Unknown parameters are ignored.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use ehealth_core::{InvalidEntry, PageRequest};
use uuid::Uuid;

use crate::ApiError;

#[derive(Debug, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(query: &str) -> Self {
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn reader(&self) -> QueryReader<'_> {
        QueryReader {
            params: self,
            invalid: Vec::new(),
        }
    }
}

impl FromRequest for QueryParams {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(Self::parse(req.query_string())))
    }
}

/// Typed reads that remember what was wrong; [`QueryReader::finish`] turns that into the 422.
pub struct QueryReader<'a> {
    params: &'a QueryParams,
    invalid: Vec<InvalidEntry>,
}

impl QueryReader<'_> {
    /// A non-empty string (an empty value counts as absent).
    pub fn string(&mut self, name: &str) -> Option<String> {
        self.params
            .get(name)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    pub fn uuid(&mut self, name: &str) -> Option<Uuid> {
        let raw = self.params.get(name)?;
        match Uuid::parse_str(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                self.invalid
                    .push(InvalidEntry::query(name, "uuid", "is not a valid UUID"));
                None
            }
        }
    }

    /// A comma-separated list of UUIDs.
    pub fn uuid_list(&mut self, name: &str) -> Option<Vec<Uuid>> {
        let raw = self.params.get(name)?;
        let parsed: Result<Vec<Uuid>, _> = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Uuid::parse_str)
            .collect();
        match parsed {
            Ok(ids) => Some(ids),
            Err(_) => {
                self.invalid.push(InvalidEntry::query(
                    name,
                    "uuid",
                    "must be a comma-separated list of UUIDs",
                ));
                None
            }
        }
    }

    pub fn bool(&mut self, name: &str) -> Option<bool> {
        match self.params.get(name)? {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.invalid
                    .push(InvalidEntry::query(name, "cast", "must be true or false"));
                None
            }
        }
    }

    /// `page` and `page_size`, with `max_page_size` for this endpoint.
    pub fn page(&mut self, max_page_size: i64) -> PageRequest {
        match PageRequest::parse(
            self.params.get("page"),
            self.params.get("page_size"),
            max_page_size,
        ) {
            Ok(p) => p,
            Err(entries) => {
                self.invalid.extend(entries);
                PageRequest {
                    page: 1,
                    page_size: 1,
                }
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.invalid.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.invalid))
        }
    }
}
