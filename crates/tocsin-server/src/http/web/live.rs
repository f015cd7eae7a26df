//! Live pages: the server-sent events that tell open pages an incident changed, and the
//! script and stylesheet, built into the binary.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use tocsin_core::Timestamp;
use tocsin_core::identity::Permission;
use tokio::time::MissedTickBehavior;

use super::Signed;
use crate::http::auth::{NeedRead, authenticate};

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

/// How often an open stream checks that its session or token is still live.
const RECHECK_EVERY: Duration = Duration::from_secs(2);

/// `changed` events name the incident that changed. The stream ends when the server stops,
/// and within seconds of its caller's session ending (logout, expiry, user disabled) or
/// its token being revoked.
pub async fn events(
    signed: Signed<NeedRead>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let state = signed.0.state().clone();
    let changes = state.0.changes.subscribe();
    let stopping = state.0.stopping.subscribe();
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    recheck.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let still_allowed = move || {
        let (headers, identity) = (headers.clone(), state.identity().clone());
        async move {
            let now = tocsin_core::to_millis(Timestamp::now());
            matches!(
                authenticate(&headers, &identity, now).await,
                Ok(Some(caller)) if caller.principal.permits(Permission::Read)
            )
        }
    };
    let stream = futures_util::stream::unfold(
        (changes, stopping, recheck),
        move |(mut changes, mut stopping, mut recheck)| {
            let still_allowed = still_allowed.clone();
            async move {
                loop {
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
                        _ = recheck.tick() => {
                            if still_allowed().await {
                                continue;
                            }
                            return None;
                        }
                    };
                    if !still_allowed().await {
                        return None;
                    }
                    let event = Event::default().event("changed").data(data);
                    return Some((Ok(event), (changes, stopping, recheck)));
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
}
