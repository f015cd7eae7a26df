//! Running one of the plan's probes once: what it found, how long it took, and why it
//! failed (http, tcp, dns A and AAAA, postgres). The worker that runs them on their
//! schedule comes on top of this.

use std::time::{Duration, Instant};

use serde::Serialize;
use tocsin_core::plan::{Probe, ProbeKind};

/// What one run of a probe found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeResult {
    pub probe: String,
    pub ok: bool,
    /// How long it took, to the answer or the failure.
    pub latency_ms: u64,
    /// What it saw, like `HTTP 200` or `connected`.
    pub detail: String,
    /// Why it failed.
    pub error: Option<String>,
}

/// Runs `probe` once with `client` (for http), within its timeout.
pub async fn run(probe: &Probe, client: &reqwest::Client) -> ProbeResult {
    let started = Instant::now();
    let timeout = Duration::from_secs(probe.timeout_seconds);
    let checked = match tokio::time::timeout(timeout, check(probe, client, timeout)).await {
        Ok(checked) => checked,
        Err(_) => Err((String::new(), format!("no answer within {} s", probe.timeout_seconds))),
    };
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let (detail, error) = match checked {
        Ok(detail) => match probe.max_latency_ms {
            Some(max) if latency_ms > max => (detail, Some(format!("took {latency_ms} ms, more than {max} ms"))),
            _ => (detail, None),
        },
        Err((detail, error)) => (detail, Some(error)),
    };
    ProbeResult {
        probe: probe.id.to_string(),
        ok: error.is_none(),
        latency_ms,
        detail,
        error,
    }
}

/// What the probe saw, or (what it saw, why that fails).
async fn check(probe: &Probe, client: &reqwest::Client, timeout: Duration) -> Result<String, (String, String)> {
    let nothing = |error: String| (String::new(), error);
    match &probe.kind {
        ProbeKind::Http {
            url,
            method,
            headers,
            body,
            status,
            json,
            cert_days,
        } => {
            if cert_days.is_some() {
                return Err(nothing("checking a certificate's days left is not built yet".into()));
            }
            let method = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|_| nothing(format!("\"{method}\" is not an HTTP method")))?;
            let mut request = client.request(method, url).timeout(timeout);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            if let Some(body) = body {
                request = request.body(body.clone());
            }
            let response = request.send().await.map_err(|e| {
                let mut text = if e.is_timeout() {
                    "timed out".to_owned()
                } else if e.is_connect() {
                    "cannot connect".to_owned()
                } else {
                    "request failed".to_owned()
                };
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    text.push_str(&format!(": {cause}"));
                    source = cause.source();
                }
                nothing(text)
            })?;
            let code = response.status().as_u16();
            let detail = format!("HTTP {code}");
            if !status.iter().any(|p| p.matches(code)) {
                return Err((detail.clone(), format!("{detail} is not an expected status")));
            }
            if let Some((pointer, equals)) = json {
                let text = response
                    .text()
                    .await
                    .map_err(|e| (detail.clone(), format!("the body cannot be read: {e}")))?;
                let value: serde_json::Value =
                    serde_json::from_str(&text).map_err(|_| (detail.clone(), "the body is not JSON".to_owned()))?;
                let found = match value.pointer(pointer) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => return Err((detail.clone(), format!("the body has nothing at {pointer}"))),
                };
                if &found != equals {
                    return Err((detail.clone(), format!("{pointer} is \"{found}\", not \"{equals}\"")));
                }
            }
            Ok(detail)
        }
        ProbeKind::Tcp { target } => match tokio::net::TcpStream::connect(target.as_str()).await {
            Ok(_) => Ok("connected".to_owned()),
            Err(e) => Err(nothing(format!("cannot connect to {target}: {e}"))),
        },
        ProbeKind::Dns { name, record, expect } if record == "A" || record == "AAAA" => {
            let found: Vec<std::net::IpAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await
                .map_err(|e| nothing(format!("cannot resolve {name}: {e}")))?
                .map(|a| a.ip())
                .filter(|ip| ip.is_ipv4() == (record == "A"))
                .collect();
            if found.is_empty() {
                return Err(nothing(format!("{name} has no {record} record")));
            }
            let detail = found.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            match expect.iter().find(|e| !found.iter().any(|ip| ip.to_string() == **e)) {
                Some(missing) => Err((detail, format!("{name} does not answer {missing}"))),
                None => Ok(detail),
            }
        }
        ProbeKind::Postgres => {
            let secret = probe
                .secret
                .as_ref()
                .ok_or_else(|| nothing("a postgres probe needs its connection URL as a secret".into()))?;
            let url = crate::services::actions::read_secret(secret).map_err(nothing)?;
            postgres(&url).await.map_err(nothing)
        }
        other => Err(nothing(format!("running {} probes is not built yet", describe(other)))),
    }
}

fn describe(kind: &ProbeKind) -> String {
    match kind {
        ProbeKind::Dns { record, .. } => format!("dns {record}"),
        other => other.as_str().to_owned(),
    }
}

/// Where a probe looks, in a few words: its URL, host and port, or record.
pub fn target(probe: &Probe) -> String {
    match &probe.kind {
        ProbeKind::Http { method, url, .. } => format!("{method} {url}"),
        ProbeKind::Tcp { target } | ProbeKind::Tls { target, .. } => target.clone(),
        ProbeKind::Dns { name, record, .. } => format!("{record} {name}"),
        ProbeKind::Postgres => "the database in its secret".to_owned(),
    }
}

/// Connects to the database at `url` and runs `select 1`. The error leaves the URL out: it
/// holds the credentials.
async fn postgres(url: &str) -> Result<String, String> {
    use sqlx::{Connection, Row};
    let mut connection = sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| format!("cannot connect to the database: {}", without_url(&e.to_string(), url)))?;
    let row = sqlx::query("select 1")
        .fetch_one(&mut connection)
        .await
        .map_err(|e| format!("select 1 failed: {e}"))?;
    let one: i32 = row.try_get(0).map_err(|e| format!("select 1 answered oddly: {e}"))?;
    let _ = connection.close().await;
    match one {
        1 => Ok("select 1 answered".to_owned()),
        other => Err(format!("select 1 answered {other}")),
    }
}

fn without_url(text: &str, url: &str) -> String {
    text.replace(url, "[the database URL]")
}
