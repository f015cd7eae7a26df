//! The responders' web UI: server-rendered pages, forms for every action, one small script.
//!
//! Pages use the same authorization as the API ([`Allowed`]); a form proves it came from
//! tocsin with the session's CSRF token in its `csrf` field.

mod approve;
mod audits;
mod blocks;
mod breaches;
mod forms;
mod integrations;
mod live;
mod notices;
mod pages;
mod probes;
mod runs;
mod switches;
mod views;

use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::de::DeserializeOwned;

use super::AppState;
use super::auth::{Allowed, Need};
use super::error::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::dashboard))
        .route("/login", get(forms::login_page).post(forms::login))
        .route("/logout", post(forms::logout))
        .route("/approve/{secret}", get(approve::show).post(approve::approve))
        .route("/incidents", get(pages::incidents).post(forms::declare))
        .route("/incidents/new", get(pages::new_incident))
        .route("/incidents/{id}", get(pages::incident))
        .route("/incidents/{id}/act", post(forms::act))
        .route("/incidents/{id}/runs", post(runs::request))
        .route("/incidents/{id}/runs/{run}/{what}", post(runs::decide))
        .route("/incidents/{id}/evidence", post(runs::note))
        .route("/incidents/{id}/notices", post(notices::draft))
        .route(
            "/incidents/{id}/notices/{notice}",
            get(notices::show).post(notices::act),
        )
        .route("/incidents/{id}/recipients", post(notices::recipients))
        .route("/plan", get(pages::plan).post(forms::apply_plan))
        .route("/signals", get(pages::signals))
        .route("/log/{seq}", get(pages::event))
        .route("/logins", get(pages::logins))
        .route("/outbox", get(pages::outbox))
        .route("/maintenance", get(switches::show))
        .route("/maintenance/{what}/{name}", post(switches::switch))
        .route("/breaches", get(breaches::show))
        .route("/daily-audit", get(audits::latest))
        .route("/daily-audit/run", post(audits::run))
        .route("/daily-audit/{id}", get(audits::show))
        .route("/probes", get(probes::list))
        .route("/probes/{id}", get(probes::show))
        .route("/blocks", get(blocks::list).post(blocks::add))
        .route("/blocks/{id}/remove", post(blocks::remove))
        .route("/integrations", get(integrations::list))
        .route("/integrations/{name}", get(integrations::show))
        .route("/outbox/{id}/retry", post(forms::resend))
        .route("/events", get(live::events))
        .route("/static/app.css", get(live::stylesheet))
        .route("/static/app.js", get(live::script))
}

/// What every page's frame shows: who is signed in, and the token its forms carry.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub title: String,
    pub user: String,
    pub role: String,
    pub csrf: String,
    /// The section of the navigation to highlight.
    pub section: &'static str,
    pub may_respond: bool,
    pub may_admin: bool,
}

impl Layout {
    /// Names the assets, so that an upgrade loads new ones.
    pub fn version(&self) -> &'static str {
        env!("CARGO_PKG_VERSION")
    }

    fn new<N>(allowed: &Allowed<N>, title: impl Into<String>, section: &'static str) -> Self {
        use crate::services::identity::Principal;
        let (user, role) = match &allowed.caller.principal {
            Principal::User { name, role, .. } => (name.to_string(), role.to_string()),
            Principal::Token { name, .. } => (format!("token {name}"), "token".into()),
        };
        Layout {
            title: title.into(),
            user,
            role,
            csrf: allowed
                .caller
                .session
                .as_ref()
                .map(|s| s.csrf.clone())
                .unwrap_or_default(),
            section,
            may_respond: allowed
                .caller
                .principal
                .permits(tocsin_core::identity::Permission::Respond),
            may_admin: allowed
                .caller
                .principal
                .permits(tocsin_core::identity::Permission::Admin),
        }
    }
}

/// Renders a template as a page.
fn page(status: StatusCode, template: &impl Template) -> Response {
    match template.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page failed to render; the server log has the cause",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    message: String,
}

/// A refusal as a page: to the login page when not signed in, else the message.
#[derive(Debug)]
pub struct WebError {
    error: ApiError,
    /// Where to come back to after logging in.
    back: String,
}

impl WebError {
    fn new(error: ApiError, parts: &Parts) -> Self {
        WebError {
            error,
            back: back_to(parts),
        }
    }
}

/// Where to go after logging in: the page asked for again, but never a form sent again.
fn back_to(parts: &Parts) -> String {
    match parts.method {
        axum::http::Method::GET => parts.uri.path_and_query().map_or("/".into(), ToString::to_string),
        _ => "/".into(),
    }
}

impl From<ApiError> for WebError {
    fn from(error: ApiError) -> Self {
        WebError {
            error,
            back: "/".into(),
        }
    }
}

impl From<crate::DeskError> for WebError {
    fn from(e: crate::DeskError) -> Self {
        ApiError::from(e).into()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if self.error.status == StatusCode::UNAUTHORIZED {
            let target = format!("/login?next={}", encode(&self.back));
            return Redirect::to(&target).into_response();
        }
        let mut response = page(
            self.error.status,
            &ErrorPage {
                layout: Layout {
                    title: "Not possible".into(),
                    ..Layout::default()
                },
                status: self.error.status.as_u16(),
                message: self.error.message,
            },
        );
        if let Some(seconds) = self.error.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A signed-in page request allowed to do what `N` names.
#[derive(Debug)]
pub struct Signed<N>(pub Allowed<N>);

impl<N: Need> FromRequestParts<AppState> for Signed<N> {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Allowed::authorize(parts, state, None)
            .await
            .map(Signed)
            .map_err(|e| WebError::new(e, parts))
    }
}

/// A form that carries the session's CSRF token.
pub trait CsrfForm {
    fn csrf(&self) -> &str;
}

/// A submitted form, authorized for `N` once its CSRF token matched.
#[derive(Debug)]
pub struct Submitted<N, T> {
    pub allowed: Allowed<N>,
    pub form: T,
}

impl<N: Need, T: DeserializeOwned + CsrfForm + Send> FromRequest<AppState> for Submitted<N, T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| WebError::new(ApiError::new(e.status(), "invalid_body", e.body_text()), &parts))?;
        let allowed = Allowed::authorize(&parts, state, Some(form.csrf()))
            .await
            .map_err(|error| WebError::new(error, &parts))?;
        Ok(Submitted { allowed, form })
    }
}

/// The escaper of every page (see `askama.toml`): HTML's, and control characters and
/// text-direction marks written out as `\u{1b}`, as the command line writes them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Printable;

impl askama::filters::Escaper for Printable {
    fn write_escaped_str<W: std::fmt::Write>(&self, mut dest: W, string: &str) -> std::fmt::Result {
        let mut rest = string;
        while let Some(at) = rest.find(hidden) {
            askama::filters::Html.write_escaped_str(&mut dest, &rest[..at])?;
            let c = rest[at..].chars().next().expect("found");
            write!(dest, "{}", c.escape_unicode())?;
            rest = &rest[at + c.len_utf8()..];
        }
        askama::filters::Html.write_escaped_str(dest, rest)
    }
}

/// Characters that move or hide text: controls other than line breaks and tabs, and the
/// marks that change its direction.
fn hidden(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}
