//! Authentication and authorization, in one place.
//!
//! A handler states what it needs by the extractor it takes: [`Reader`], [`Responder`]
//! or [`Administrator`]. The extractor authenticates the request (a bearer token, or a
//! session cookie with its CSRF token on changes), checks the permission, and only then
//! hands out the desk or the identity store. Handlers have no other way to reach them.

use std::marker::PhantomData;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use tocsin_core::Timestamp;
use tocsin_core::identity::Permission;
use tocsin_core::incident::{Actor, IncidentNumber};

use super::AppState;
use super::error::ApiError;
use crate::Desk;
use crate::services::identity::{Identity, Principal, Session};

/// The browser's session cookie.
pub const SESSION_COOKIE: &str = "tocsin_session";
/// The header that carries a session's CSRF token on API changes made from a browser.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of one cookie.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The client's address: the peer, or the last untrusted hop of `X-Forwarded-For` when
/// the peer is a trusted proxy.
pub fn client_ip(parts: &Parts, state: &AppState) -> String {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let headers = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    forwarded_client(peer, &state.config().trusted_proxies, headers)
}

/// The client behind trusted proxies: walking `X-Forwarded-For` from the right, the first
/// hop that is not a trusted proxy. A hop that is not an address is what the client sent
/// itself (a proxy writes addresses), so it stands as the client rather than being skipped
/// for the attacker's earlier hop.
fn forwarded_client<'h>(peer: IpAddr, trusted: &[IpAddr], headers: impl Iterator<Item = &'h str>) -> String {
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let hops: Vec<&str> = headers
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|hop| !hop.is_empty())
        .collect();
    for hop in hops.iter().rev() {
        match hop_address(hop) {
            Some(ip) if trusted.contains(&ip) => continue,
            Some(ip) => return ip.to_string(),
            None => return hop.chars().filter(|c| !c.is_control()).take(64).collect(),
        }
    }
    peer.to_string()
}

/// One hop's address: `203.0.113.9`, `203.0.113.9:4711`, `2001:db8::1` or
/// `[2001:db8::1]:443`.
fn hop_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| hop.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

#[cfg(test)]
mod forwarded_tests {
    use super::*;

    #[test]
    fn a_hop_with_a_port_is_the_client_and_an_unparseable_hop_is_not_skipped() {
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let trusted = [proxy];
        let client = |header: &str| forwarded_client(proxy, &trusted, std::iter::once(header));
        assert_eq!(client("6.6.6.6, 203.0.113.9:4711"), "203.0.113.9");
        assert_eq!(client("6.6.6.6, [2001:db8::1]:443"), "2001:db8::1");
        assert_eq!(client("6.6.6.6, 2001:db8::2, 10.0.0.2"), "2001:db8::2");
        assert_eq!(client("6.6.6.6, unknown"), "unknown");
        assert_eq!(client(""), "10.0.0.2");
        // Not behind a trusted proxy, the header says nothing.
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(
            forwarded_client(stranger, &trusted, std::iter::once("6.6.6.6")),
            "198.51.100.7"
        );
    }
}

/// Who is calling, if anyone: a bearer token wins over a cookie.
pub async fn authenticate(
    headers: &HeaderMap,
    identity: &Identity,
    now: Timestamp,
) -> Result<Option<Caller>, ApiError> {
    if headers.contains_key(header::AUTHORIZATION) {
        let token = super::senders::compat::bearer(headers)
            .ok_or_else(|| ApiError::unauthenticated("the Authorization header must be \"Bearer TOKEN\""))?;
        let principal = identity.authenticate_token(token, now).await?;
        return Ok(Some(Caller {
            principal,
            session: None,
        }));
    }
    let Some(secret) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    Ok(identity.session(secret, now).await?.map(|session| Caller {
        principal: session.principal.clone(),
        session: Some(session),
    }))
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    /// Set when authenticated by a browser session.
    pub session: Option<Session>,
}

/// A permission a handler needs, as a type; `None` admits every authenticated caller.
pub trait Need: Send + Sync {
    const PERMISSION: Option<Permission>;
    const WHAT: &'static str;
}

