//! Signed webhooks: the message as JSON, signed like Stripe's (`Tocsin-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`), with the message id as
//! `Idempotency-Key`.

use async_trait::async_trait;
use hmac::{KeyInit, Mac};
use jiff::Timestamp;

use crate::{Channel, Message, Outcome, http_outcome, request_failed};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The header with the signature.
pub const SIGNATURE: &str = "Tocsin-Signature";
/// The header with the message id.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

pub struct Webhook {
    url: reqwest::Url,
    secret: Vec<u8>,
    client: reqwest::Client,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("Webhook")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// A webhook to `url` (http or https), signed with `secret`.
    pub fn new(url: &str, secret: &[u8], client: reqwest::Client) -> Result<Self, crate::BadChannel> {
        let url: reqwest::Url = url.parse().map_err(|e| format!("\"{url}\" is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("\"{url}\" is not an http or https URL").into());
        }
        if secret.len() < 16 {
            return Err("the signing secret is shorter than 16 bytes".into());
        }
        Ok(Webhook {
            url,
            secret: secret.to_vec(),
            client,
        })
    }
}

/// The signature header's value for `body` sent at `at`.
pub fn sign(secret: &[u8], at: Timestamp, body: &[u8]) -> String {
    let t = at.as_second();
    format!("t={t},v1={}", hex::encode(mac(secret, t, body)))
}

/// Whether `header` signs `body` with `secret`, made within `tolerance` seconds of `now`
/// (so that a captured request cannot be replayed later): what a receiver checks.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: Timestamp, tolerance: i64) -> bool {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now.as_second() - t).abs() > tolerance {
        return false;
    }
    signatures.iter().any(|s| {
        let mut check = HmacSha256::new_from_slice(secret).expect("any key length");
        check.update(format!("{t}.").as_bytes());
        check.update(body);
        check.verify_slice(s).is_ok()
    })
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret).expect("any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

#[async_trait]
impl Channel for Webhook {
    async fn send(&self, message: &Message) -> Outcome {
        let body = serde_json::to_vec(message).expect("a message serializes");
        let now = Timestamp::now();
        let sent = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE, sign(&self.secret, now, &body))
            .header(IDEMPOTENCY_KEY, &message.id)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => http_outcome(&response, Timestamp::now()),
            Err(e) => request_failed(&e),
        }
    }
}
