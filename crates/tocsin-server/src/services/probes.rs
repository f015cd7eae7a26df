//! Running one of the plan's probes once: what it found, how long it took, and why it
//! failed (http with its certificate's days left, tcp, tls, dns A and AAAA, postgres).
//! The worker that runs them on their schedule comes on top of this.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tocsin_core::Timestamp;
use tocsin_core::plan::{Probe, ProbeKind};

/// What probes run with, made once and shared: an HTTP client and a TLS configuration for
/// the system's certificate authorities, and one more of each per CA file the plan names.
/// Cloning shares them.
#[derive(Clone, Default)]
pub struct Prober {
    clients: Arc<Mutex<HashMap<Option<String>, reqwest::Client>>>,
    tls: Arc<Mutex<HashMap<Option<String>, Arc<rustls::ClientConfig>>>>,
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Prober")
    }
}

impl Prober {
    /// The HTTP client for probes trusting `ca` besides the system: a fresh connection
    /// for every request, so that each run checks connecting too, and the certificate
    /// kept for `cert_days`.
    fn client(&self, ca: Option<&str>) -> Result<reqwest::Client, String> {
        let mut clients = self.clients.lock().expect("the probes' clients");
        if let Some(client) = clients.get(&ca.map(str::to_owned)) {
            return Ok(client.clone());
        }
        tocsin_notify::use_ring();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("tocsin-probe/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(0)
            .tls_info(true);
        if let Some(path) = ca {
            let pem = read_ca(path)?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("the CA file {path} holds no certificate tocsin can read: {e}"))?;
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot make an HTTP client: {e}"))?;
        clients.insert(ca.map(str::to_owned), client.clone());
        Ok(client)
    }

    /// The TLS configuration trusting the system's authorities and `ca`.
    fn tls_config(&self, ca: Option<&str>) -> Result<Arc<rustls::ClientConfig>, String> {
        let mut configs = self.tls.lock().expect("the probes' TLS configurations");
        if let Some(config) = configs.get(&ca.map(str::to_owned)) {
            return Ok(Arc::clone(config));
        }
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = ca {
            use rustls::pki_types::pem::PemObject;
            let pem = read_ca(path)?;
            let mut added = 0;
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("the CA file {path} is not PEM: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("the CA file {path} holds a certificate rustls refuses: {e}"))?;
                added += 1;
            }
            if added == 0 {
                return Err(format!("the CA file {path} holds no certificate"));
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let config = Arc::new(config);
        configs.insert(ca.map(str::to_owned), Arc::clone(&config));
        Ok(config)
    }
}

fn read_ca(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the CA file {path}: {e}"))
}

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

/// Runs `probe` once, within its timeout.
pub async fn run(probe: &Probe, prober: &Prober) -> ProbeResult {
    let started = Instant::now();
    let timeout = Duration::from_secs(probe.timeout_seconds);
    let checked = match tokio::time::timeout(timeout, check(probe, prober, timeout)).await {
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
async fn check(probe: &Probe, prober: &Prober, timeout: Duration) -> Result<String, (String, String)> {
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
            let client = prober.client(probe.ca.as_deref()).map_err(nothing)?;
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
            let mut detail = format!("HTTP {code}");
            if !status.iter().any(|p| p.matches(code)) {
                return Err((detail.clone(), format!("{detail} is not an expected status")));
            }
            if let Some(least) = cert_days {
                let leaf = response
                    .extensions()
                    .get::<reqwest::tls::TlsInfo>()
                    .and_then(|info| info.peer_certificate())
                    .ok_or_else(|| {
                        (
                            detail.clone(),
                            "the answer came without a certificate: is the URL https?".to_owned(),
                        )
                    })?;
                let (left, shown) = days_left(leaf).map_err(|e| (detail.clone(), e))?;
                detail = format!("{detail}, {shown}");
                if left < i64::from(*least) {
                    return Err((
                        detail.clone(),
                        format!("the certificate has {left} days left, fewer than {least}"),
                    ));
                }
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
        ProbeKind::Tls { target, cert_days } => {
            let config = prober.tls_config(probe.ca.as_deref()).map_err(nothing)?;
            tls(target, *cert_days, config).await
        }
        ProbeKind::Dns {
            name,
            record,
            expect,
            server,
        } => {
            let found = dns(name, record, server.as_deref()).await.map_err(nothing)?;
            if found.is_empty() {
                return Err(nothing(format!("{name} has no {record} record")));
            }
            let detail = found.join(", ");
            let holds = |e: &str| {
                let e = e.trim_end_matches('.');
                found.iter().any(|f| match record.as_str() {
                    "TXT" => f.contains(e),
                    "MX" => {
                        f.eq_ignore_ascii_case(e)
                            || f.split_once(' ').is_some_and(|(_, host)| host.eq_ignore_ascii_case(e))
                    }
                    "CNAME" => f.eq_ignore_ascii_case(e),
                    _ => f.parse::<std::net::IpAddr>().ok() == e.parse().ok(),
                })
            };
            match expect.iter().find(|e| !holds(e)) {
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
    }
}

/// The answers for `name`'s `record`s: of `server` when given; else A and AAAA as the
/// system resolves them (hosts file included), the rest from the system's nameserver.
async fn dns(name: &str, record: &str, server: Option<&str>) -> Result<Vec<String>, String> {
    let server = match server {
        Some(server) => server
            .parse()
            .map_err(|_| format!("server \"{server}\" is not ip:port"))?,
        None if record == "A" || record == "AAAA" => {
            let found = tokio::net::lookup_host((name, 0))
                .await
                .map_err(|e| format!("cannot resolve {name}: {e}"))?;
            let mut ips: Vec<std::net::IpAddr> = found
                .map(|a| a.ip())
                .filter(|ip| ip.is_ipv4() == (record == "A"))
                .collect();
            ips.dedup();
            return Ok(ips.iter().map(ToString::to_string).collect());
        }
        None => crate::services::dns::system_server()?,
    };
    crate::services::dns::lookup(server, name, record)
        .await
        .map_err(|e| format!("cannot resolve {name} {record} at {server}: {e}"))
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

/// A TLS handshake with `target`, a chain `config` trusts for its host name, and a
/// certificate with at least `least` days left.
async fn tls(target: &str, least: u32, config: Arc<rustls::ClientConfig>) -> Result<String, (String, String)> {
    let nothing = |error: String| (String::new(), error);
    let host = target.rsplit_once(':').map_or(target, |(host, _)| host);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| nothing(format!("\"{host}\" is not a host name TLS can check")))?;
    let tcp = tokio::net::TcpStream::connect(target)
        .await
        .map_err(|e| nothing(format!("cannot connect to {target}: {e}")))?;
    let stream = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| nothing(format!("the TLS handshake failed: {e}")))?;
    let (_, connection) = stream.get_ref();
    let version = connection
        .protocol_version()
        .and_then(|v| v.as_str())
        .unwrap_or("TLS")
        .replace('_', ".")
        .replace("TLSv", "TLS ");
    let leaf = connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .ok_or_else(|| nothing("the server sent no certificate".into()))?;
    let (left, shown) = days_left(leaf).map_err(nothing)?;
    let detail = format!("{version}, {shown}");
    if left < i64::from(least) {
        return Err((
            detail,
            format!("the certificate has {left} days left, fewer than {least}"),
        ));
    }
    Ok(detail)
}

/// A certificate's whole days left, and in words: "certificate valid until 2027-03-01 (87 days)".
fn days_left(der: &[u8]) -> Result<(i64, String), String> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| format!("the server's certificate cannot be read: {e}"))?;
    let until = Timestamp::from_second(certificate.validity().not_after.timestamp())
        .map_err(|_| "the server's certificate has an expiry out of range".to_owned())?;
    let left = until.duration_since(Timestamp::now()).as_secs().div_euclid(86_400);
    let date = until.strftime("%Y-%m-%d");
    Ok((left, format!("certificate valid until {date} ({left} days)")))
}

/// How late the probes' runs start against their schedule, over the last runs: what
/// tells whether the prober keeps up. Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct Timeliness(Arc<Mutex<Lateness>>);

#[derive(Debug, Default)]
struct Lateness {
    runs: u64,
    recent: std::collections::VecDeque<u32>,
}

/// The runs kept for [`Timeliness`]'s figures.
const LATENESS_KEPT: usize = 10_000;

/// How late runs started, in milliseconds, over the last runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TimelinessReport {
    /// Runs since the server started.
    pub runs: u64,
    /// Runs the figures are of: the last ones, at most 10,000.
    pub sampled: usize,
    pub late_p50_ms: u32,
    pub late_p99_ms: u32,
    pub late_max_ms: u32,
}

impl Timeliness {
    /// Notes a run that started `late_ms` after its time.
    pub fn ran(&self, late_ms: u64) {
        let mut lateness = self.0.lock().expect("the probes' lateness");
        lateness.runs += 1;
        if lateness.recent.len() == LATENESS_KEPT {
            lateness.recent.pop_front();
        }
        lateness.recent.push_back(u32::try_from(late_ms).unwrap_or(u32::MAX));
    }

    pub fn report(&self) -> TimelinessReport {
        let lateness = self.0.lock().expect("the probes' lateness");
        let mut sorted: Vec<u32> = lateness.recent.iter().copied().collect();
        sorted.sort_unstable();
        let at = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0)
        };
        TimelinessReport {
            runs: lateness.runs,
            sampled: sorted.len(),
            late_p50_ms: at(0.5),
            late_p99_ms: at(0.99),
            late_max_ms: sorted.last().copied().unwrap_or(0),
        }
    }
}

/// One of the plan's probes as people see it: where it stands, its last run, and its
/// availability over the last day.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProbeView {
    pub probe: String,
    pub name: String,
    pub kind: String,
    /// Where it looks: its URL, host and port, or record.
    pub target: String,
    pub service: Option<String>,
    pub interval_seconds: u64,
    /// `up`, `down`, or `unknown` before its first run.
    pub state: String,
    /// When it last turned up or down.
    #[schema(value_type = Option<String>)]
    pub since: Option<Timestamp>,
    #[schema(value_type = Option<String>)]
    pub last_run: Option<Timestamp>,
    pub last_ok: Option<bool>,
    pub last_latency_ms: Option<u64>,
    pub last_detail: Option<String>,
    pub last_error: Option<String>,
    /// The share of its runs that passed in the last 24 hours, from 0 to 1; `None` when it
    /// did not run.
    pub availability_24h: Option<f64>,
    pub latency_mean_24h_ms: Option<u64>,
}

