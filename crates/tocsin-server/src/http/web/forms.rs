//! What the forms post: logging in and out, declaring, and every action on an incident.

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use tocsin_core::Timestamp;
use tocsin_core::incident::Declaration;

use super::pages::NewIncident;
use super::{CsrfForm, Layout, Submitted, WebError, page};
use crate::DeskError;
use crate::http::AppState;
use crate::http::api::{ActionRequest, incident_number};
use crate::http::auth::{NeedAdmin, NeedRespond, SESSION_COOKIE, client_ip, cookie, same_origin};
use crate::http::error::ApiError;
use crate::services::identity::{IdentityError, SESSION_LIFETIME};
use crate::services::plans::{PlanProblem, PlanText};

/// A cookie tocsin sets: its name, path and SameSite rule.
struct CookieKind {
    name: &'static str,
    path: &'static str,
    same_site: &'static str,
}

/// Ties the login form to the browser that loaded it; only the login form needs it.
const LOGIN_COOKIE: CookieKind = CookieKind {
    name: "tocsin_login",
    path: "/login",
    same_site: "Strict",
};

/// The session. Lax, so that links from chat and email to an incident stay signed in.
const SESSION: CookieKind = CookieKind {
    name: SESSION_COOKIE,
    path: "/",
    same_site: "Lax",
};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    csrf: String,
    name: String,
    problem: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextQuery {
    next: String,
}

/// Only paths of this site: never `//elsewhere`, `https://elsewhere`, or a path that a
/// browser reads as another site once it drops tabs and line breaks (`/\t/elsewhere`).
/// What is kept is the path as parsed, so that it always makes a valid header.
fn local_path(next: &str) -> String {
    let plain = !next.contains('\\') && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    let local = next.starts_with('/') && !next.starts_with("//");
    match (plain && local).then(|| next.parse::<axum::http::uri::PathAndQuery>()) {
        Some(Ok(path)) => path.to_string(),
        _ => "/".to_owned(),
    }
}

fn cookie_header(kind: &CookieKind, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let CookieKind { name, path, same_site } = kind;
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}"
    ))
    .expect("cookie values are hex")
}

fn login_form(status: StatusCode, next: &str, name: &str, problem: &str, secure: bool) -> Response {
    let csrf = crate::services::identity::random_token();
    let mut response = page(
        status,
        &LoginPage {
            layout: Layout {
                title: "Log in".into(),
                ..Layout::default()
            },
            next: local_path(next),
            csrf: csrf.clone(),
            name: name.to_owned(),
            problem: problem.to_owned(),
        },
    );
    response
        .headers_mut()
        .append(header::SET_COOKIE, cookie_header(&LOGIN_COOKIE, &csrf, 3_600, secure));
    response
}

pub async fn login_page(State(state): State<AppState>, Query(query): Query<NextQuery>) -> Response {
    login_form(StatusCode::OK, &query.next, "", "", state.config().behind_tls())
}

/// "7 seconds", "15 minutes".
fn wait_in_words(secs: u64) -> String {
    match secs {
        1 => "1 second".to_owned(),
        ..60 => format!("{secs} seconds"),
        _ => match secs.div_ceil(60) {
            1 => "1 minute".to_owned(),
            minutes => format!("{minutes} minutes"),
        },
    }
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    csrf: String,
    #[serde(default)]
    next: String,
}