#[derive(Debug)]
pub struct NeedAny;
#[derive(Debug)]
pub struct NeedRead;
#[derive(Debug)]
pub struct NeedRespond;
#[derive(Debug)]
pub struct NeedIngest;
#[derive(Debug)]
pub struct NeedAdmin;

impl Need for NeedAny {
    const PERMISSION: Option<Permission> = None;
    const WHAT: &'static str = "any";
}
impl Need for NeedRead {
    const PERMISSION: Option<Permission> = Some(Permission::Read);
    const WHAT: &'static str = "read";
}
impl Need for NeedRespond {
    const PERMISSION: Option<Permission> = Some(Permission::Respond);
    const WHAT: &'static str = "respond";
}
impl Need for NeedIngest {
    const PERMISSION: Option<Permission> = Some(Permission::Ingest);
    const WHAT: &'static str = "ingest";
}
impl Need for NeedAdmin {
    const PERMISSION: Option<Permission> = Some(Permission::Admin);
    const WHAT: &'static str = "admin";
}

/// A request allowed to do what `N` names.
#[derive(Debug)]
pub struct Allowed<N> {
    pub caller: Caller,
    pub now: Timestamp,
    state: AppState,
    need: PhantomData<N>,
}

/// Any authenticated caller.
pub type Anyone = Allowed<NeedAny>;
pub type Reader = Allowed<NeedRead>;
pub type Responder = Allowed<NeedRespond>;
pub type Ingester = Allowed<NeedIngest>;
pub type Administrator = Allowed<NeedAdmin>;

impl<N> Allowed<N> {
    pub fn actor(&self) -> Actor {
        self.caller.principal.actor()
    }

    /// What is on now (maintenance, paused agents): every authenticated caller may ask.
    pub async fn switched_on(&self) -> Result<std::sync::Arc<crate::services::switches::On>, tocsin_store::StoreError> {
        self.state.switches().on().await
    }

    pub(in crate::http) fn state(&self) -> &AppState {
        &self.state
    }

    /// The desk's read side; changing needs [`Responder::desk`].
    pub fn read(&self) -> Reading<'_> {
        Reading(&self.state.0.desk, &*self.state.0.store)
    }
}

/// What every authenticated caller may read.
#[derive(Clone, Copy, Debug)]
pub struct Reading<'d>(&'d Desk, &'d dyn tocsin_store::Store);

impl<'d> Reading<'d> {
    pub fn plan(self) -> std::sync::Arc<tocsin_core::plan::Plan> {
        self.0.plan()
    }

    /// The plan in force with its version.
    pub fn active_plan(self) -> std::sync::Arc<crate::services::plans::ActivePlan> {
        self.0.active_plan()
    }

    /// Every plan version, newest first, without their texts.
    pub async fn plan_history(self) -> Result<Vec<tocsin_store::plans::PlanVersion>, tocsin_store::StoreError> {
        self.1.plan_history().await
    }

    pub async fn incident(
        &self,
        number: IncidentNumber,
    ) -> Result<std::sync::Arc<crate::IncidentView>, crate::DeskError> {
        self.0.incident_shared(number).await
    }

    pub async fn incidents(
        &self,
        filter: &tocsin_store::IncidentFilter,
    ) -> Result<std::sync::Arc<Vec<tocsin_store::IncidentSummary>>, crate::DeskError> {
        self.0.incidents(filter).await
    }

    /// The breach register (GDPR Art. 33(5)).
    pub async fn breaches(
        &self,
        now: Timestamp,
    ) -> Result<Vec<crate::services::breaches::BreachDoc>, crate::DeskError> {
        crate::services::breaches::register(self.0, now).await
    }

    pub async fn open_clocks(&self) -> Result<std::sync::Arc<Vec<tocsin_store::OpenClock>>, crate::DeskError> {
        self.0.open_clocks().await
    }

    pub async fn verify(&self) -> Result<crate::Verification, crate::DeskError> {
        self.0.verify().await
    }

    pub async fn signals(
        &self,
        filter: &tocsin_store::signals::SignalFilter,
    ) -> Result<Vec<tocsin_store::signals::SignalRecord>, tocsin_store::StoreError> {
        self.1.signals(filter).await
    }

    /// The events with these numbers that the log still holds.
    pub async fn events_by_seq(
        &self,
        seqs: &[u64],
    ) -> Result<Vec<tocsin_store::events::StoredEvent>, tocsin_store::StoreError> {
        self.1.events_by_seq(seqs).await
    }