/// A probe's runs within one hour or day.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct RollupView {
    #[schema(value_type = String)]
    pub start: Timestamp,
    pub runs: u64,
    pub ok: u64,
    pub availability: f64,
    pub latency_mean_ms: u64,
    pub latency_max_ms: u64,
}

/// A probe, its hours (the last 48) and its days (the last 90).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ProbeHistory {
    #[serde(flatten)]
    pub probe: ProbeView,
    pub hours: Vec<RollupView>,
    pub days: Vec<RollupView>,
}

/// The probes, their states and history, as the API, the web and the CLI read them.
#[derive(Clone)]
pub struct Probes {
    desk: crate::Desk,
    store: Arc<dyn tocsin_store::probes::ProbeStore>,
    timeliness: Timeliness,
    /// The clients runs on demand share (each run still connects afresh).
    prober: Prober,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Probes")
    }
}

impl Probes {
    pub fn new(desk: crate::Desk, store: Arc<dyn tocsin_store::probes::ProbeStore>, timeliness: Timeliness) -> Self {
        Probes {
            desk,
            store,
            timeliness,
            prober: Prober::default(),
        }
    }

    /// How late the runs of this instance's probes start.
    pub fn timeliness(&self) -> TimelinessReport {
        self.timeliness.report()
    }

