//! Readers of what outside senders post, beside tocsin's own wire format: a body in,
//! events out, or why it cannot be read. They are pure: the HTTP around them (keys, body
//! limits, decompression, committing) is the server's.

pub mod alertmanager;
pub mod pagerduty;
pub mod sentry;

/// Why a sender's body cannot be taken.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// Larger than the format allows.
    #[error("{0}")]
    TooLarge(String),
    /// Not what the format says.
    #[error("{0}")]
    Invalid(String),
}

/// Reads JSON, naming the place of the first problem. JSON is UTF-8 throughout, in the
/// fields that are skipped too: a body that is not is refused whole.
pub fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body)
        .map_err(|e| format!("the body is not UTF-8: invalid bytes at offset {}", e.valid_up_to()))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match path.as_str() {
            "." | "?" => inner.to_string(),
            _ => format!("{path}: {inner}"),
        }
    })?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}
