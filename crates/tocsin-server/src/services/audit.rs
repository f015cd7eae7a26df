//! The daily security audit: its eight checks run, the report kept with what changed since
//! the last one, its findings fired as alerts (which the alerts' path makes signals and
//! incidents, at the severity of each finding's tier; a finding that persists keeps its
//! alert, and so its incident; one that is gone resolves), and its digest on the plan's
//! routes. Core's `daily_audit` judges; this gathers: the detectors' signals and the
//! rate-limit events of the last day, the pages the plan names, its lockfiles against
//! OSV and the registries, and its databases' tenant isolation.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use jiff::SignedDuration;
use serde_json::json;
use tocsin_core::Timestamp;
use tocsin_core::alert::Via;
use tocsin_core::audit::EntryDraft;
use tocsin_core::daily_audit::{
    Behind, Check, CheckReport, Finding, LimitVerdict, Outcome, PolicyUse, Report, SOURCE, alert, resolved, tier,
};
use tocsin_core::event::{AlertEvent, Decision, Event};
use tocsin_core::headers::{self, FOREIGN_ORIGIN, Fetched, Redirection};
use tocsin_core::incident::Actor;
use tocsin_core::lockfiles::{self, Ecosystem, Package};
use tocsin_core::osv::{self, Advisory, Index};
use tocsin_core::plan::{DailyAudit, Plan};
use tocsin_store::audit_reports::{AuditReportStore, AuditReportSummary, NewAuditReport};
use tocsin_store::events::{EventQuery, EventStore, NewEvent};
use tocsin_store::outbox::OutboxStore;
use tocsin_store::signals::{SignalFilter, SignalRecord, SignalStore};
use tocsin_store::{StoreError, store_view};

use crate::services::isolation::{self, IsolationTarget};

store_view! {
    /// What the audit reads and writes: the signals and events of the last day, its
    /// reports, the alerts it fires (into the event log), and its digest (into the outbox).
    AuditStore: AuditReportStore, SignalStore, EventStore, OutboxStore
}

/// The origin of the audit's alert events in the event log.
pub const ORIGIN: &str = "audit";
/// How far back the detectors' summaries and the rate-limit analysis look.
const DAY: SignedDuration = SignedDuration::from_hours(24);
/// Signals read per detector for a day's summary, and rate-limit events for its analysis:
/// beyond these the report says it counted only so many.
const SIGNALS_MAX: usize = 5_000;
const RATE_EVENTS_MAX: usize = 200_000;
/// Distinct keys counted per policy.
const KEYS_MAX: usize = 100_000;
/// A page's body read for its script tags, and the redirects followed.
const PAGE_MAX: usize = 1 << 20;
const REDIRECTS_MAX: usize = 10;
/// A lockfile read, an advisory file of an OSV export read.
const LOCKFILE_MAX: u64 = 64 << 20;
const ADVISORY_MAX: u64 = 8 << 20;
/// Queries per OSV batch (the API's own limit), advisories fetched at most.
const OSV_BATCH: usize = 1_000;
const ADVISORIES_MAX: usize = 5_000;
/// Registry questions at once, and at most per run.
const REGISTRY_AT_ONCE: usize = 8;
const REGISTRY_MAX: usize = 2_000;
/// An answer read from OSV or a registry.
const ANSWER_MAX: usize = 16 << 20;

/// Why an audit could not be kept.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the last report cannot be read: {0}")]
    Corrupt(String),
}