    pub async fn events(
        &self,
        filter: &crate::services::event_reads::EventFilter,
    ) -> Result<crate::services::event_reads::EventPage, tocsin_store::StoreError> {
        crate::services::event_reads::list(self.1, filter).await
    }

    pub async fn audit_entries(
        &self,
        after: u64,
        limit: u32,
    ) -> Result<Vec<tocsin_core::audit::AuditEntry>, tocsin_store::StoreError> {
        self.1.audit_entries(after, limit).await
    }

    pub async fn outbox(
        &self,
        filter: &tocsin_store::outbox::OutboxFilter,
    ) -> Result<Vec<tocsin_store::outbox::Notification>, tocsin_store::StoreError> {
        self.1.outbox(filter).await
    }

    pub async fn channel_health(&self) -> Result<Vec<tocsin_store::outbox::ChannelHealth>, tocsin_store::StoreError> {
        self.1.channel_health().await
    }

    pub async fn integrations(
        &self,
    ) -> Result<Vec<tocsin_store::integrations::IntegrationRecord>, tocsin_store::StoreError> {
        self.1.integrations().await
    }

    /// The blocks in force at `now`; with `all`, the ended ones too.
    pub async fn blocks(
        &self,
        now: Timestamp,
        all: bool,
    ) -> Result<Vec<tocsin_store::blocks::Block>, tocsin_store::StoreError> {
        self.1.blocks(now, all).await
    }

    /// Where every bouncer that has pulled stands.
    pub async fn bouncers(&self) -> Result<Vec<tocsin_store::blocks::BouncerState>, tocsin_store::StoreError> {
        self.1.bouncers().await
    }

    pub async fn alerts(
        &self,
        filter: &tocsin_store::integrations::AlertFilter,
    ) -> Result<Vec<tocsin_store::integrations::StoredAlert>, tocsin_store::StoreError> {
        self.1.alerts(filter).await
    }
}

impl Responder {
    pub fn desk(&self) -> &Desk {
        &self.state.0.desk
    }

    /// The plan's probes, to run one now.
    pub fn probes(&self) -> &crate::services::probes::Probes {
        self.state.probes()
    }

    /// The daily security audit, to run it now.
    pub fn audits(&self) -> &crate::services::audit::Audits {
        self.state.audits()
    }

    /// The outbox, to send a dead notification again.
    pub fn outbox(&self) -> &dyn tocsin_store::outbox::OutboxStore {
        &*self.state.0.store
    }

    /// The evidence, to add to it.
    pub fn evidence(&self) -> &crate::services::evidence::Locker {
        self.state.evidence()
    }

    /// Maintenance mode and paused agents, to turn on and off.
    pub fn switches(&self) -> &crate::services::switches::Switches {
        self.state.switches()
    }

    /// The runs of the plan's actions, to ask for, approve, reject and undo them.
    pub fn actions(&self) -> &crate::services::actions::Actions {
        self.state.actions()
    }

    /// The blocks, to add and end them.
    pub fn blocks(&self) -> &crate::services::blocks::Blocks {
        self.state.blocks()
    }

    /// The incidents' notices and recipients, to draft, approve and send them.
    pub fn notices(&self) -> &crate::services::notices::Notices {
        self.state.notices()
    }

    /// Tells live pages that an incident changed.
    pub fn changed(&self, number: IncidentNumber) {
        self.state.changed(number);
    }
}

impl Reader {
    /// The evidence, to list, check and download (each download on the audit chain).
    pub fn evidence(&self) -> &crate::services::evidence::Locker {
        self.state.evidence()
    }

    /// The incidents' notices, to read them, their recipients and their deliveries.
    pub fn notices(&self) -> &crate::services::notices::Notices {
        self.state.notices()
    }

    /// The plan's probes, where they stand and their history.
    pub fn probes(&self) -> &crate::services::probes::Probes {
        self.state.probes()
    }

    /// The daily security audit's reports.
    pub fn audits(&self) -> &crate::services::audit::Audits {
        self.state.audits()
    }
}

impl Ingester {
    pub fn events(&self) -> &tocsin_store::event_log::EventLog {
        self.state.0.pipeline.log()
    }

