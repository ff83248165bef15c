//! Query parameters read by name, collecting every problem into one 422 (`query_parameter`).
//! Unknown parameters are ignored. A parameter whose name or value decodes to invalid UTF-8 or
//! holds NUL (which PostgreSQL cannot store) is refused before any handler runs.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use ehealth_core::{InvalidEntry, PageRequest};
use uuid::Uuid;

use crate::ApiError;

#[derive(Debug, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    /// `application/x-www-form-urlencoded` pairs, decoded strictly: a pair that is not UTF-8 or
    /// holds NUL is a 422 entry under its (lossily decoded) name.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let mut pairs = Vec::new();
        let mut invalid = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (decode(name), decode(value)) {
                (Some(name), Some(value)) => pairs.push((name, value)),
                _ => invalid.push(InvalidEntry::query(
                    lossy(name),
                    "format",
                    "must be UTF-8 text without NUL",
                )),
            }
        }
        if invalid.is_empty() {
            Ok(Self(pairs))
        } else {
            Err(ApiError::validation(invalid))
        }
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
        ready(Self::parse(req.query_string()))
    }
}

fn hyphenated(raw: &str) -> Result<Uuid, uuid::Error> {
    match raw.len() {
        36 => Uuid::parse_str(raw),
        _ => Uuid::try_parse(""),
    }
}

fn plus_as_space(raw: &str) -> std::borrow::Cow<'_, [u8]> {
    if raw.contains('+') {
        raw.replace('+', " ").into_bytes().into()
    } else {
        raw.as_bytes().into()
    }
}

/// One name or value, or `None` when it is not UTF-8 or holds NUL.
fn decode(raw: &str) -> Option<String> {
    let bytes = plus_as_space(raw);
    let text = percent_encoding::percent_decode(&bytes)
        .decode_utf8()
        .ok()?;
    (!text.contains('\0')).then(|| text.into_owned())
}

fn lossy(raw: &str) -> String {
    let bytes = plus_as_space(raw);
    percent_encoding::percent_decode(&bytes)
        .decode_utf8_lossy()
        .replace('\0', "\u{FFFD}")
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

    /// A hyphenated UUID (the form the documents name; `Uuid::parse_str` would also take
    /// braced, URN and undashed forms).
    pub fn uuid(&mut self, name: &str) -> Option<Uuid> {
        let raw = self.params.get(name)?;
        match hyphenated(raw) {
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
        let parsed: Result<Vec<Uuid>, _> = raw.split(',').map(hyphenated).collect();
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
