//! Where tocsin tells people: `[[channel]]`, with secrets only by reference.

use std::ops::Range;

use super::build::{email_problem, no_duplicates, unknown};
use super::read::{Located, Problems, Section, TableAt};
use super::secret::{SecretRef, secret_reference, secret_reference_named};
use crate::diagnostic::Diagnostic;

/// A `[[channel]]` table: where people are told, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// How routes and commands name it, like `ops-webhook`.
    pub name: String,
    pub kind: ChannelKind,
    /// Where messages go: a webhook's address, a Telegram Bot API server (the public one
    /// when `None`), an SMTP server (`smtp://host:port`, `smtps://host:port`). `None` for
    /// Slack, whose address is itself the secret.
    pub url: Option<String>,
    /// Where its secret is kept: never in the plan itself. A webhook's signing key, a
    /// Slack webhook's address, a Telegram bot's token, an SMTP password.
    pub secret: Option<SecretRef>,
    /// Telegram: the chat messages go to, a numeric id or `@channel`. A Slack app: the
    /// Slack channel's id, like `C0123456789`.
    pub chat: Option<String>,
    /// A Slack app: where its signing secret is kept, which checks the requests Slack sends
    /// when people press its buttons and use its slash command.
    pub signing_secret: Option<SecretRef>,
    /// Telegram: the users who may act from the chat (by user id); when empty, anyone in
    /// the chat may.
    pub users: Vec<i64>,
    /// Email: the sender's address.
    pub from: Option<String>,
    /// Email: where messages go.
    pub to: Vec<String>,
    /// Email: the SMTP login, whose password is the secret.
    pub username: Option<String>,
    /// Email: how the connection to the server is secured.
    pub tls: SmtpTls,
    /// Email: a PEM file of the certificate authority that signed a private server's
    /// certificate, trusted beside the system's.
    pub ca_file: Option<String>,
    /// Another channel that takes its news too once its deliveries have kept failing for
    /// `fallback_after`, and is told that it fails (and when it works again).
    pub fallback: Option<String>,
    /// How long deliveries fail before the fallback takes over (5 minutes by default).
    pub fallback_after_seconds: u64,
}

/// How long a channel's deliveries fail before its fallback takes its news too.
pub const FALLBACK_AFTER_DEFAULT: u64 = 300;

/// The kinds of channel tocsin speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelKind {
    /// JSON signed with HMAC-SHA256 (`Tocsin-Signature`).
    Webhook,
    /// A Slack incoming webhook (Block Kit); Mattermost and Rocket.Chat take the same.
    Slack,
    /// A Telegram bot, which also takes commands and button presses.
    Telegram,
    /// Email over SMTP.
    Email,
    /// A Slack app: one message per incident, updated in place, its news in the thread,
    /// buttons and a slash command (Slack's Web API and interactivity).
    SlackApp,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::Webhook,
        ChannelKind::Slack,
        ChannelKind::Telegram,
        ChannelKind::Email,
        ChannelKind::SlackApp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Email => "email",
            ChannelKind::SlackApp => "slack-app",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// How an email channel's connection is secured.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain at first, then TLS by STARTTLS, which the server must offer (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
    /// No TLS: only for a relay on the same host or network.
    None,
}

/// A text that names no Telegram chat.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a Telegram chat: use its numeric id (like -1001234567890) or @channelname")]
pub struct NotATelegramChat(pub String);

