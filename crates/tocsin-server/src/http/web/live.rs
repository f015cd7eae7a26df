//! Live pages: the server-sent events that tell open pages an incident changed, and the
//! script and stylesheet, built into the binary.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::header;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::Signed;
use crate::http::auth::NeedRead;

const STYLESHEET: &str = include_str!("../../../static/app.css");
const SCRIPT: &str = include_str!("../../../static/app.js");

/// Cached for a day; pages name them with the version, so an upgrade loads new ones.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

pub async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `changed` events name the incident that changed; the stream ends when the server stops.
pub async fn events(signed: Signed<NeedRead>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let state = signed.0.state().clone();
    let changes = state.0.changes.subscribe();
    let stopping = state.0.stopping.subscribe();
    let stream = futures_util::stream::unfold((changes, stopping), |(mut changes, mut stopping)| async move {
        if *stopping.borrow() {
            return None;
        }
        let data = tokio::select! {
            received = changes.recv() => match received {
                Ok(number) => number.to_string(),
                // Missed some: tell the page to refresh whatever it shows.
                Err(RecvError::Lagged(_)) => "*".to_owned(),
                Err(RecvError::Closed) => return None,
            },
            _ = stopping.changed() => return None,
        };
        Some((Ok(Event::default().event("changed").data(data)), (changes, stopping)))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
}
