//! The SMS provider, over HTTP: `POST {url}/sms/send` with `{phone_number, body, type: "2FA"}`
//! (the reference's `OTP_ENDPOINT` and `OTP_SMS_TEMPLATE`), within a timeout. Any failure is a
//! 503 with Retry-After: the code is not sent, and the caller may ask again.

use std::time::Duration;

use platform::ApiError;
use serde_json::json;

use crate::settings::SmsSettings;

/// Seconds a caller is asked to wait when the provider failed.
const RETRY_AFTER_SECS: u64 = 30;

#[derive(Clone)]
pub struct Sms {
    http: reqwest::Client,
    /// `{url}/sms/send`, or None when no provider is configured.
    send_url: Option<String>,
}

impl Sms {
    pub fn new(settings: &SmsSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms.max(1)))
            .build()?;
        let base = settings.url.trim_end_matches('/');
        let send_url = (!base.is_empty()).then(|| format!("{base}/sms/send"));
        Ok(Self { http, send_url })
    }

    /// Sends `code` to `phone`.
    pub async fn send_code(&self, phone: &str, code: &str) -> Result<(), ApiError> {
        let not_sent =
            || ApiError::service_unavailable("SMS not sent. Try later", RETRY_AFTER_SECS);
        let Some(url) = &self.send_url else {
            tracing::error!("an OTP must be sent but no SMS provider is configured (sms.url)");
            return Err(not_sent());
        };
        let body = json!({
            "phone_number": phone,
            "body": format!("Код підтвердження: {code}"),
            "type": "2FA",
        });
        match self.http.post(url).json(&body).send().await {
            Ok(res) if res.status().is_success() => Ok(()),
            Ok(res) => {
                tracing::warn!(status = %res.status(), "the SMS provider refused an OTP");
                Err(not_sent())
            }
            Err(e) => {
                tracing::warn!(error = %e.without_url(), "the SMS provider cannot be reached");
                Err(not_sent())
            }
        }
    }
}
