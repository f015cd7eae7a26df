//! The services: each is the one door to its part of the state and applies its rules, for
//! the server's requests, its workers and the CLI alike.

pub mod actions;
pub mod approval_links;
pub mod audit;
pub mod blocks;
pub mod breaches;
pub(crate) mod dns;
pub mod event_reads;
pub mod evidence;
pub mod identity;
pub mod incidents;
pub mod integrations;
pub mod isolation;
pub mod notices;
pub mod plans;
pub mod probes;
pub mod ratelimit;
pub(crate) mod read_cache;
pub mod seal;
pub mod switches;
pub mod verify;

/// An error with its causes, each after a colon, as people read it.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// An answer's body up to `max` bytes (a longer one is cut there), and the error that cut
/// it short, if one did: what was read before it is kept.
pub(crate) async fn read_up_to(mut response: reqwest::Response, max: usize) -> (Vec<u8>, Option<reqwest::Error>) {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = max.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= max {
                    return (body, None);
                }
            }
            Ok(None) => return (body, None),
            Err(e) => return (body, Some(e)),
        }
    }
}