/// Whether `chat` can name a Telegram chat: a numeric id, or `@name` of a public one.
pub fn check_telegram_chat(chat: &str) -> Result<(), NotATelegramChat> {
    let chat = chat.trim();
    let numeric = chat.parse::<i64>().is_ok_and(|id| id != 0);
    let public = chat
        .strip_prefix('@')
        .is_some_and(|name| name.len() >= 4 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    match numeric || public {
        true => Ok(()),
        false => Err(NotATelegramChat(chat.to_owned())),
    }
}

/// `[[channel]]` tables: `name`, `type`, where the secret is kept (`secret_env` or
/// `secret_file`, never the secret itself), and what the type needs: a webhook's `url`; a
/// Telegram bot's `chat` (and `url` for a Bot API server of one's own, `users` who may
/// act); an email channel's SMTP `url`, `from`, `to`, and `username`, `tls`, `ca_file`.
/// A Slack incoming webhook's address is its secret, so it has no `url`.
pub(super) fn channels(tables: &[TableAt<'_, '_>], problems: &mut Problems) -> Vec<Channel> {
    let mut channels = Vec::new();
    let mut seen = Vec::new();
    for table in tables {
        let mut s = Section::new(*table, "[[channel]]");
        let name = s.str("name", "\"ops-webhook\"", problems);
        let kind = s.str("type", "\"webhook\"", problems);
        let url = s.opt_str("url", problems);
        let secret = secret_reference(&mut s, problems);
        let signing_secret = secret_reference_named(
            &mut s,
            ["signing_secret", "signing_secret_env", "signing_secret_file"],
            problems,
        );
        let chat = s.opt_text_or_int("chat", problems);
        let users = s.int_list("users", problems);
        let from = s.opt_str("from", problems);
        let to = s.str_list("to", problems);
        let username = s.opt_str("username", problems);
        let tls = s.opt_str("tls", problems);
        let ca_file = s.opt_str("ca_file", problems);
        let fallback = s.opt_str("fallback", problems);
        let fallback_after = s.opt_duration("fallback_after", problems);
        let span = s.span();
        s.finish(problems);
        let name = name.filter(|n| {
            let ok = !n.value.is_empty()
                && n.value
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !ok {
                problems.push(
                    Diagnostic::new(n.span.clone(), format!("channel name \"{}\" is not a name", n.value))
                        .with_hint("use lowercase letters, digits, - and _"),
                );
            }
            ok
        });
        let Some(kind) = kind else { continue };
        let Some(kind) = ChannelKind::parse(&kind.value) else {
            let kinds: Vec<&str> = ChannelKind::ALL.iter().map(|k| k.as_str()).collect();
            problems.push(unknown(
                &kind,
                format!("unknown channel type \"{}\"", kind.value),
                &kinds,
                format!("the channel types are {}", kinds.join(", ")),
            ));
            continue;
        };
        let before = problems.len();
        // Settings of one type are a mistake on another.
        let this = kind.as_str();
        let only = |key: &str, span: &Range<usize>, owner: ChannelKind| {
            Diagnostic::new(
                span.clone(),
                format!("{key} is for {} channels, not {this} ones", owner.as_str()),
            )
            .with_hint(format!("remove {key}"))
        };
        if kind != ChannelKind::Telegram {
            if kind != ChannelKind::SlackApp {
                problems.extend(chat.iter().map(|c| only("chat", &c.span, ChannelKind::Telegram)));
            }
            problems.extend(users.first().map(|u| only("users", &u.span, ChannelKind::Telegram)));
        }
        if kind != ChannelKind::SlackApp && signing_secret.is_some() {
            problems.push(
                Diagnostic::new(
                    span.clone(),
                    format!("a signing secret is for slack-app channels, not {this} ones"),
                )
                .with_hint("remove signing_secret_env or signing_secret_file"),
            );
        }
        if kind != ChannelKind::Email {
            for (key, at) in [
                ("from", &from),
                ("username", &username),
                ("tls", &tls),
                ("ca_file", &ca_file),
            ] {
                problems.extend(at.iter().map(|a| only(key, &a.span, ChannelKind::Email)));
            }
            problems.extend(to.first().map(|t| only("to", &t.span, ChannelKind::Email)));
        }
        problems.extend(url.as_ref().and_then(|u| url_problem(kind, u)));
        let article = if this.starts_with('e') { "an" } else { "a" };
        let needs = |what: &str, example: &str| {
            Diagnostic::new(span.clone(), format!("{article} {this} [[channel]] needs {what}"))
                .with_hint(format!("add {example}"))
        };
        let secret_hint = |example: &str| {
            format!(
                "secret_env = \"{example}\" or secret_file = \"/run/secrets/{}\"",
                example.to_lowercase()
            )
        };
        match kind {
            ChannelKind::Webhook => {
                if url.is_none() {
                    problems.push(needs("a url", "url = \"https://hooks.example.com/tocsin\""));
                }
                if secret.is_none() {
                    problems.push(needs("a signing secret", &secret_hint("TOCSIN_WEBHOOK_SECRET")));
                }
            }
            ChannelKind::Slack => {
                if let Some(u) = &url {
                    problems.push(
                        Diagnostic::new(
                            u.span.clone(),
                            "a Slack webhook's address is its secret: it must not be written in the plan",
                        )
                        .with_hint("keep the whole address in secret_env or secret_file, and remove url"),
                    );
                }
                if secret.is_none() {
                    problems.push(needs(
                        "its webhook address as a secret",
                        &secret_hint("TOCSIN_SLACK_WEBHOOK"),
                    ));
                }
            }
            ChannelKind::Telegram => {
                match &chat {
                    None => problems.push(needs(
                        "a chat",
                        "chat = -1001234567890 (the group's id) or \"@channelname\"",
                    )),
                    Some(c) => {
                        if let Err(e) = check_telegram_chat(&c.value) {
                            problems.push(Diagnostic::new(c.span.clone(), e.to_string()));
                        }
                    }
                }
                if secret.is_none() {
                    problems.push(needs(
                        "the bot's token as a secret",
                        &secret_hint("TOCSIN_TELEGRAM_TOKEN"),
                    ));
                }
            }
            ChannelKind::SlackApp => {
                match &chat {
                    None => problems.push(needs("a chat", "chat = \"C0123456789\" (the Slack channel's id)")),
                    Some(c)
                        if !c.value.starts_with(['C', 'G']) || !c.value.bytes().all(|b| b.is_ascii_alphanumeric()) =>
                    {
                        problems.push(
                            Diagnostic::new(c.span.clone(), format!("\"{}\" is not a Slack channel id", c.value))
                                .with_hint("copy the id from the channel's details in Slack, like C0123456789"),
                        );
                    }
                    Some(_) => {}
                }
                if secret.is_none() {
                    problems.push(needs(
                        "the app's bot token as a secret",
                        &secret_hint("TOCSIN_SLACK_BOT_TOKEN"),
                    ));
                }
                if signing_secret.is_none() {
                    problems.push(needs(
                        "its signing secret",
                        "signing_secret_env = \"TOCSIN_SLACK_SIGNING_SECRET\" or signing_secret_file = \"/run/secrets/slack-signing-secret\"",
                    ));
                }
            }
            ChannelKind::Email => {
                if url.is_none() {
                    problems.push(needs("the SMTP server's url", "url = \"smtp://mail.example.com:587\""));
                }
                match &from {
                    None => problems.push(needs("a from address", "from = \"tocsin@example.com\"")),
                    Some(f) => problems.extend(email_problem(f)),
                }
                if to.is_empty() {
                    problems.push(needs("recipients", "to = [\"security@example.com\"]"));
                }
                problems.extend(to.iter().filter_map(email_problem));
                match (&username, &secret) {
                    (Some(_), None) => problems.push(needs(
                        "the password of its username as a secret",
                        &secret_hint("TOCSIN_SMTP_PASSWORD"),
                    )),
                    (None, Some(_)) => problems.push(needs(
                        "a username for its password",
                        "username = \"tocsin@example.com\"",
                    )),
                    _ => {}
                }
            }
        }
        let tls = smtp_tls(tls.as_ref(), url.as_ref(), problems);
        let fallback_after_seconds = match fallback_after {
            None => FALLBACK_AFTER_DEFAULT,
            Some(d) => match d.value.elapsed_seconds().and_then(|s| u64::try_from(s).ok()) {
                Some(seconds) if seconds >= 1 => seconds,
                _ => {
                    problems.push(Diagnostic::new(
                        d.span,
                        "fallback_after must be an exact span of a second or more, like 5m",
                    ));
                    FALLBACK_AFTER_DEFAULT
                }
            },
        };
        if let (Some(f), Some(n)) = (&fallback, &name)
            && f.value == n.value
        {
            problems.push(Diagnostic::new(
                f.span.clone(),
                format!("channel \"{}\" cannot fall back to itself", n.value),
            ));
        }
        if let Some(name) = &name {
            seen.push((name.value.clone(), name.span.clone()));
        }
        if let (Some(name), true) = (name, problems.len() == before) {
            channels.push(Channel {
                name: name.value,
                kind,
                url: url.map(|u| u.value),
                secret,
                chat: chat.map(|c| c.value.trim().to_owned()),
                signing_secret,
                users: users.into_iter().map(|u| u.value).collect(),
                from: from.map(|f| f.value),
                to: to.into_iter().map(|t| t.value).collect(),
                username: username.map(|u| u.value),
                tls,
                ca_file: ca_file.map(|c| c.value),
                fallback: fallback.map(|f| f.value),
                fallback_after_seconds,
            });
        }
    }
    no_duplicates(
        "channel",
        seen.iter().map(|(n, span)| (n.as_str(), span.clone())),
        problems,
    );
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    for c in &channels {
        if let Some(fallback) = &c.fallback
            && !names.contains(&fallback.as_str())
        {
            let span = seen
                .iter()
                .find(|(n, _)| n == &c.name)
                .map(|(_, s)| s.clone())
                .unwrap_or(0..0);
            problems.push(
                Diagnostic::new(
                    span,
                    format!("channel \"{}\" falls back to unknown channel \"{fallback}\"", c.name),
                )
                .with_hint(match crate::id::closest(fallback, names.iter().copied()) {
                    Some(guess) => format!("did you mean \"{guess}\"?"),
                    None => "name another [[channel]] of the plan".to_owned(),
                }),
            );
        }
    }
    channels
}

/// An email channel's `tls`: how its SMTP connection is secured, checked against its url.
fn smtp_tls(tls: Option<&Located<String>>, url: Option<&Located<String>>, problems: &mut Problems) -> SmtpTls {
    match (tls, url.is_some_and(|u| u.value.starts_with("smtps://"))) {
        (None, true) => SmtpTls::Implicit,
        (None, false) => SmtpTls::default(),
        (Some(t), implicit) => match (t.value.as_str(), implicit) {
            ("implicit", _) => SmtpTls::Implicit,
            ("starttls", false) => SmtpTls::StartTls,
            ("none", false) => SmtpTls::None,
            ("starttls" | "none", true) => {
                problems.push(
                    Diagnostic::new(
                        t.span.clone(),
                        format!(
                            "an smtps:// url is TLS from the start; tls \"{}\" contradicts it",
                            t.value
                        ),
                    )
                    .with_hint("remove tls, or use smtp://"),
                );
                SmtpTls::Implicit
            }
            _ => {
                problems.push(
                    Diagnostic::new(t.span.clone(), format!("unknown tls \"{}\" in [[channel]]", t.value))
                        .with_hint("use \"starttls\" (the default), \"implicit\" or \"none\""),
                );
                SmtpTls::default()
            }
        },
    }
}

/// Whether a channel's `url` has the scheme its kind speaks, and a host.
fn url_problem(kind: ChannelKind, u: &Located<String>) -> Option<Diagnostic> {
    let schemes: &[&str] = match kind {
        ChannelKind::Email => &["smtp", "smtps"],
        _ => &["http", "https"],
    };
    let rest = schemes
        .iter()
        .find_map(|scheme| u.value.strip_prefix(scheme).and_then(|r| r.strip_prefix("://")));
    if rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace)) {
        return None;
    }
    let example = match kind {
        ChannelKind::Email => "smtp://mail.example.com:587",
        _ => "https://hooks.example.com/tocsin",
    };
    Some(
        Diagnostic::new(
            u.span.clone(),
            format!(
                "url \"{}\" in [[channel]] is not an {} URL",
                u.value,
                schemes.join(" or ")
            ),
        )
        .with_hint(format!("write it like \"{example}\"")),
    )
}