pub async fn login(State(state): State<AppState>, parts: Parts, Form(form): Form<LoginForm>) -> Response {
    let secure = state.config().behind_tls();
    let from_this_browser = cookie(&parts.headers, LOGIN_COOKIE.name).is_some_and(|c| c == form.csrf);
    if !from_this_browser || !same_origin(&parts.headers, state.config().public_url.as_deref()) {
        return login_form(
            StatusCode::FORBIDDEN,
            &form.next,
            &form.name,
            "The login form expired or came from another site. Please try again.",
            secure,
        );
    }
    let ip = client_ip(&parts, &state);
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = tocsin_core::to_millis(Timestamp::now());
    match state
        .identity()
        .login(&form.name, &form.password, &ip, user_agent, now)
        .await
    {
        Ok((secret, _)) => {
            let mut response = Redirect::to(&local_path(&form.next)).into_response();
            let headers = response.headers_mut();
            headers.append(
                header::SET_COOKIE,
                cookie_header(&SESSION, secret.expose(), SESSION_LIFETIME.as_secs(), secure),
            );
            headers.append(header::SET_COOKIE, cookie_header(&LOGIN_COOKIE, "", 0, secure));
            response
        }
        Err(IdentityError::Throttled { retry_after_secs }) => {
            let mut response = login_form(
                StatusCode::TOO_MANY_REQUESTS,
                &form.next,
                &form.name,
                &format!(
                    "Too many failed logins. Try again in {}.",
                    wait_in_words(retry_after_secs)
                ),
                secure,
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Err(IdentityError::Unauthenticated(message)) => login_form(
            StatusCode::UNAUTHORIZED,
            &form.next,
            &form.name,
            &capitalized(message),
            secure,
        ),
        Err(e) => WebError::from(ApiError::from(e)).into_response(),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

impl CsrfForm for CsrfOnly {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// Ends the session. The form's CSRF token keeps other sites from logging people out.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    _checked: Submitted<crate::http::auth::NeedRead, CsrfOnly>,
) -> Response {
    if let Some(secret) = cookie(&headers, SESSION.name)
        && let Err(e) = state.identity().logout(secret).await
    {
        return WebError::from(ApiError::from(e)).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        cookie_header(&SESSION, "", 0, state.config().behind_tls()),
    );
    response
}

#[derive(Deserialize)]
pub struct DeclareForm {
    csrf: String,
    title: String,
    #[serde(default)]
    summary: String,
    severity: String,
    #[serde(default)]
    personal_data: Option<String>,
    /// yes, no or unknown.
    #[serde(default)]
    customers: Option<String>,
}

impl CsrfForm for DeclareForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

pub async fn declare(submitted: Submitted<NeedRespond, DeclareForm>) -> Response {
    let Submitted { allowed, form } = submitted;
    let customers = match form.customers.as_deref().map(str::parse).transpose() {
        Ok(customers) => customers,
        Err(message) => return WebError::from(ApiError::invalid(message)).into_response(),
    };
    let declaration = Declaration {
        title: form.title.clone(),
        summary: form.summary.clone(),
        severity: form.severity.clone(),
        personal_data: form.personal_data.is_some(),
        customers,
        ..Declaration::default()
    };
    let desk = allowed.desk();
    match desk.declare(&declaration, &allowed.actor(), None, allowed.now).await {
        Ok(view) => {
            allowed.changed(view.incident.number);
            Redirect::to(&format!("/incidents/{}", view.incident.number)).into_response()
        }
        Err(e) => {
            let error = ApiError::from(e);
            let layout = Layout::new(&allowed, "Declare an incident", "new");
            page(
                error.status,
                &NewIncident::new(
                    layout,
                    &desk.plan(),
                    &form.severity,
                    form.title,
                    form.summary,
                    error.message,
                ),
            )
        }
    }
}

/// Any action of the incident page. Its fields become the API's action request, so the
/// browser and the API accept exactly the same changes.
#[derive(Deserialize)]
pub struct ActForm {
    csrf: String,
    #[serde(flatten)]
    pub(super) fields: BTreeMap<String, String>,
}

impl CsrfForm for ActForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn action_request(fields: BTreeMap<String, String>) -> Result<ActionRequest, String> {
    let mut object = Map::new();
    let mut roles = Map::new();
    let role = fields.get("role").cloned();
    for (key, value) in fields {
        let value = value.trim().to_owned();
        match key.as_str() {
            "role" => {}
            "person" => {
                if let Some(role) = &role {
                    roles.insert(role.clone(), Value::String(value));
                }
            }
            "item" => {
                let n: u32 = value
                    .parse()
                    .map_err(|_| format!("checklist item \"{value}\" is not a number"))?;
                object.insert(key, Value::from(n));
            }
            "affected_customers" | "affected_data_subjects" if !value.is_empty() => {
                let n: u64 = value
                    .parse()
                    .map_err(|_| format!("{} \"{value}\" is not a count", key.replace('_', " ")))?;
                object.insert(key, Value::from(n));
            }
            // An empty optional field is no value, except the owner, which it clears.
            _ if value.is_empty() && key != "owner" => {}
            _ => {
                object.insert(key, Value::String(value));
            }
        }
    }
    if !roles.is_empty() {
        object.insert("roles".into(), Value::Object(roles));
    }
    serde_json::from_value(Value::Object(object)).map_err(|e| format!("the form is incomplete: {e}"))
}

pub async fn act(Path(id): Path<String>, submitted: Submitted<NeedRespond, ActForm>) -> Response {
    let Submitted { allowed, form } = submitted;
    let result = async {
        let number = incident_number(&id)?;
        let request = action_request(form.fields).map_err(ApiError::invalid)?;
        let (command, at) = request.command();
        allowed
            .desk()
            .act(number, &command, &allowed.actor(), at, allowed.now)
            .await?;
        Ok(None)
    }
    .await;
    super::pages::after(&allowed, &id, result).await
}

/// Puts a dead notification back in line, then shows the outbox again.
pub async fn resend(Path(id): Path<i64>, submitted: Submitted<NeedRespond, CsrfOnly>) -> Response {
    let store = submitted.allowed.outbox();
    match store.resend(id, submitted.allowed.now).await {
        Ok(true) => Redirect::to("/outbox").into_response(),
        Ok(false) => WebError::from(ApiError::new(
            StatusCode::CONFLICT,
            "not_dead",
            format!("notification {id} is not dead, or does not exist"),
        ))
        .into_response(),
        Err(e) => WebError::from(ApiError::from(e)).into_response(),
    }
}

#[derive(Deserialize)]
pub struct PlanForm {
    csrf: String,
    text: String,
}

impl CsrfForm for PlanForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// An admin applies a new plan version; a refused one is shown again with its problems.
pub async fn apply_plan(submitted: Submitted<NeedAdmin, PlanForm>) -> Response {
    let text = PlanText::new(submitted.form.text.replace("\r\n", "\n"), "the web UI");
    let problems = match submitted.allowed.apply_plan(&text).await {
        Ok(_) => return Redirect::to("/plan").into_response(),
        Err(DeskError::Plan(PlanProblem::Invalid { origin, text, error })) => {
            error.problems.iter().map(|p| p.render(&origin, &text)).collect()
        }
        Err(e) => return WebError::from(ApiError::from(e)).into_response(),
    };
    match super::pages::plan_page(&submitted.allowed, Some(text.text), problems).await {
        Ok(refused) => page(StatusCode::UNPROCESSABLE_ENTITY, &refused),
        Err(e) => WebError::from(e).into_response(),
    }
}