/// The HTTP client the audit asks with: no redirects followed on its own (the headers check
/// follows them itself, to see each), a timeout per request.
pub fn client() -> reqwest::Client {
    tocsin_notify::use_ring();
    reqwest::Client::builder()
        .user_agent(concat!("tocsin-audit/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client with the built-in roots")
}

/// Runs the audit now, keeps its report and fires its findings; the report's id and the
/// report. `by` is who asked (`schedule`, or a person).
pub async fn run<S: AuditStore + ?Sized>(
    store: &S,
    plan: &Plan,
    client: &reqwest::Client,
    by: &Actor,
    now: Timestamp,
) -> Result<(i64, Report), AuditError> {
    let since = now - DAY;
    let config = plan.daily_audit();
    let mut checks = Vec::new();
    let mut day_signals: HashMap<Check, Vec<SignalRecord>> = HashMap::new();
    for check in [
        Check::FailedLogins,
        Check::ErrorRates,
        Check::StaleAgents,
        Check::VaultAccess,
        Check::RateLimits,
    ] {
        day_signals.insert(check, signals_since(store, check, since).await?);
    }
    for check in [
        Check::FailedLogins,
        Check::ErrorRates,
        Check::StaleAgents,
        Check::VaultAccess,
    ] {
        checks.push(summarise(check, &day_signals[&check]));
    }
    let (isolation, headers, dependencies) = tokio::join!(
        data_isolation(config),
        security_headers(config, client),
        dependencies(config, client),
    );
    checks.push(isolation);
    checks.push(headers);
    checks.push(dependencies);
    checks.push(rate_limits(store, plan, &day_signals, since, now).await?);
    let mut report = Report {
        started_at: now,
        finished_at: Timestamp::now().max(now),
        by: by.to_string(),
        checks,
        changes: Default::default(),
    };
    let previous = match store.audit_report(None).await? {
        Some((_, body)) => Some(serde_json::from_str::<Report>(&body).map_err(|e| AuditError::Corrupt(e.to_string()))?),
        None => None,
    };
    report.compare(previous.as_ref());
    // The alerts first: a report kept whose alerts were not would hide its findings from
    // the next comparison. Firing again what fires already changes nothing.
    let mut alerts: Vec<_> = report.findings().map(|f| alert(plan, f, now)).collect();
    alerts.extend(report.changes.gone.iter().map(|f| resolved(f, now)));
    let deliveries: Vec<NewEvent> = deliveries(alerts, now)
        .into_iter()
        .map(|d| NewEvent::new(d, ORIGIN, now))
        .collect();
    if !deliveries.is_empty() {
        store.append_events(&deliveries).await?;
    }
    let body = serde_json::to_string(&report).expect("a report serializes");
    let (title, text) = report.digest();
    let findings = report.findings().count() as u64;
    let failed = report.checks.iter().filter(|c| c.outcome == Outcome::Failed).count() as u64;
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(body.as_bytes()))
    };
    let entry = EntryDraft::system(
        "audit_report",
        by,
        now,
        json!({"title": title, "findings": findings, "failed": failed, "new": report.changes.new.len(),
               "gone": report.changes.gone.len(), "sha256": digest}),
    );
    let id = store
        .save_audit_report(
            &NewAuditReport {
                started_at: report.started_at,
                finished_at: report.finished_at,
                by: report.by.clone(),
                findings,
                failed,
                title: title.clone(),
                body,
            },
            entry,
        )
        .await?;
    let zone = plan.calendar().zone();
    let mut notes = Vec::new();
    for route in plan.routes_for("audit_digest", None) {
        for channel in &route.channels {
            let message = tocsin_notify::Message {
                id: format!("audit-{id}:{channel}"),
                kind: "audit_digest".into(),
                title: title.clone(),
                text: text.clone(),
                ..tocsin_notify::Message::default()
            };
            notes.push(tocsin_store::outbox::NewNotification {
                key: message.id.clone(),
                channel: channel.clone(),
                kind: message.kind.clone(),
                incident: None,
                payload: serde_json::to_string(&message).expect("a message serializes"),
                not_before: route.send_at(now, zone),
                approval_link: None,
            });
        }
    }
    if !notes.is_empty() {
        store.enqueue(&notes, now).await?;
    }
    tracing::info!(report = id, findings, failed, "the daily security audit ran");
    Ok((id, report))
}

/// A finding's words kept in its alert: the report keeps them whole.
const ALERT_TEXT_MAX: usize = 2_000;

/// The alerts as deliveries from the audit, each an event no longer than one event may be
/// (so that a report of thousands of findings is several events, each read back whole).
fn deliveries(alerts: Vec<tocsin_core::alert::Alert>, at: Timestamp) -> Vec<Event> {
    use tocsin_core::event::MAX_LINE_BYTES;
    let cut = |text: &mut String| {
        if text.len() > ALERT_TEXT_MAX {
            let mut end = ALERT_TEXT_MAX;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
    };
    let delivery = |alerts| {
        Event::Alert(AlertEvent {
            at,
            source: SOURCE.to_owned(),
            via: Via::Audit,
            alerts,
        })
    };
    // Room for the delivery's own fields beside its alerts.
    let room = MAX_LINE_BYTES - 1_024;
    let mut out = Vec::new();
    let mut batch = Vec::new();
    let mut size = 0;
    for mut alert in alerts {
        cut(&mut alert.summary);
        cut(&mut alert.fingerprint);
        alert.annotations.values_mut().for_each(cut);
        let len = serde_json::to_string(&alert).map_or(room, |t| t.len() + 1);
        if size + len > room && !batch.is_empty() {
            out.push(delivery(std::mem::take(&mut batch)));
            size = 0;
        }
        size += len;
        batch.push(alert);
    }
    if !batch.is_empty() {
        out.push(delivery(batch));
    }
    out
}

/// A kept report and its summary.
pub async fn report<S: AuditReportStore + ?Sized>(
    store: &S,
    id: Option<i64>,
) -> Result<Option<(AuditReportSummary, Report)>, AuditError> {
    let Some((summary, body)) = store.audit_report(id).await? else {
        return Ok(None);
    };
    let report = serde_json::from_str(&body).map_err(|e| AuditError::Corrupt(e.to_string()))?;
    Ok(Some((summary, report)))
}

/// The check's detectors' signals since `since`, newest first, up to [`SIGNALS_MAX`] each.
async fn signals_since<S: SignalStore + ?Sized>(
    store: &S,
    check: Check,
    since: Timestamp,
) -> Result<Vec<SignalRecord>, StoreError> {
    let mut all = Vec::new();
    for detector in check.detectors() {
        let mut before = None;
        let mut taken = 0;
        'pages: loop {
            let page = store
                .signals(&SignalFilter {
                    detector: Some(detector.as_str().to_owned()),
                    before,
                    limit: 500,
                    ..SignalFilter::default()
                })
                .await?;
            let Some(last) = page.last().map(|s| s.id) else { break };
            for record in page {
                if record.recorded_at < since || taken >= SIGNALS_MAX {
                    break 'pages;
                }
                taken += 1;
                all.push(record);
            }
            before = Some(last);
        }
    }
    Ok(all)
}

