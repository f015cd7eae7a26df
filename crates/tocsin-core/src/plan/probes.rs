//! `[[probe]]`: what tocsin checks from outside, and how often: HTTP(S) endpoints with
//! conditions on the answer, TCP ports, TLS certificates, DNS records and PostgreSQL
//! databases. How many failures in a row make a probe down, and how many successes make
//! it up again.

use std::collections::BTreeMap;

use super::build::id;
use super::read::{Problems, Section, TableAt};
use super::secret::{SecretRef, secret_reference};
use crate::action::StatusPattern;
use crate::diagnostic::Diagnostic;
use crate::id::{ProbeId, SeverityId};

/// The shortest interval between two runs of a probe.
pub const INTERVAL_MIN_SECONDS: u64 = 10;
/// The interval when the plan gives none: the four-tier plan's 15 minutes.
pub const INTERVAL_DEFAULT_SECONDS: u64 = 900;

/// What a probe checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// An HTTP(S) request, and conditions on its answer.
    Http {
        url: String,
        method: String,
        headers: BTreeMap<String, String>,
        body: Option<String>,
        /// The statuses that pass; `2xx` when the plan names none.
        status: Vec<StatusPattern>,
        /// A JSON pointer into the answer, and the text it must hold.
        json: Option<(String, String)>,
        /// For https: the fewest days the certificate may have left.
        cert_days: Option<u32>,
    },
    /// A TCP connection to `host:port`.
    Tcp { target: String },
    /// A TLS handshake with `host:port`: a chain the system trusts, with at least
    /// `cert_days` left.
    Tls { target: String, cert_days: u32 },
    /// A DNS lookup of `name`'s `record` (A, AAAA, CNAME, MX, TXT), which must hold each of
    /// `expect` when given: an address, a name, an MX host, a text a TXT record contains.
    /// Asked of `server` (`ip:port`) when given, else of the system's resolver.
    Dns {
        name: String,
        record: String,
        expect: Vec<String>,
        server: Option<String>,
    },
    /// A PostgreSQL connection and `select 1`; its URL, credentials in it, is the secret.
    Postgres,
}

impl ProbeKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProbeKind::Http { .. } => "http",
            ProbeKind::Tcp { .. } => "tcp",
            ProbeKind::Tls { .. } => "tls",
            ProbeKind::Dns { .. } => "dns",
            ProbeKind::Postgres => "postgres",
        }
    }
}

/// A `[[probe]]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub id: ProbeId,
    pub name: String,
    pub kind: ProbeKind,
    pub interval_seconds: u64,
    pub timeout_seconds: u64,
    /// Slower than this fails, even with a good answer.
    pub max_latency_ms: Option<u64>,
    /// Failures in a row that make it down.
    pub down_after: u32,
    /// Successes in a row that make it up again.
    pub up_after: u32,
    /// The `[[service]]` it watches, if any.
    pub service: Option<String>,
    /// The secret it needs (a PostgreSQL URL, or a header's value as `{{ secret }}`).
    pub secret: Option<SecretRef>,
    /// For http and tls: a PEM file of certificate authorities trusted besides the
    /// system's, for services behind a private CA.
    pub ca: Option<String>,
    /// The severity of the incident its going down opens; `None` takes the plan's
    /// `[[rule]]` for `probe`, or tocsin's default (the plan's second tier).
    pub severity: Option<SeverityId>,
}

const KINDS: [&str; 5] = ["http", "tcp", "tls", "dns", "postgres"];
const RECORDS: [&str; 5] = ["A", "AAAA", "CNAME", "MX", "TXT"];

