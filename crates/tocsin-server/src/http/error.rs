//! The one error type of the HTTP API, mapped to status codes in one place.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use tocsin_core::incident::RejectionKind;
use tocsin_store::StoreError;
use utoipa::ToSchema;

use crate::DeskError;
use crate::services::identity::IdentityError;

/// What went wrong, as the client sees it. Internal causes are logged, never returned.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// Seconds to wait, for 429.
    pub retry_after: Option<u64>,
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDoc,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDoc {
    /// Stable and machine-readable: malformed_json, invalid_body, unsupported_media_type,
    /// payload_too_large, invalid_parameter, unauthenticated, forbidden, csrf, not_found,
    /// conflict, busy, invalid, duplicate, throttled, malformed_body, overloaded, stopping,
    /// internal.
    pub code: String,
    /// One line for a person.
    pub message: String,
    #[schema(value_type = Object)]
    pub details: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    pub fn bad_parameter(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn internal(cause: &dyn std::error::Error) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(s) = source {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            source = s.source();
        }
        tracing::error!(cause = %chain, "request failed");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the server log has the cause",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message, "details": self.details}});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tocsin\""),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::IncidentNotFound(_)
            | StoreError::UnknownUser(_)
            | StoreError::UnknownToken(_)
            | StoreError::UnknownIntegration(_) => ApiError::not_found(e.to_string()),
            StoreError::Duplicate(message) => ApiError::new(StatusCode::CONFLICT, "duplicate", message),
            StoreError::Conflict(_) | StoreError::PlanChanged { .. } => {
                ApiError::new(StatusCode::CONFLICT, "busy", e.to_string())
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        match e {
            DeskError::Rejected(r) => match r.kind {
                RejectionKind::Invalid => ApiError::invalid(r.message),
                RejectionKind::Conflict => ApiError::new(StatusCode::CONFLICT, "conflict", r.message),
            },
            DeskError::NotFound(n) => ApiError::not_found(format!("unknown incident {n}")),
            DeskError::Busy(_) | DeskError::PlanMoving => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
            DeskError::Plan(crate::services::plans::PlanProblem::Invalid { origin, text, error }) => {
                let problems: Vec<Value> = error
                    .problems
                    .iter()
                    .map(|p| {
                        let (line, column) = p.position(&text);
                        json!({"line": line, "column": column, "message": p.message, "hint": p.hint})
                    })
                    .collect();
                ApiError::invalid(format!("{origin} is not a valid plan: {} problem(s)", problems.len()))
                    .with_details(json!({"problems": problems}))
            }
            DeskError::Plan(p) => ApiError::invalid(p.to_string()),
            DeskError::Store(s) => s.into(),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> Self {
        match e {
            IdentityError::Invalid(message) => ApiError::invalid(message),
            IdentityError::Unauthenticated(message) => ApiError::unauthenticated(message),
            IdentityError::Throttled { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", e.to_string())
            },
            IdentityError::Store(s) => s.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonSyntaxError(e) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the body is not valid JSON: {}", root_cause(&e)),
            ),
            JsonRejection::JsonDataError(e) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_body",
                format!("the body does not match the schema: {}", root_cause(&e)),
            ),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body is larger than {} bytes", super::BODY_LIMIT),
            ),
            other => ApiError::new(other.status(), "bad_request", other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_parameter(format!("bad query string: {}", root_cause(&rejection)))
    }
}

/// The innermost message: serde's own words, without axum's wrapping.
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut current = e;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
