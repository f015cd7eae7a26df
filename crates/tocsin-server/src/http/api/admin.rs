//! `/api/v1` for admins: users, API tokens and the login trail.
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tocsin_core::Timestamp;
use tocsin_core::event::AuthOutcome;
use tocsin_core::identity::{Role, Scopes};
use tocsin_store::events::{TrailCursor, TrailFilter};
use tocsin_store::identity::UserChange;
use utoipa::{IntoParams, ToSchema};

use super::Page;
use crate::documents::{LoginDoc, TokenDoc, UserDoc};
use crate::http::AppState;
use crate::http::auth::Administrator;
use crate::http::error::{ApiError, ErrorBody};
use crate::services::identity::Secret;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list_users).post(add_user))
        .route("/users/{name}", patch(change_user))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{token}", delete(revoke_token))
        .route("/logins", get(list_logins))
}

/// All users.
#[utoipa::path(get, path = "/api/v1/users", tag = "identity",
    responses((status = 200, body = Vec<UserDoc>), (status = 403, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
async fn list_users(admin: Administrator) -> Result<Json<Vec<UserDoc>>, ApiError> {
    Ok(Json(admin.identity().users().await?.iter().map(UserDoc::of).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    name: String,
    /// viewer, responder or admin.
    #[schema(value_type = String)]
    role: Role,
    /// At least 12 characters. Without one, a random password is made and returned once.
    password: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct NewUserDoc {
    user: UserDoc,
    /// The generated password, shown this once; absent when one was given.
    password: Option<String>,
}

/// Adds a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "identity", request_body = NewUserRequest,
    responses((status = 201, body = NewUserDoc), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
async fn add_user(
    admin: Administrator,
    body: Result<Json<NewUserRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<NewUserDoc>), ApiError> {
    let Json(body) = body?;
    let password = body.password.map(Secret::new);
    let (user, generated) = admin
        .identity()
        .add_user(&body.name, body.role, password.as_ref(), &admin.actor(), admin.now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewUserDoc {
            user: UserDoc::of(&user),
            password: generated.map(|s| s.expose().to_owned()),
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChangeRequest {
    #[schema(value_type = Option<String>)]
    role: Option<Role>,
    disabled: Option<bool>,
    /// A new password; ends the user's sessions.
    password: Option<String>,
}

/// Changes a user's role, password, or whether they may log in.
#[utoipa::path(patch, path = "/api/v1/users/{name}", tag = "identity", request_body = UserChangeRequest,
    params(("name" = String, Path)),
    responses((status = 200, body = UserDoc), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
async fn change_user(
    admin: Administrator,
    Path(name): Path<String>,
    body: Result<Json<UserChangeRequest>, JsonRejection>,
) -> Result<Json<UserDoc>, ApiError> {
    let Json(body) = body?;
    // Checked before anything is applied, so that a refused password changes nothing else.
    if let Some(password) = &body.password {
        tocsin_core::identity::check_new_password(password).map_err(|e| ApiError::invalid(e.to_string()))?;
    }
    let changes: Vec<UserChange> = [
        body.role.map(UserChange::Role),
        body.disabled.map(UserChange::Disabled),
        body.password.map(UserChange::Password),
    ]
    .into_iter()
    .flatten()
    .collect();
    if changes.is_empty() {
        return Err(ApiError::invalid("nothing to change: give role, disabled or password"));
    }
    let mut user = None;
    for change in changes {
        user = Some(
            admin
                .identity()
                .change_user(&name, change, &admin.actor(), admin.now)
                .await?,
        );
    }
    Ok(Json(UserDoc::of(&user.expect("at least one change"))))
}

/// All tokens, revoked ones included. The tokens themselves are never shown again.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "identity",
    responses((status = 200, body = Vec<TokenDoc>)),
    security(("bearer" = ["admin"]), ("session" = [])))]
async fn list_tokens(admin: Administrator) -> Result<Json<Vec<TokenDoc>>, ApiError> {
    Ok(Json(
        admin.identity().tokens().await?.iter().map(TokenDoc::of).collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenRequest {
    name: String,
    /// Comma-separated: read, respond, ingest, admin.
    scopes: String,
    expires_at: Option<Timestamp>,
}

#[derive(Serialize, ToSchema)]
pub struct NewTokenDoc {
    #[serde(flatten)]
    token: TokenDoc,
    /// The token itself, shown this once.
    secret: String,
}

/// Creates an API token.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "identity", request_body = NewTokenRequest,
    responses((status = 201, body = NewTokenDoc), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
async fn create_token(
    admin: Administrator,
    body: Result<Json<NewTokenRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<NewTokenDoc>), ApiError> {
    let Json(body) = body?;
    let scopes: Scopes = body.scopes.parse().map_err(ApiError::invalid)?;
    let (token, secret) = admin
        .identity()
        .create_token(&body.name, scopes, body.expires_at, &admin.actor(), admin.now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewTokenDoc {
            token: TokenDoc::of(&token),
            secret: secret.expose().to_owned(),
        }),
    ))
}

/// Revokes a token by name or id; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{token}", tag = "identity",
    params(("token" = String, Path, description = "the token's name or id")),
    responses((status = 200, body = TokenDoc), (status = 404, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
async fn revoke_token(admin: Administrator, Path(token): Path<String>) -> Result<Json<TokenDoc>, ApiError> {
    let revoked = admin.identity().revoke_token(&token, &admin.actor(), admin.now).await?;
    Ok(Json(TokenDoc::of(&revoked)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LoginQuery {
    /// Only attempts from this address.
    ip: Option<String>,
    /// Only attempts with this user name, as given.
    user: Option<String>,
    /// success or failure.
    outcome: Option<String>,
    /// Only attempts at or after this time.
    since: Option<Timestamp>,
    /// Only attempts before this time.
    until: Option<Timestamp>,
    cursor: Option<String>,
    /// 1 to 500, default 50.
    limit: Option<u32>,
}

/// The login trail: every authentication attempt tocsin knows of, at tocsin itself and
/// at the services whose events and logs it reads; newest first.
#[utoipa::path(get, path = "/api/v1/logins", tag = "identity", params(LoginQuery),
    responses((status = 200, body = Page<LoginDoc>), (status = 400, body = ErrorBody)),
    security(("bearer" = ["admin"]), ("session" = [])))]
async fn list_logins(
    admin: Administrator,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Result<Json<Page<LoginDoc>>, ApiError> {
    let Query(query) = query?;
    let limit = super::page_size(query.limit)?;
    let outcome = query
        .outcome
        .as_deref()
        .map(|o| match o {
            "success" => Ok(AuthOutcome::Success),
            "failure" => Ok(AuthOutcome::Failure),
            other => Err(ApiError::bad_parameter(format!(
                "unknown outcome \"{other}\"; choose success or failure"
            ))),
        })
        .transpose()?;
    let after = query
        .cursor
        .as_deref()
        .map(|c| {
            TrailCursor::decode(c)
                .ok_or_else(|| ApiError::bad_parameter(format!("cursor \"{c}\" was not given by this API")))
        })
        .transpose()?;
    let filter = TrailFilter {
        ip: query.ip,
        user: query.user,
        outcome,
        since: query.since,
        until: query.until,
        after,
        limit: limit + 1,
    };
    let attempts = admin.login_trail(&filter).await?;
    Ok(Json(Page::cut(
        attempts,
        limit as usize,
        |e| TrailCursor::of(e).encode(),
        |e| LoginDoc::of(e).expect("the trail holds auth events"),
    )))
}
