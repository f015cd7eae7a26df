//! The blocks page: what is blocked, until when and why, what the bouncers last pulled,
//! and, for responders, adding and ending blocks.

use askama::Template;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tocsin_core::Timestamp;

use super::forms::CsrfOnly;
use super::{CsrfForm, Layout, Signed, Submitted, WebError, page};
use crate::http::api::named_incident;
use crate::http::auth::{Allowed, NeedRead, NeedRespond};
use crate::http::error::ApiError;
use crate::phrases::time;
use crate::services::blocks::span;
use crate::services::integrations::IntegrationKind;

struct BlockRow {
    id: i64,
    network: String,
    until: String,
    incident: String,
    by: String,
    reason: String,
    in_force: bool,
}

struct BouncerRow {
    name: String,
    pulled: String,
    agent: String,
}

#[derive(Template)]
#[template(path = "blocks.html")]
struct BlocksPage {
    layout: Layout,
    blocks: Vec<BlockRow>,
    bouncers: Vec<BouncerRow>,
    all: bool,
    problem: String,
    network: String,
    reason: String,
    lasts: String,
    incident: String,
}

#[derive(Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    all: bool,
}

#[derive(Deserialize)]
pub struct BlockForm {
    csrf: String,
    network: String,
    reason: String,
    #[serde(default, rename = "for")]
    lasts: String,
    #[serde(default)]
    incident: String,
}

impl CsrfForm for BlockForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn blocks_page<N>(
    allowed: &Allowed<N>,
    all: bool,
    form: Option<(&BlockForm, String)>,
) -> Result<BlocksPage, ApiError> {
    let reader = allowed.read();
    let zone = reader.plan().calendar().zone().clone();
    let now: Timestamp = allowed.now;
    let blocks = reader
        .blocks(now, all)
        .await?
        .iter()
        .rev()
        .map(|b| BlockRow {
            id: b.id,
            network: b.network.to_string(),
            until: match (&b.removed, b.expires) {
                (Some((by, at)), _) => format!("ended {} by {by}", time(*at, &zone)),
                (None, Some(end)) if end <= now => format!("expired {}", time(end, &zone)),
                (None, Some(end)) => time(end, &zone),
                (None, None) => "until removed".to_owned(),
            },
            incident: b.incident.map(|n| n.to_string()).unwrap_or_default(),
            by: b.created_by.clone(),
            reason: b.reason.clone(),
            in_force: b.in_force(now),
        })
        .collect();
    let states = reader.bouncers().await?;
    let bouncers = reader
        .integrations()
        .await?
        .into_iter()
        .filter(|i| i.kind == IntegrationKind::Bouncer.as_str())
        .map(|i| {
            let pulled = states
                .iter()
                .find(|s| s.integration == i.id)
                .and_then(|s| s.pulled.clone());
            BouncerRow {
                name: i.name,
                pulled: pulled
                    .as_ref()
                    .map_or_else(|| "never".to_owned(), |(at, _)| time(*at, &zone)),
                agent: pulled.map(|(_, agent)| agent).unwrap_or_default(),
            }
        })
        .collect();
    let (problem, network, reason, lasts, incident) = match form {
        Some((f, problem)) => (
            problem,
            f.network.clone(),
            f.reason.clone(),
            f.lasts.clone(),
            f.incident.clone(),
        ),
        None => (
            String::new(),
            String::new(),
            String::new(),
            "24h".to_owned(),
            String::new(),
        ),
    };
    Ok(BlocksPage {
        layout: Layout::new(allowed, "Blocks", "blocks"),
        blocks,
        bouncers,
        all,
        problem,
        network,
        reason,
        lasts,
        incident,
    })
}

pub async fn list(signed: Signed<NeedRead>, Query(query): Query<ListQuery>) -> Result<Response, WebError> {
    Ok(page(StatusCode::OK, &blocks_page(&signed.0, query.all, None).await?))
}

/// A responder adds a block; a refused one is shown again with the problem named.
pub async fn add(submitted: Submitted<NeedRespond, BlockForm>) -> Response {
    let Submitted { allowed, form } = submitted;
    let added = async {
        let lasts = Some(form.lasts.trim())
            .filter(|t| !t.is_empty())
            .map(span)
            .transpose()?;
        let incident = named_incident(Some(form.incident.trim()).filter(|t| !t.is_empty()))?;
        allowed
            .blocks()
            .add(
                &form.network,
                &form.reason,
                incident,
                lasts,
                &allowed.actor(),
                allowed.now,
            )
            .await?;
        Ok::<_, ApiError>(())
    };
    match added.await {
        Ok(()) => Redirect::to("/blocks").into_response(),
        Err(error) => match blocks_page(&allowed, false, Some((&form, error.message.clone()))).await {
            Ok(refused) => page(error.status, &refused),
            Err(e) => WebError::from(e).into_response(),
        },
    }
}

/// A responder ends a block, then sees the list again.
pub async fn remove(Path(id): Path<i64>, submitted: Submitted<NeedRespond, CsrfOnly>) -> Response {
    let allowed = submitted.allowed;
    match allowed.blocks().remove(id, &allowed.actor(), allowed.now).await {
        Ok(_) => Redirect::to("/blocks").into_response(),
        Err(e) => WebError::from(ApiError::from(e)).into_response(),
    }
}
