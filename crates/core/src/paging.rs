//! `page` / `page_size` query parameters with a per-endpoint maximum.

use crate::envelope::InvalidEntry;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: i64,
    pub page_size: i64,
}

impl PageRequest {
    pub const DEFAULT_PAGE_SIZE: i64 = 50;

    /// Parses raw query values. Absent values take the defaults (page 1, size 50 or `max` when
    /// smaller); anything that is not an integer in range is a 422 `query_parameter` entry.
    pub fn parse(
        page: Option<&str>,
        page_size: Option<&str>,
        max_page_size: i64,
    ) -> Result<Self, Vec<InvalidEntry>> {
        let mut invalid = Vec::new();
        let page = match page {
            None => 1,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if n >= 1 && n <= i64::from(i32::MAX) => n,
                _ => {
                    invalid.push(InvalidEntry::with_params(
                        "query_parameter",
                        "page",
                        "number",
                        "must be an integer greater than or equal to 1",
                        serde_json::json!({"greater_than_or_equal_to": 1}),
                    ));
                    1
                }
            },
        };
        let page_size = match page_size {
            None => Self::DEFAULT_PAGE_SIZE.min(max_page_size),
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if (1..=max_page_size).contains(&n) => n,
                _ => {
                    invalid.push(InvalidEntry::with_params(
                        "query_parameter",
                        "page_size",
                        "number",
                        format!("must be an integer between 1 and {max_page_size}"),
                        serde_json::json!({"greater_than_or_equal_to": 1, "less_than_or_equal_to": max_page_size}),
                    ));
                    1
                }
            },
        };
        if invalid.is_empty() {
            Ok(Self { page, page_size })
        } else {
            Err(invalid)
        }
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.page_size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(
            PageRequest::parse(None, None, 50),
            Ok(PageRequest {
                page: 1,
                page_size: 50
            })
        );
        assert_eq!(
            PageRequest::parse(Some("3"), Some("10"), 50).map(|p| p.offset()),
            Ok(20)
        );
        assert!(PageRequest::parse(Some("0"), None, 50).is_err());
        assert!(PageRequest::parse(None, Some("51"), 50).is_err());
        assert!(PageRequest::parse(None, Some("300"), 300).is_ok());
        assert!(PageRequest::parse(Some("x"), Some("-1"), 50).is_err_and(|e| e.len() == 2));
    }
}