    /// Every probe of the plan in force, in its order.
    pub async fn list(&self) -> Result<Vec<ProbeView>, tocsin_store::StoreError> {
        use tocsin_store::probes::Span;
        let plan = self.desk.plan();
        let status: HashMap<String, tocsin_store::probes::ProbeStatus> = self
            .store
            .probe_status()
            .await?
            .into_iter()
            .map(|s| (s.probe.clone(), s))
            .collect();
        let since = Span::Hour.start_of(Timestamp::now() - jiff::SignedDuration::from_hours(23));
        let totals: HashMap<String, (u64, u64, u64)> = self
            .store
            .probe_totals(Span::Hour, since)
            .await?
            .into_iter()
            .map(|(probe, runs, ok, latency)| (probe, (runs, ok, latency)))
            .collect();
        Ok(plan
            .probes()
            .iter()
            .map(|p| view(p, status.get(p.id.as_str()), totals.get(p.id.as_str()).copied()))
            .collect())
    }

    /// One probe with its hours and days; `None` when the plan has no such probe.
    pub async fn history(&self, id: &str) -> Result<Option<ProbeHistory>, tocsin_store::StoreError> {
        use tocsin_store::probes::Span;
        let Some(probe) = self.list().await?.into_iter().find(|p| p.probe == id) else {
            return Ok(None);
        };
        let now = Timestamp::now();
        let hours = self
            .store
            .probe_rollups(
                id,
                Span::Hour,
                Span::Hour.start_of(now - jiff::SignedDuration::from_hours(47)),
            )
            .await?;
        let days = self
            .store
            .probe_rollups(
                id,
                Span::Day,
                Span::Day.start_of(now - jiff::SignedDuration::from_hours(89 * 24)),
            )
            .await?;
        let shown = |r: &tocsin_store::probes::Rollup| RollupView {
            start: r.start,
            runs: r.runs,
            ok: r.ok,
            availability: r.availability(),
            latency_mean_ms: r.latency_mean_ms(),
            latency_max_ms: r.latency_max_ms,
        };
        Ok(Some(ProbeHistory {
            probe,
            hours: hours.iter().map(shown).collect(),
            days: days.iter().map(shown).collect(),
        }))
    }

