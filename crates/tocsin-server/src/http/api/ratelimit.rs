//! `POST /api/v1/ratelimit/check`: may this key do this now, under the plan's policy?
// The OpenAPI macros expand `params(...)` to paths they qualify themselves.
#![allow(unused_qualifications)]

use axum::extract::rejection::JsonRejection;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tocsin_core::event::{Decision, Event, RateLimitEvent, Source};
use tocsin_store::events::NewEvent;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::Ingester;
use crate::http::error::{ApiError, ErrorBody};

pub fn routes() -> Router<AppState> {
    Router::new().route("/ratelimit/check", post(check))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// What is limited, like `203.0.113.5:ann` for logins per address and account.
    key: String,
    /// A policy of the plan: login, password_reset, api_key, or one the plan adds.
    policy: String,
    /// The client's address, recorded with a denial. An address that tocsin blocks is
    /// denied whatever the policy allows.
    ip: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckDoc {
    /// allow or deny.
    decision: String,
    policy: String,
    key: String,
    /// Requests per period the policy allows.
    limit: u32,
    /// Requests that would still pass now.
    remaining: u32,
    /// When denied, seconds until one would pass (also the Retry-After header).
    retry_after: u64,
    /// Seconds until the key is back to its full allowance.
    reset_after: u64,
    /// The block that denies the address, when one does (`tocsin block list`).
    #[serde(skip_serializing_if = "Option::is_none")]
    blocked: Option<i64>,
}

/// How long a client of an address blocked without an end is told to wait.
const BLOCKED_RETRY: u64 = 24 * 3600;

/// Checks one request against a rate-limit policy of the plan, with the generic cell rate
/// algorithm. The answer is 200 either way; a denial carries `Retry-After` and is
/// recorded as a rate_limit event, which the detectors watch.
#[utoipa::path(post, path = "/api/v1/ratelimit/check", tag = "events", request_body = CheckRequest,
    responses((status = 200, body = CheckDoc), (status = 422, body = ErrorBody)),
    security(("bearer" = ["ingest"])))]
async fn check(ingester: Ingester, body: Result<Json<CheckRequest>, JsonRejection>) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let plan = &ingester.read().plan();
    let Some(policy) = plan.rate_limit(&request.policy) else {
        let known: Vec<&str> = plan.rate_limits().iter().map(|p| p.name.as_str()).collect();
        return Err(ApiError::invalid(format!(
            "unknown policy \"{}\"; the plan has {}",
            request.policy,
            known.join(", ")
        )));
    };
    if request.key.trim().is_empty() || request.key.len() > 512 {
        return Err(ApiError::invalid("key must be 1 to 512 bytes"));
    }
    let now = ingester.now;
    let address = request
        .ip
        .as_deref()
        .and_then(|ip| ip.trim().parse::<std::net::IpAddr>().ok());
    if let Some(address) = address {
        let blocks = ingester.blocked(address).await?;
        if let Some(block) = blocks.first() {
            // Until the last of them ends; a block without an end asks for a day.
            let retry_after = blocks
                .iter()
                .map(|b| {
                    b.expires.map_or(BLOCKED_RETRY, |end| {
                        u64::try_from(end.as_millisecond() - now.as_millisecond())
                            .unwrap_or(0)
                            .div_ceil(1000)
                    })
                })
                .max()
                .unwrap_or(BLOCKED_RETRY)
                .max(1);
            let doc = CheckDoc {
                decision: "deny".to_owned(),
                policy: policy.name.clone(),
                key: request.key,
                limit: policy.limit,
                remaining: 0,
                retry_after,
                reset_after: retry_after,
                blocked: Some(block.id),
            };
            let mut response = Json(doc).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            return Ok(response);
        }
    }
    let verdict = ingester.limiter().check(policy, &request.key, now.as_millisecond());
    if !verdict.allowed {
        let event = Event::RateLimit(RateLimitEvent {
            at: now,
            key: request.key.clone(),
            policy: policy.name.clone(),
            decision: Decision::Deny,
            source: request
                .ip
                .as_deref()
                .map(str::trim)
                .filter(|ip| !ip.is_empty())
                .map(Source::parse),
        });
        let log = ingester.events().clone();
        let record = NewEvent::new(event, "ratelimit", now);
        // The answer does not wait for the record; a record that cannot be written is logged.
        tokio::spawn(async move {
            if let Err(e) = log.append(vec![record]).await {
                tracing::warn!(error = %e, "a rate-limit denial could not be recorded");
            }
        });
    }
    let seconds = |ms: i64| u64::try_from(ms.max(0)).unwrap_or(0).div_ceil(1000);
    let doc = CheckDoc {
        decision: if verdict.allowed { "allow" } else { "deny" }.to_owned(),
        policy: policy.name.clone(),
        key: request.key,
        limit: policy.limit,
        remaining: verdict.remaining,
        retry_after: seconds(verdict.retry_after_ms),
        reset_after: seconds(verdict.reset_after_ms),
        blocked: None,
    };
    let retry_after = doc.retry_after;
    let mut response = Json(doc).into_response();
    if !verdict.allowed {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    }
    Ok(response)
}