/// `[[probe]]` tables: `id`, `name`, `kind` and what the kind needs (`url` for http;
/// `target` for tcp and tls; `name` of the record and `record` for dns; the secret for
/// postgres), and optional `interval`, `timeout`, `max_latency`, `down_after`, `up_after`,
/// `service`, `severity`. An http probe takes `method`, `headers`, `body`, `status`,
/// `json_pointer` with `json_equals`, `cert_days` and `ca`; a tls probe `cert_days` and `ca`.
pub(super) fn probes(
    tables: &[TableAt<'_, '_>],
    services: &[&str],
    severities: &[&str],
    problems: &mut Problems,
) -> Vec<Probe> {
    let mut out: Vec<Probe> = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let mut s = Section::new(*table, format!("probe #{}", index + 1));
        let probe_id = id(&mut s, ProbeId::parse, problems);
        let name = s.str("name", "\"API health\"", problems);
        let kind = s.str("kind", "\"http\"", problems);
        let url = s.opt_str("url", problems);
        let method = s.opt_str("method", problems);
        let headers = s.str_table("headers", problems);
        let body = s.opt_str("body", problems);
        let status = s.str_list("status", problems);
        let json_pointer = s.opt_str("json_pointer", problems);
        let json_equals = s.opt_str("json_equals", problems);
        let cert_days = s.opt_uint("cert_days", 0, 3650, problems);
        let target = s.opt_str("target", problems);
        let record_name = s.opt_str("record_name", problems);
        let record = s.opt_str("record", problems);
        let expect = s.str_list("expect", problems);
        let dns_server = s.opt_str("server", problems);
        let secret = secret_reference(&mut s, problems);
        let interval = s.opt_duration("interval", problems);
        let timeout = s.opt_duration("timeout", problems);
        let max_latency = s.opt_duration("max_latency", problems);
        let down_after = s.opt_uint("down_after", 1, 20, problems).map_or(2, |n| n.value);
        let up_after = s.opt_uint("up_after", 1, 20, problems).map_or(1, |n| n.value);
        let service = s.opt_str("service", problems);
        let ca = s.opt_str("ca", problems);
        let severity = s.opt_str("severity", problems);
        let span = s.span();
        s.finish(problems);
        let (Some(probe_id), Some(name), Some(kind)) = (probe_id, name, kind) else {
            continue;
        };
        let whose = format!("probe {}", probe_id.value);
        let before = problems.len();
        let seconds = |d: Option<super::read::Located<crate::duration::Duration>>,
                       what: &str,
                       least: u64,
                       default: u64,
                       problems: &mut Problems| match d {
            None => default,
            Some(d) => match d.value.elapsed_seconds().and_then(|s| u64::try_from(s).ok()) {
                Some(s) if s >= least => s,
                _ => {
                    problems.push(Diagnostic::new(
                        d.span,
                        format!("{what} of {whose} must be an exact span of {least} seconds or more, like 60s"),
                    ));
                    default
                }
            },
        };
        let interval_seconds = seconds(
            interval,
            "interval",
            INTERVAL_MIN_SECONDS,
            INTERVAL_DEFAULT_SECONDS,
            problems,
        );
        let timeout_seconds = seconds(timeout, "timeout", 1, 10, problems);
        if timeout_seconds > interval_seconds {
            problems.push(Diagnostic::new(
                span.clone(),
                format!("the timeout of {whose} is longer than its interval"),
            ));
        }
        let max_latency_ms = max_latency.and_then(|d| match d.value.elapsed_seconds() {
            Some(s) if s > 0 => u64::try_from(s).ok().map(|s| s * 1000),
            _ => {
                problems.push(Diagnostic::new(
                    d.span,
                    format!("max_latency of {whose} must be an exact span, like 2s"),
                ));
                None
            }
        });
        let needs = |key: &str, example: &str| {
            Diagnostic::new(span.clone(), format!("{whose} ({}) needs {key}", kind.value))
                .with_hint(format!("add {key} = {example}"))
        };
        let host_port = |t: &super::read::Located<String>, problems: &mut Problems| {
            let ok = t
                .value
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0));
            if !ok {
                problems.push(
                    Diagnostic::new(
                        t.span.clone(),
                        format!("target \"{}\" of {whose} is not host:port", t.value),
                    )
                    .with_hint("write it like \"db.example.com:5432\""),
                );
            }
        };
        let probe_kind = match kind.value.as_str() {
            "http" => {
                let mut patterns = Vec::new();
                for p in &status {
                    match StatusPattern::parse(&p.value) {
                        Some(pattern) => patterns.push(pattern),
                        None => problems.push(
                            Diagnostic::new(
                                p.span.clone(),
                                format!("\"{}\" is not a status or a class like 2xx", p.value),
                            )
                            .with_hint("write 200, 204 or 2xx"),
                        ),
                    }
                }
                if patterns.is_empty() {
                    patterns.push(StatusPattern::Class(2));
                }
                let url = match url {
                    Some(u) if u.value.starts_with("http://") || u.value.starts_with("https://") => Some(u.value),
                    Some(u) => {
                        problems.push(
                            Diagnostic::new(u.span, format!("url \"{}\" of {whose} is not http or https", u.value))
                                .with_hint("write it like \"https://api.example.com/health\""),
                        );
                        None
                    }
                    None => {
                        problems.push(needs("url", "\"https://api.example.com/health\""));
                        None
                    }
                };
                let json = match (json_pointer, json_equals) {
                    (Some(p), Some(e)) if p.value.starts_with('/') => Some((p.value, e.value)),
                    (Some(p), Some(_)) => {
                        problems.push(
                            Diagnostic::new(
                                p.span,
                                format!("json_pointer \"{}\" of {whose} does not start with /", p.value),
                            )
                            .with_hint("write a JSON pointer, like \"/status\""),
                        );
                        None
                    }
                    (None, None) => None,
                    (Some(p), None) => {
                        problems.push(Diagnostic::new(
                            p.span,
                            format!("{whose} names json_pointer without json_equals"),
                        ));
                        None
                    }
                    (None, Some(e)) => {
                        problems.push(Diagnostic::new(
                            e.span,
                            format!("{whose} names json_equals without json_pointer"),
                        ));
                        None
                    }
                };
                url.map(|url| ProbeKind::Http {
                    url,
                    method: method.map_or_else(|| "GET".to_owned(), |m| m.value.to_ascii_uppercase()),
                    headers: headers.into_iter().map(|(k, v)| (k, v.value)).collect(),
                    body: body.map(|b| b.value),
                    status: patterns,
                    json,
                    cert_days: cert_days.map(|c| c.value),
                })
            }
            "tcp" | "tls" => match target {
                Some(t) => {
                    host_port(&t, problems);
                    Some(match kind.value.as_str() {
                        "tcp" => ProbeKind::Tcp { target: t.value },
                        _ => ProbeKind::Tls {
                            target: t.value,
                            cert_days: cert_days.map_or(14, |c| c.value),
                        },
                    })
                }
                None => {
                    problems.push(needs("target", "\"db.example.com:5432\""));
                    None
                }
            },
            "dns" => {
                let record_kind = record
                    .as_ref()
                    .map_or_else(|| "A".to_owned(), |r| r.value.to_ascii_uppercase());
                if let Some(r) = &record
                    && !RECORDS.contains(&record_kind.as_str())
                {
                    problems.push(
                        Diagnostic::new(
                            r.span.clone(),
                            format!("record \"{}\" of {whose} is not one tocsin looks up", r.value),
                        )
                        .with_hint(format!("use one of {}", RECORDS.join(", "))),
                    );
                }
                let server = dns_server.and_then(|d| match d.value.parse::<core::net::SocketAddr>() {
                    Ok(_) => Some(d.value),
                    Err(_) => {
                        problems.push(
                            Diagnostic::new(d.span, format!("server \"{}\" of {whose} is not ip:port", d.value))
                                .with_hint("write it like \"192.0.2.53:53\""),
                        );
                        None
                    }
                });
                match record_name {
                    Some(n) => Some(ProbeKind::Dns {
                        name: n.value,
                        record: record_kind,
                        expect: expect.into_iter().map(|e| e.value).collect(),
                        server,
                    }),
                    None => {
                        problems.push(needs("record_name", "\"api.example.com\""));
                        None
                    }
                }
            }
            "postgres" => {
                if secret.is_none() {
                    problems.push(needs(
                        "its connection URL as a secret",
                        "secret_env = \"TOCSIN_PROBE_DATABASE_URL\"",
                    ));
                }
                Some(ProbeKind::Postgres)
            }
            other => {
                problems.push(
                    Diagnostic::new(kind.span.clone(), format!("unknown probe kind \"{other}\""))
                        .with_hint(format!("use one of {}", KINDS.join(", "))),
                );
                None
            }
        };
        let service = service.and_then(|s| match services.contains(&s.value.as_str()) {
            true => Some(s.value),
            false => {
                problems.push(
                    Diagnostic::new(s.span, format!("{whose} watches unknown service \"{}\"", s.value))
                        .with_hint("name a [[service]] of the plan"),
                );
                None
            }
        });
        let severity = severity.and_then(|sev| {
            super::build::references("severity", &whose, vec![sev], severities, SeverityId::parse, problems).pop()
        });
        if let Some(ca) = &ca
            && !matches!(kind.value.as_str(), "http" | "tls")
        {
            problems.push(Diagnostic::new(
                ca.span.clone(),
                format!("{whose} is a {} probe: only http and tls probes take ca", kind.value),
            ));
        }
        if out.iter().any(|p| p.id == probe_id.value) {
            problems.push(Diagnostic::new(
                probe_id.span,
                format!("duplicate probe id \"{}\"", probe_id.value),
            ));
            continue;
        }
        if let (Some(kind), true) = (probe_kind, problems.len() == before) {
            out.push(Probe {
                id: probe_id.value,
                name: name.value,
                kind,
                interval_seconds,
                timeout_seconds,
                max_latency_ms,
                down_after,
                up_after,
                service,
                secret,
                ca: ca.map(|c| c.value),
                severity,
            });
        }
    }
    out
}