    pub fn limiter(&self) -> &crate::services::ratelimit::Limiter {
        &self.state.0.limiter
    }

    /// The blocks in force that hold `ip`: an ingester may ask, not change them.
    pub async fn blocked(
        &self,
        ip: IpAddr,
    ) -> Result<Vec<std::sync::Arc<tocsin_store::blocks::Block>>, tocsin_store::StoreError> {
        self.state.blocks().blocking(ip, self.now).await
    }
}

impl Administrator {
    pub fn identity(&self) -> &Identity {
        self.state.identity()
    }

    /// Makes `text` the active plan version, as the caller; the incidents under way adopt it.
    pub async fn apply_plan(
        &self,
        text: &crate::services::plans::PlanText,
    ) -> Result<tocsin_store::plans::Applied, crate::DeskError> {
        self.state.0.desk.apply_plan(text, &self.actor(), self.now).await
    }

    /// The login trail, brought up to date with the event log first (within reason: the
    /// log's writer indexes the rest as soon as it can).
    pub async fn login_trail(
        &self,
        filter: &tocsin_store::events::TrailFilter,
    ) -> Result<Vec<tocsin_store::events::StoredEvent>, tocsin_store::StoreError> {
        let store = &self.state.0.store;
        for _ in 0..5 {
            if store.index_login_trail(10_000).await? < 10_000 {
                break;
            }
        }
        store.login_trail(filter).await
    }
}

impl<N: Need> Allowed<N> {
    /// Authenticates the request and checks that it may do what `N` names. A change made
    /// with a session cookie must carry the session's CSRF token: in the header for the
    /// API, in the form for the web UI (`csrf_in_form`).
    pub async fn authorize(parts: &Parts, state: &AppState, csrf_in_form: Option<&str>) -> Result<Self, ApiError> {
        let now = tocsin_core::to_millis(Timestamp::now());
        let caller = authenticate(&parts.headers, state.identity(), now)
            .await?
            .ok_or_else(|| {
                ApiError::unauthenticated("sign in, or send an API token as \"Authorization: Bearer TOKEN\"")
            })?;
        if let Some(session) = &caller.session
            && !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS)
        {
            if !same_origin(&parts.headers, state.config().public_url.as_deref()) {
                return Err(ApiError::forbidden(
                    "a change made with a session cookie must come from tocsin's own pages, not another site",
                ));
            }
            let sent = csrf_in_form.or_else(|| parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()));
            if !sent.is_some_and(|sent| constant_time_eq(sent.as_bytes(), session.csrf.as_bytes())) {
                return Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "csrf",
                    format!(
                        "a change made with a session cookie needs its CSRF token (the {CSRF_HEADER} header or the form's csrf field)"
                    ),
                ));
            }
        }
        if let Some(permission) = N::PERMISSION
            && !caller.principal.permits(permission)
        {
            let who = match &caller.principal {
                Principal::User { role, .. } => format!("the role {role}"),
                Principal::Token { scopes, .. } => format!("a token with scopes {scopes}"),
            };
            return Err(ApiError::forbidden(format!(
                "this needs the {} permission, which {who} lacks",
                N::WHAT
            )));
        }
        Ok(Allowed {
            caller,
            now,
            state: state.clone(),
            need: PhantomData,
        })
    }
}

/// Whether a browser's request comes from tocsin's own pages. `Sec-Fetch-Site` decides
/// where the browser sends it; otherwise `Origin` must be the public URL's origin (or,
/// without one, the `Host` asked for). A request without either is not from a browser
/// that could be tricked into sending it, and is let through to the CSRF check.
pub fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    let Some(origin) = header(header::ORIGIN) else {
        return true;
    };
    match public_url {
        Some(url) => {
            let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
            let authority = rest.split('/').next().unwrap_or("");
            origin.eq_ignore_ascii_case(&format!("{scheme}://{authority}"))
        }
        None => {
            let host = header(header::HOST).unwrap_or("");
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| !host.is_empty() && authority.eq_ignore_ascii_case(host))
        }
    }
}

/// Compares secrets without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl<N: Need> FromRequestParts<AppState> for Allowed<N> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Allowed::authorize(parts, state, None).await
    }
}
