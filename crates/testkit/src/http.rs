//! Assertions on the envelope every service answers with.

use serde_json::Value;

pub async fn json_of(res: reqwest::Response) -> Value {
    match res.json().await {
        Ok(v) => v,
        Err(e) => panic!("a JSON body was expected: {e}"),
    }
}

/// Asserts an error envelope: status, `error.type`, `meta.code` and, when given,
/// `error.message`. Returns the body for further checks.
pub async fn assert_error(
    res: reqwest::Response,
    status: u16,
    kind: &str,
    message: Option<&str>,
) -> Value {
    assert_eq!(res.status(), status, "status");
    let body = json_of(res).await;
    assert_eq!(body["error"]["type"], kind, "type in {body}");
    if let Some(m) = message {
        assert_eq!(body["error"]["message"], m, "message in {body}");
    }
    assert_eq!(body["meta"]["code"], status);
    body
}
