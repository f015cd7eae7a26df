//! The endpoints of outside senders, in their own formats: Alertmanager, PagerDuty,
//! Sentry and heartbeat pushes, and through one generic path (`receive`) Vercel's log
//! drains. Each checks the sender's key before it reads the body
//! (`compat`), and hands the body to its pure reader in `tocsin_core::senders`.

mod alertmanager;
pub(super) mod compat;
mod heartbeat;
mod pagerduty;
mod receive;
mod sentry;
mod sentry_hooks;

use axum::Router;

use super::AppState;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .merge(alertmanager::routes())
        .merge(pagerduty::routes())
        .merge(sentry::routes())
        .merge(sentry_hooks::routes())
        .merge(heartbeat::routes())
        .merge(receive::routes::<tocsin_core::senders::vercel::Drain>())
}
