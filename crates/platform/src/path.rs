//! Path parameters: a malformed id in a path names no resource, so it is a 404, never a 500.

use actix_web::web;

use crate::ApiError;

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, _| ApiError::not_found().into())
}