    /// Runs a probe of the plan once now, without recording it; `None` when the plan has
    /// no such probe.
    pub async fn run_now(&self, id: &str) -> Option<ProbeResult> {
        let plan = self.desk.plan();
        let probe = plan.probes().iter().find(|p| p.id.as_str() == id)?;
        Some(run(probe, &self.prober).await)
    }
}

fn view(probe: &Probe, status: Option<&tocsin_store::probes::ProbeStatus>, day: Option<(u64, u64, u64)>) -> ProbeView {
    let day = day.filter(|(runs, _, _)| *runs > 0);
    ProbeView {
        probe: probe.id.to_string(),
        name: probe.name.clone(),
        kind: probe.kind.as_str().to_owned(),
        target: target(probe),
        service: probe.service.clone(),
        interval_seconds: probe.interval_seconds,
        state: match status {
            None => "unknown",
            Some(s) if s.standing.up => "up",
            Some(_) => "down",
        }
        .to_owned(),
        since: status.and_then(|s| s.standing.since),
        last_run: status.map(|s| s.last.at),
        last_ok: status.map(|s| s.last.ok),
        last_latency_ms: status.map(|s| s.last.latency_ms),
        last_detail: status.map(|s| s.last.detail.clone()).filter(|d| !d.is_empty()),
        last_error: status.and_then(|s| s.last.error.clone()),
        availability_24h: day.map(|(runs, ok, _)| ok as f64 / runs as f64),
        latency_mean_24h_ms: day.map(|(runs, _, latency)| latency / runs),
    }
}