/// A continuous check's day: what its detectors found, by detector and key, and the
/// incidents it led to. Its signals took the plan's path already; the audit does not raise
/// them again.
fn summarise(check: Check, signals: &[SignalRecord]) -> CheckReport {
    let mut by_detector: BTreeMap<&str, u64> = BTreeMap::new();
    let mut keys: HashMap<&str, u64> = HashMap::new();
    let mut incidents: Vec<u64> = Vec::new();
    for s in signals {
        *by_detector.entry(s.signal.detector.as_str()).or_default() += 1;
        *keys.entry(s.signal.key.as_str()).or_default() += 1;
        if let Some(n) = s.incident
            && !incidents.contains(&n.get())
        {
            incidents.push(n.get());
        }
    }
    incidents.sort_unstable();
    let mut top: Vec<(&str, u64)> = keys.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    top.truncate(5);
    let details = json!({
        "detectors": check.detectors().iter().map(|d| d.as_str()).collect::<Vec<_>>(),
        "signals": signals.len(),
        "by_detector": by_detector,
        "top_keys": top.iter().map(|(k, n)| json!({"key": k, "signals": n})).collect::<Vec<_>>(),
        "incidents": incidents,
        "counted_at_most": SIGNALS_MAX,
    });
    if signals.is_empty() {
        return CheckReport::of(check, "Nothing in the last day.".to_owned(), Vec::new(), details);
    }
    let mut summary = format!(
        "{} signal{} in the last day: {}.",
        signals.len(),
        plural(signals.len()),
        by_detector
            .iter()
            .map(|(d, n)| format!("{d} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    summary.push_str(&format!(
        " Most: {}.",
        top.iter()
            .map(|(k, n)| format!("{k} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if !incidents.is_empty() {
        summary.push_str(&format!(
            " Incidents: {}.",
            incidents.iter().map(|n| format!("#{n}")).collect::<Vec<_>>().join(", ")
        ));
    }
    CheckReport {
        check,
        outcome: Outcome::Findings,
        summary,
        findings: Vec::new(),
        details,
    }
}

/// Each policy's day: its hits against its limit, and the attacks on what it guards.
async fn rate_limits<S: EventStore + ?Sized>(
    store: &S,
    plan: &Plan,
    signals: &HashMap<Check, Vec<SignalRecord>>,
    since: Timestamp,
    now: Timestamp,
) -> Result<CheckReport, StoreError> {
    let mut uses: BTreeMap<String, PolicyUse> = plan
        .rate_limits()
        .iter()
        .map(|p| {
            let u = PolicyUse {
                policy: p.name.clone(),
                limit: p.limit,
                per_seconds: p.per_ms / 1000,
                ..PolicyUse::default()
            };
            (p.name.clone(), u)
        })
        .collect();
    let mut denials: HashMap<(String, String), u64> = HashMap::new();
    let mut read = 0usize;
    let mut query = EventQuery {
        kind: Some("rate_limit".into()),
        since: Some(since),
        until: Some(now),
        ..EventQuery::default()
    };
    loop {
        let page = store.events_before(&query, 2_000).await?;
        let Some(last) = page.last().map(|e| e.seq) else { break };
        for stored in &page {
            let Event::RateLimit(e) = &stored.event else { continue };
            let Some(u) = uses.get_mut(&e.policy) else { continue };
            match e.decision {
                Decision::Allow => u.allowed += 1,
                Decision::Deny => {
                    u.denied += 1;
                    let slot = (e.policy.clone(), e.key.clone());
                    if let Some(n) = denials.get_mut(&slot) {
                        *n += 1;
                    } else if denials.len() < KEYS_MAX {
                        denials.insert(slot, 1);
                    }
                }
            }
        }
        read += page.len();
        if read >= RATE_EVENTS_MAX {
            break;
        }
        query.before = Some(last);
    }
    for ((policy, _), n) in &denials {
        if let Some(u) = uses.get_mut(policy) {
            u.keys_denied += 1;
            u.keys_denied_few += u64::from(*n <= 2);
            u.most_denials = u.most_denials.max(*n);
        }
    }
    // The attacks on what each policy guards: its own detectors' signals, and for logins,
    // the attacks on logins.
    for record in &signals[&Check::RateLimits] {
        let key = &record.signal.key;
        let policy = key.split_once(':').map_or(key.as_str(), |(p, _)| p);
        if let Some(u) = uses.get_mut(policy) {
            u.attacks += 1;
        }
    }
    if let Some(u) = uses.get_mut("login") {
        u.attacks += signals[&Check::FailedLogins].len() as u64;
    }
    let mut findings = Vec::new();
    let mut lines = Vec::new();
    let mut judged = Vec::new();
    for u in uses.values() {
        let (verdict, why) = u.judge();
        if matches!(verdict, LimitVerdict::TooTight | LimitVerdict::TooLoose) {
            let word = if verdict == LimitVerdict::TooTight {
                "too tight"
            } else {
                "too loose"
            };
            findings.push(Finding {
                key: format!("rate_limit:{}:{word}", u.policy),
                check: Check::RateLimits,
                tier: tier::DRIFT,
                title: format!("The rate limit {} looks {word}", u.policy),
                detail: why.clone(),
                group: "rate_limits".into(),
            });
        }
        lines.push(why);
        judged.push(json!({"use": u, "verdict": verdict}));
    }
    let mut summary = lines.join(". ");
    summary.push('.');
    if read >= RATE_EVENTS_MAX {
        summary.push_str(&format!(
            " Only the last {RATE_EVENTS_MAX} rate-limit events were counted."
        ));
    }
    Ok(CheckReport::of(
        Check::RateLimits,
        summary,
        findings,
        json!({"policies": judged, "events": read}),
    ))
}

fn not_configured(check: Check, what: &str) -> CheckReport {
    CheckReport {
        check,
        outcome: Outcome::NotConfigured,
        summary: format!("The plan names {what} ([daily_audit])."),
        findings: Vec::new(),
        details: serde_json::Value::Null,
    }
}

/// The tenant isolation of each database the plan names.
async fn data_isolation(config: Option<&DailyAudit>) -> CheckReport {
    let databases = config.map_or(&[][..], |c| &c.databases[..]);
    if databases.is_empty() {
        return not_configured(Check::DataIsolation, "no database to check");
    }
    let mut findings = Vec::new();
    let mut reports = Vec::new();
    let mut lines = Vec::new();
    let mut failed = 0;
    for db in databases {
        let group = format!("isolation:{}", db.name);
        let url = match crate::services::actions::read_secret(&db.secret) {
            Ok(url) => url,
            Err(e) => {
                failed += 1;
                lines.push(format!("{}: not checked, {e}", db.name));
                findings.push(cannot_check(&db.name, &e, &group));
                continue;
            }
        };
        let target = IsolationTarget {
            name: db.name.clone(),
            url,
            tenant_columns: db.tenant_columns.clone(),
            app_role: db.app_role.clone(),
            probe: db.tenant_setting.clone().zip(db.probe_tenant.clone()),
        };
        match isolation::check(&target).await {
            Ok(report) => {
                lines.push(format!(
                    "{}: {} tenant table{}, {} finding{}",
                    db.name,
                    report.tenant_tables.len(),
                    plural(report.tenant_tables.len()),
                    report.findings.len(),
                    plural(report.findings.len())
                ));
                for f in &report.findings {
                    findings.push(Finding {
                        key: format!("isolation:{}:{}:{}", db.name, f.kind, f.subject),
                        check: Check::DataIsolation,
                        tier: if f.leaks { tier::LEAK } else { tier::DRIFT },
                        title: format!("{}: {} ({})", db.name, f.kind.replace('-', " "), f.subject),
                        detail: f.detail.clone(),
                        group: group.clone(),
                    });
                }
                reports.push(report);
            }
            Err(e) => {
                failed += 1;
                lines.push(format!("{}: not checked, {e}", db.name));
                findings.push(cannot_check(&db.name, &e, &group));
            }
        }
    }
    let mut report = CheckReport::of(
        Check::DataIsolation,
        format!("{}.", lines.join("; ")),
        findings,
        json!({"databases": reports}),
    );
    if failed == databases.len() {
        report.outcome = Outcome::Failed;
    }
    report
}

fn cannot_check(database: &str, why: &str, group: &str) -> Finding {
    Finding {
        key: format!("isolation:{database}:not-checked"),
        check: Check::DataIsolation,
        tier: tier::DRIFT,
        title: format!("The isolation of {database} could not be checked"),
        detail: why.to_owned(),
        group: group.to_owned(),
    }
}

/// Each page the plan names, fetched and graded.
async fn security_headers(config: Option<&DailyAudit>, client: &reqwest::Client) -> CheckReport {
    let Some(config) = config.filter(|c| !c.urls.is_empty()) else {
        return not_configured(Check::SecurityHeaders, "no page to grade");
    };
    let mut findings = Vec::new();
    let mut grades = Vec::new();
    let mut lines = Vec::new();
    let mut failed = 0;
    for url in &config.urls {
        match fetch_for_grading(client, url).await {
            Ok(fetched) => {
                let grade = headers::grade(&fetched);
                lines.push(format!("{url}: {} ({})", grade.grade, grade.score));
                if !headers::at_least(grade.grade, &config.min_grade) {
                    let failing: Vec<String> = grade
                        .failing()
                        .iter()
                        .map(|t| format!("{} ({}): {}", t.test, t.modifier, t.reason))
                        .collect();
                    findings.push(Finding {
                        key: format!("headers:{url}"),
                        check: Check::SecurityHeaders,
                        tier: tier::DRIFT,
                        title: format!(
                            "{url} grades {} ({}) for its security headers, below {}",
                            grade.grade, grade.score, config.min_grade
                        ),
                        detail: failing.join("\n"),
                        group: "security_headers".into(),
                    });
                }
                grades.push(serde_json::to_value(&grade).unwrap_or_default());
            }
            Err(e) => {
                failed += 1;
                lines.push(format!("{url}: not graded, {e}"));
                findings.push(Finding {
                    key: format!("headers:{url}:unreachable"),
                    check: Check::SecurityHeaders,
                    tier: tier::DRIFT,
                    title: format!("{url} could not be fetched to grade its headers"),
                    detail: e,
                    group: "security_headers".into(),
                });
                grades.push(json!({"url": url, "error": lines.last()}));
            }
        }
    }
    let mut report = CheckReport::of(
        Check::SecurityHeaders,
        format!("{}.", lines.join("; ")),
        findings,
        json!({"pages": grades, "min_grade": config.min_grade}),
    );
    if failed == config.urls.len() {
        report.outcome = Outcome::Failed;
    }
    report
}

/// `s` after a count other than one.
fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Why a request failed, in words, with its causes.
fn said(e: reqwest::Error) -> String {
    crate::services::error_chain(&e.without_url())
}

/// Follows `url`'s redirects to its page; the page as graded, with the answer to a request
/// from a foreign origin and how its `http://` address answers.
pub async fn fetch_for_grading(client: &reqwest::Client, url: &str) -> Result<Fetched, String> {
    let (mut fetched, _) = follow(client, url, true).await?;
    let cors = client
        .get(&fetched.url)
        .header(reqwest::header::ORIGIN, FOREIGN_ORIGIN)
        .send()
        .await
        .ok()
        .and_then(|r| {
            let header = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
            header("access-control-allow-origin").map(|o| (o, header("access-control-allow-credentials")))
        });
    fetched.cors = cors;
    let http = match url.strip_prefix("https://") {
        Some(rest) => format!("http://{rest}"),
        None => url.to_owned(),
    };
    fetched.redirection = Some(match follow(client, &http, false).await {
        Ok((_, chain)) => Redirection::Chain(chain),
        Err(e) if e.contains("certificate") => Redirection::InvalidCertificate,
        Err(_) if http != url => Redirection::NoHttp,
        Err(e) => return Err(e),
    });
    Ok(fetched)
}

/// Requests `url` and each redirect after it; the last answer and the chain of URLs.
async fn follow(client: &reqwest::Client, url: &str, read_body: bool) -> Result<(Fetched, Vec<String>), String> {
    let mut chain = vec![url.to_owned()];
    loop {
        let current = chain.last().expect("a URL").clone();
        let response = client.get(&current).send().await.map_err(|e| {
            if chain.len() > 1 {
                format!("its redirect to {current} failed: {}", said(e))
            } else {
                said(e)
            }
        })?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        if response.status().is_redirection()
            && let Some(location) = location
        {
            let next = reqwest::Url::parse(&current)
                .and_then(|base| base.join(&location))
                .map_err(|_| format!("{current} redirects to \"{location}\", which is not a URL"))?;
            if chain.len() > REDIRECTS_MAX {
                return Err(format!("more than {REDIRECTS_MAX} redirects from {url}"));
            }
            chain.push(next.to_string());
            continue;
        }
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let html = headers
            .iter()
            .any(|(n, v)| n == "content-type" && v.to_ascii_lowercase().contains("html"));
        let body = if read_body && html {
            Some(String::from_utf8_lossy(&read_capped(response, PAGE_MAX).await?).into_owned())
        } else {
            None
        };
        let fetched = Fetched {
            url: current,
            status,
            headers,
            body,
            cors: None,
            redirection: None,
        };
        return Ok((fetched, chain));
    }
}

/// An answer's body, up to `max` bytes (a longer one is cut there); an answer cut short
/// by an error is that error.
async fn read_capped(response: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    match crate::services::read_up_to(response, max).await {
        (body, None) => Ok(body),
        (_, Some(e)) => Err(said(e)),
    }
}

/// The lockfiles' packages against OSV, and how far their direct dependencies are behind.
async fn dependencies(config: Option<&DailyAudit>, client: &reqwest::Client) -> CheckReport {
    let Some(config) = config.filter(|c| !c.lockfiles.is_empty()) else {
        return not_configured(Check::Dependencies, "no lockfile to read");
    };
    let mut findings = Vec::new();
    let mut lines = Vec::new();
    let mut files = Vec::new();
    let mut read: Vec<(String, Vec<Package>)> = Vec::new();
    for path in &config.lockfiles {
        match read_lockfile(path).await {
            Ok(packages) => {
                files.push(
                    json!({"path": path, "packages": packages.len(), "by_ecosystem": lockfiles::counts(&packages)}),
                );
                read.push((path.clone(), packages));
            }
            Err(e) => {
                lines.push(format!("{path} could not be read: {e}"));
                files.push(json!({"path": path, "error": e}));
                findings.push(Finding {
                    key: format!("lockfile:{path}:unreadable"),
                    check: Check::Dependencies,
                    tier: tier::DRIFT,
                    title: format!("The lockfile {path} could not be read"),
                    detail: e,
                    group: "dependencies".into(),
                });
            }
        }
    }
    let all: Vec<&Package> = read.iter().flat_map(|(_, p)| p.iter()).collect();
    // Known vulnerabilities.
    let advisories = match (&config.osv_dir, &config.osv_api) {
        (Some(dir), _) => osv_from_dir(dir, &all)
            .await
            .map(|(index, said)| (index, format!("the OSV export in {dir} ({said})"))),
        (None, Some(api)) => osv_from_api(client, api, &all)
            .await
            .map(|index| (index, format!("the OSV API at {api}"))),
        (None, None) => Err("the plan turns the OSV API off and names no export directory (osv_dir)".to_owned()),
    };
    let mut vulnerable = Vec::new();
    let osv_ok = match &advisories {
        Ok((index, from)) => {
            for (path, packages) in &read {
                for package in packages {
                    for v in index.check(package) {
                        findings.push(Finding {
                            key: format!(
                                "osv:{}:{}/{}@{}",
                                v.advisory,
                                package.ecosystem.as_str(),
                                package.name,
                                package.version
                            ),
                            check: Check::Dependencies,
                            tier: tier::VULNERABILITY,
                            title: format!(
                                "{} {} ({}) is affected by {}{}",
                                package.name,
                                package.version,
                                package.ecosystem.as_str(),
                                v.advisory,
                                if v.summary.is_empty() {
                                    String::new()
                                } else {
                                    format!(": {}", v.summary)
                                }
                            ),
                            detail: format!(
                                "Severity {}; {}; in {path}.{}",
                                v.severity,
                                v.fixed
                                    .as_deref()
                                    .map_or_else(|| "no fixed version yet".to_owned(), |f| format!("fixed in {f}")),
                                if v.aliases.is_empty() {
                                    String::new()
                                } else {
                                    format!(" Also known as {}.", v.aliases.join(", "))
                                }
                            ),
                            group: format!("cve:{path}"),
                        });
                        vulnerable.push(json!({"lockfile": path, "vulnerability": v}));
                    }
                }
            }
            lines.push(format!(
                "{} package{} checked against {from}: {} vulnerable",
                all.len(),
                plural(all.len()),
                vulnerable.len()
            ));
            true
        }
        Err(e) => {
            lines.push(format!("known vulnerabilities NOT checked: {e}"));
            false
        }
    };
    // Freshness of the direct dependencies.
    let mut freshness = Vec::new();
    if config.freshness {
        let (fresh, said) = freshness_of(client, config, &read).await;
        for (path, package, behind, latest) in &fresh {
            if behind.stale {
                findings.push(Finding {
                    key: format!("stale:{}/{}", package.ecosystem.as_str(), package.name),
                    check: Check::Dependencies,
                    tier: tier::DRIFT,
                    title: format!(
                        "{} {} ({}) is {}: {latest} is out",
                        package.name,
                        package.version,
                        package.ecosystem.as_str(),
                        behind.words()
                    ),
                    detail: format!("A direct dependency in {path}."),
                    group: format!("stale:{path}"),
                });
            }
            freshness.push(
                json!({"lockfile": path, "package": package, "latest": latest, "behind": behind,
                                  "words": behind.words()}),
            );
        }
        lines.extend(said);
    } else {
        lines.push("freshness not checked: the plan turns it off (freshness = false)".to_owned());
    }
    let mut report = CheckReport::of(
        Check::Dependencies,
        format!("{}.", lines.join("; ")),
        findings,
        json!({"lockfiles": files, "vulnerable": vulnerable, "freshness": freshness}),
    );
    if read.is_empty() || !osv_ok && report.findings.is_empty() {
        report.outcome = Outcome::Failed;
    }
    report
}

async fn read_lockfile(path: &str) -> Result<Vec<Package>, String> {
    let format = lockfiles::Format::of_file(path).ok_or_else(|| "tocsin does not read this kind of file".to_owned())?;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        if size > LOCKFILE_MAX {
            return Err(format!("it is {size} bytes, more than the {LOCKFILE_MAX} tocsin reads"));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        lockfiles::read(format, &text).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// The packages' names as the index keys them.
fn wanted(packages: &[&Package]) -> HashSet<(Ecosystem, String)> {
    packages
        .iter()
        .map(|p| (p.ecosystem, osv::normalized(p.ecosystem, &p.name)))
        .collect()
}

/// Whether an advisory names one of the packages.
fn names_one(advisory: &Advisory, wanted: &HashSet<(Ecosystem, String)>) -> bool {
    advisory.affected.iter().any(|a| {
        a.package.as_ref().is_some_and(|p| {
            Ecosystem::parse(&p.ecosystem).is_some_and(|e| wanted.contains(&(e, osv::normalized(e, &p.name))))
        })
    })
}

/// The advisories of an OSV export directory (its JSON files, in any folders) that name one
/// of the packages; with how many files were read and not read.
async fn osv_from_dir(dir: &str, packages: &[&Package]) -> Result<(Index, String), String> {
    let wanted = wanted(packages);
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut index = Index::default();
        let mut stack = vec![std::path::PathBuf::from(&dir)];
        let (mut files, mut bad) = (0usize, Vec::new());
        while let Some(folder) = stack.pop() {
            let entries = std::fs::read_dir(&folder).map_err(|e| format!("cannot read {}: {e}", folder.display()))?;
            for entry in entries.flatten() {
                let path = entry.path();
                // Links are not followed: one back to a folder above would never end.
                let Ok(kind) = entry.file_type() else { continue };
                if kind.is_dir() {
                    stack.push(path);
                    continue;
                }
                if !kind.is_file() {
                    continue;
                }
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                files += 1;
                if entry.metadata().is_ok_and(|m| m.len() > ADVISORY_MAX) {
                    bad.push(format!("{} is too large", path.display()));
                    continue;
                }
                let parsed = std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|bytes| serde_json::from_slice::<Advisory>(&bytes).map_err(|e| e.to_string()));
                match parsed {
                    Ok(advisory) if names_one(&advisory, &wanted) => index.add(advisory),
                    Ok(_) => {}
                    Err(e) => bad.push(format!("{}: {e}", path.display())),
                }
            }
        }
        if files == 0 {
            return Err(format!(
                "the OSV export directory {dir} holds no advisory (.json files)"
            ));
        }
        let mut said = format!(
            "{files} advisor{} read, {} about these packages",
            if files == 1 { "y" } else { "ies" },
            index.advisories
        );
        if let Some(first) = bad.first() {
            said.push_str(&format!("; {} could not be read, the first: {first}", bad.len()));
        }
        Ok((index, said))
    })
    .await
    .map_err(|e| e.to_string())?
}

/// Asks the OSV API which advisories affect the packages (`/v1/querybatch`), then for each
/// advisory (`/v1/vulns/{id}`).
async fn osv_from_api(client: &reqwest::Client, api: &str, packages: &[&Package]) -> Result<Index, String> {
    let mut ids: Vec<String> = Vec::new();
    for chunk in packages.chunks(OSV_BATCH) {
        let queries: Vec<serde_json::Value> = chunk
            .iter()
            .map(|p| json!({"package": {"name": p.name, "ecosystem": p.ecosystem.as_str()}, "version": p.version}))
            .collect();
        let answer = client
            .post(format!("{api}/v1/querybatch"))
            .json(&json!({ "queries": queries }))
            .send()
            .await
            .map_err(|e| format!("the OSV API at {api} could not be reached: {}", said(e)))?;
        let answer: serde_json::Value = json_of(answer, &format!("the OSV API at {api}")).await?;
        let results = answer["results"]
            .as_array()
            .ok_or_else(|| format!("the OSV API at {api} answered without results"))?;
        for result in results {
            for vuln in result["vulns"].as_array().into_iter().flatten() {
                if let Some(id) = vuln["id"].as_str()
                    && !ids.iter().any(|known| known == id)
                {
                    ids.push(id.to_owned());
                }
            }
        }
    }
    if ids.len() > ADVISORIES_MAX {
        return Err(format!(
            "the OSV API names {} advisories for these packages, more than the {ADVISORIES_MAX} tocsin fetches",
            ids.len()
        ));
    }
    let fetched: Vec<Result<Advisory, String>> = futures_util::stream::iter(ids)
        .map(|id| async move {
            let answer = client
                .get(format!("{api}/v1/vulns/{id}"))
                .send()
                .await
                .map_err(|e| format!("the OSV API at {api} could not be reached: {}", said(e)))?;
            let value = json_of(answer, &format!("the OSV API's {id}")).await?;
            serde_json::from_value::<Advisory>(value).map_err(|e| format!("the OSV API's {id} is not an advisory: {e}"))
        })
        .buffer_unordered(REGISTRY_AT_ONCE)
        .collect()
        .await;
    let mut index = Index::default();
    for advisory in fetched {
        index.add(advisory?);
    }
    Ok(index)
}

async fn json_of(answer: reqwest::Response, what: &str) -> Result<serde_json::Value, String> {
    let status = answer.status();
    if !status.is_success() {
        return Err(format!("{what} answered HTTP {}", status.as_u16()));
    }
    let body = read_capped(answer, ANSWER_MAX).await?;
    serde_json::from_slice(&body).map_err(|e| format!("{what} answered with what is not JSON: {e}"))
}

/// How far each direct dependency is behind, by its registry; and what was said about the
/// registries that could not be asked.
async fn freshness_of(
    client: &reqwest::Client,
    config: &DailyAudit,
    read: &[(String, Vec<Package>)],
) -> (Vec<(String, Package, Behind, String)>, Vec<String>) {
    let mut asked: Vec<(String, Package)> = Vec::new();
    let mut seen = HashSet::new();
    for (path, packages) in read {
        // A lockfile that does not say which are direct (go.sum, a requirements file): all.
        let any_direct = packages.iter().any(|p| p.direct);
        for p in packages.iter().filter(|p| p.direct || !any_direct) {
            if seen.insert((p.ecosystem, p.name.clone(), p.version.clone())) {
                asked.push((path.clone(), p.clone()));
            }
        }
    }
    let mut said = Vec::new();
    if asked.len() > REGISTRY_MAX {
        said.push(format!(
            "freshness checked for the first {REGISTRY_MAX} of {} packages only",
            asked.len()
        ));
        asked.truncate(REGISTRY_MAX);
    }
    let answers: Vec<(String, Package, Result<String, Unasked>)> = futures_util::stream::iter(asked)
        .map(|(path, package)| async move {
            let base = config.registries.get(package.ecosystem.as_str());
            let latest = match base {
                Some(base) => latest(client, base, &package).await,
                None => Err(Unasked::Unreachable("no registry is known for it".into())),
            };
            (path, package, latest)
        })
        .buffer_unordered(REGISTRY_AT_ONCE)
        .collect()
        .await;
    let mut fresh = Vec::new();
    let mut unreachable: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    let mut unknown = Vec::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (path, package, latest) in answers {
        match latest {
            Ok(latest) => {
                *counts.entry(package.ecosystem.as_str()).or_default() += 1;
                fresh.push((path, package.clone(), Behind::of(&package.version, &latest), latest));
            }
            Err(Unasked::Unreachable(why)) => {
                let e = unreachable.entry(package.ecosystem.as_str()).or_insert((0, why));
                e.0 += 1;
            }
            Err(Unasked::Unknown(why)) => unknown.push(format!("{}: {why}", package.name)),
        }
    }
    fresh.sort_by(|a, b| (&a.1.ecosystem, &a.1.name).cmp(&(&b.1.ecosystem, &b.1.name)));
    let stale = fresh.iter().filter(|f| f.2.stale).count();
    if !fresh.is_empty() {
        said.push(format!(
            "freshness: {} direct dependenc{} asked of {} ({} a major version or more behind)",
            fresh.len(),
            if fresh.len() == 1 { "y" } else { "ies" },
            counts
                .iter()
                .map(|(e, n)| format!("{e} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            stale
        ));
    }
    for (ecosystem, (n, why)) in unreachable {
        said.push(format!(
            "freshness UNKNOWN for {n} {ecosystem} package{}: the registry {} could not be reached ({why})",
            plural(n),
            config.registries.get(ecosystem).map_or("", String::as_str)
        ));
    }
    if let Some(first) = unknown.first() {
        said.push(format!(
            "{} package{} not found in the registry, the first: {first}",
            unknown.len(),
            plural(unknown.len())
        ));
    }
    (fresh, said)
}

/// Why a registry did not say a package's newest version.
enum Unasked {
    /// The registry did not answer: nothing is known of any package there.
    Unreachable(String),
    /// It answered, without a version for this package.
    Unknown(String),
}

/// The newest version of `package` its registry at `base` names: crates.io's newest stable,
/// npm's `latest` tag, PyPI's, the Go proxy's `@latest`, RubyGems'.
async fn latest(client: &reqwest::Client, base: &str, package: &Package) -> Result<String, Unasked> {
    let name = &package.name;
    let (url, pointer) = match package.ecosystem {
        Ecosystem::Crates => (format!("{base}/api/v1/crates/{name}"), "/crate/max_stable_version"),
        Ecosystem::Npm => (format!("{base}/{}", name.replace('/', "%2f")), "/dist-tags/latest"),
        Ecosystem::PyPi => (format!("{base}/pypi/{name}/json"), "/info/version"),
        Ecosystem::Go => (format!("{base}/{}/@latest", go_escape(name)), "/Version"),
        Ecosystem::RubyGems => (format!("{base}/api/v1/gems/{name}.json"), "/version"),
    };
    let mut request = client.get(&url);
    if package.ecosystem == Ecosystem::Npm {
        // The abbreviated document: the tags without every version's manifest.
        request = request.header(reqwest::header::ACCEPT, "application/vnd.npm.install-v1+json");
    }
    let answer = request.send().await.map_err(|e| Unasked::Unreachable(said(e)))?;
    let status = answer.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(Unasked::Unknown("not in the registry".into()));
    }
    if status.is_server_error() {
        return Err(Unasked::Unreachable(format!("HTTP {}", status.as_u16())));
    }
    let value = json_of(answer, "the registry").await.map_err(Unasked::Unknown)?;
    value
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Unasked::Unknown(format!("the answer has no {pointer}")))
}

/// A Go module path as the module proxy protocol writes it: capitals as `!` and the letter.
fn go_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The audit as the API, the pages and the CLI reach it.
#[derive(Clone)]
pub struct Audits {
    desk: crate::Desk,
    store: Arc<dyn tocsin_store::Store>,
    client: reqwest::Client,
    /// One run at a time on this instance.
    running: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Audits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audits")
    }
}

impl Audits {
    pub fn new(desk: crate::Desk, store: Arc<dyn tocsin_store::Store>) -> Self {
        Audits {
            desk,
            store,
            client: client(),
            running: Arc::default(),
        }
    }

    /// Runs the audit now, as `by` asked.
    pub async fn run(&self, by: &Actor) -> Result<(i64, Report), AuditError> {
        let _one = self.running.lock().await;
        let plan = self.desk.plan();
        run(&*self.store, &plan, &self.client, by, Timestamp::now()).await
    }

    /// A kept report, the newest when `id` is `None`.
    pub async fn report(&self, id: Option<i64>) -> Result<Option<(AuditReportSummary, Report)>, AuditError> {
        report(&*self.store, id).await
    }

    /// The kept reports, newest first.
    pub async fn list(&self, before: Option<i64>, limit: u32) -> Result<Vec<AuditReportSummary>, StoreError> {
        self.store.audit_reports(before, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_of_findings_are_several_deliveries_each_read_back_whole() {
        let plan = Plan::parse(tocsin_core::plan::presets::FOUR_TIER.source).unwrap();
        let at = Timestamp::UNIX_EPOCH;
        let alerts: Vec<_> = (0..3_000)
            .map(|i| {
                let finding = Finding {
                    key: format!("osv:GHSA-{i}:npm/pkg-{i}@1.0.0"),
                    check: Check::Dependencies,
                    tier: tier::VULNERABILITY,
                    title: format!(
                        "pkg-{i} 1.0.0 is affected by GHSA-{i}: {}",
                        "a long summary ".repeat(300)
                    ),
                    detail: "detail ".repeat(100),
                    group: "cve:/srv/app/package-lock.json".into(),
                };
                alert(&plan, &finding, at)
            })
            .collect();
        let events = deliveries(alerts, at);
        assert!(events.len() > 10, "{}", events.len());
        let mut read = 0;
        for (i, event) in events.iter().enumerate() {
            let line = event.to_json();
            let back = tocsin_core::event::parse_line(i as u64, &line).unwrap_or_else(|e| panic!("{e}"));
            let Event::Alert(delivery) = back else { panic!() };
            read += delivery.alerts.len();
        }
        assert_eq!(read, 3_000, "every alert, once");
    }

    #[tokio::test]
    async fn an_osv_export_with_a_link_back_to_itself_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let advisory =
            r#"{"id":"TEST-1","affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"versions":["1.0.0"]}]}"#;
        std::fs::create_dir(dir.path().join("npm")).unwrap();
        std::fs::write(dir.path().join("npm/TEST-1.json"), advisory).unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("npm/loop")).unwrap();
        let package = Package {
            ecosystem: Ecosystem::Npm,
            name: "left-pad".into(),
            version: "1.0.0".into(),
            direct: true,
        };
        let (index, said) = osv_from_dir(dir.path().to_str().unwrap(), &[&package]).await.unwrap();
        assert_eq!(index.advisories, 1);
        assert_eq!(said, "1 advisory read, 1 about these packages");
        assert_eq!(index.check(&package).len(), 1);
    }

    #[test]
    fn go_module_paths_escape_their_capitals() {
        assert_eq!(go_escape("github.com/BurntSushi/toml"), "github.com/!burnt!sushi/toml");
    }
}
