//! Email over SMTP: STARTTLS, TLS from the start, or a plain relay nearby; a login if the
//! server wants one; each message as text and HTML, with a `Message-ID` made from the
//! notification's id (a send repeated after a crash carries the same one) and, after an
//! incident's first message, `In-Reply-To` and `References` so that mail clients keep its
//! news in one thread.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tocsin_core::plan::SmtpTls;

use crate::{Channel, Message, Outcome};

/// How long one connection may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What an email channel needs, its secret read.
#[derive(Clone, Debug)]
pub struct EmailConfig<'a> {
    /// `smtp://host[:port]` (587 by default) or `smtps://host[:port]` (465).
    pub url: &'a str,
    pub tls: SmtpTls,
    pub username: Option<&'a str>,
    pub password: Option<&'a str>,
    /// A PEM certificate authority trusted beside the system's.
    pub ca_pem: Option<&'a [u8]>,
    /// The sender's name, shown beside `from`.
    pub sender: &'a str,
    pub from: &'a str,
    pub to: &'a [String],
}

pub struct Email {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
    from: Mailbox,
    to: Vec<Mailbox>,
    /// The domain of `Message-ID`s: the sender's.
    domain: String,
}

impl std::fmt::Debug for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Email")
            .field("server", &self.server)
            .field("from", &self.from.email.to_string())
            .finish_non_exhaustive()
    }
}

impl Email {
    pub fn new(config: &EmailConfig<'_>) -> Result<Self, crate::BadChannel> {
        let url: reqwest::Url = config
            .url
            .parse()
            .map_err(|e| format!("\"{}\" is not a URL: {e}", config.url))?;
        let default_port = match url.scheme() {
            "smtp" => 587,
            "smtps" => 465,
            _ => return Err(format!("\"{}\" is not an smtp:// or smtps:// URL", config.url).into()),
        };
        let host = url
            .host_str()
            .ok_or_else(|| format!("\"{}\" names no server", config.url))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url.port().unwrap_or(default_port);
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters(&host, config.ca_pem)?),
            SmtpTls::Implicit => Tls::Wrapper(tls_parameters(&host, config.ca_pem)?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(port)
            .tls(tls)
            .timeout(Some(TIMEOUT));
        match (config.username, config.password) {
            (Some(user), Some(password)) => {
                builder = builder.credentials(Credentials::new(user.to_owned(), password.to_owned()));
            }
            (None, None) => {}
            _ => return Err("an SMTP login needs both a username and a password".into()),
        }
        let mailbox = |address: &str, name: Option<&str>| -> Result<Mailbox, crate::BadChannel> {
            let email = address
                .parse()
                .map_err(|e| format!("\"{address}\" is not an email address: {e}"))?;
            Ok(Mailbox::new(name.map(str::to_owned), email))
        };
        let from = mailbox(config.from, Some(config.sender))?;
        let to = config
            .to
            .iter()
            .map(|t| mailbox(t, None))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err("an email channel needs recipients".into());
        }
        Ok(Email {
            transport: builder.build(),
            server: format!("{host}:{port}"),
            domain: from.email.domain().to_owned(),
            from,
            to,
        })
    }

    /// The `Message-ID` of a notification: the same on every attempt.
    fn message_id(&self, id: &str) -> String {
        let local: String = id
            .chars()
            .map(|c| match c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                true => c,
                false => '.',
            })
            .collect();
        format!("<tocsin.{local}@{}>", self.domain)
    }

    /// The email for `message`, to the people it names who have an address, or else to the
    /// channel's recipients.
    fn email(&self, message: &Message) -> Result<(lettre::Message, String), crate::BadChannel> {
        let message_id = self.message_id(&message.id);
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(subject(message))
            .message_id(Some(message_id.clone()))
            .user_agent(concat!("tocsin/", env!("CARGO_PKG_VERSION")).to_owned());
        let people: Vec<Mailbox> = message
            .to
            .iter()
            .filter_map(|p| {
                let email = p.email.as_deref()?.parse().ok()?;
                Some(Mailbox::new(Some(p.name.clone()), email))
            })
            .collect();
        for to in if people.is_empty() { &self.to } else { &people } {
            builder = builder.to(to.clone());
        }
        if let Some(thread) = &message.thread {
            builder = builder.in_reply_to(thread.clone()).references(thread.clone());
        }
        let email = builder
            .multipart(MultiPart::alternative_plain_html(text(message), html(message)))
            .map_err(|e| format!("the email cannot be made: {e}"))?;
        Ok((email, message_id))
    }
}

fn tls_parameters(host: &str, ca_pem: Option<&[u8]>) -> Result<TlsParameters, crate::BadChannel> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(pem) = ca_pem {
        let ca = Certificate::from_pem(pem).map_err(|e| format!("the CA file is not a PEM certificate: {e}"))?;
        builder = builder.add_root_certificate(ca);
    }
    builder
        .build_rustls()
        .map_err(|e| format!("TLS for {host} cannot be set up: {e}").into())
}

/// The same for every message about one incident, so that clients that thread by subject
/// thread them too.
pub fn subject(message: &Message) -> String {
    if message.notice.is_some() {
        return message.title.clone();
    }
    match (&message.severity, &message.incident) {
        (Some(severity), Some(incident)) => format!("[{severity}] {incident}: {}", message.title),
        (None, Some(incident)) => format!("{incident}: {}", message.title),
        _ => message.title.clone(),
    }
}

/// The message as plain text.
pub fn text(message: &Message) -> String {
    if message.notice.is_some() {
        return message.text.clone();
    }
    let mut text = format!("{}\n\n{}\n", message.heading(), message.text);
    if let Some(deadline) = &message.deadline {
        text.push_str(&format!("\nDeadline: {deadline}\n"));
    }
    if !message.to.is_empty() {
        let names: Vec<&str> = message.to.iter().map(|p| p.name.as_str()).collect();
        text.push_str(&format!("For: {}\n", names.join(", ")));
    }
    if let Some(link) = &message.link {
        text.push_str(&format!("\n{link}\n"));
    }
    if let (Some(run), Some(approve)) = (message.approve_run, &message.approve_link) {
        text.push_str(&format!(
            "\nTo approve run {run}, open this link (it works once, and only for you):\n{approve}\n"
        ));
    }
    if message.awaits_ack {
        text.push_str("\nNobody has acknowledged this incident yet.\n");
    }
    text
}

/// Escaped for HTML text and attribute values alike.
fn escape(text: &str) -> String {
    crate::escape(text).replace('"', "&quot;")
}

/// The message as HTML: the same parts, for clients that show HTML.
pub fn html(message: &Message) -> String {
    if message.notice.is_some() {
        return format!(
            "<!doctype html><html><body style=\"font-family:sans-serif;max-width:40em\">{}</body></html>",
            tocsin_core::notice::to_html(&message.text)
        );
    }
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{}</h2><p>{}</p>",
        escape(&message.heading()),
        escape(&message.text)
    );
    if let Some(deadline) = &message.deadline {
        html.push_str(&format!("<p><strong>Deadline:</strong> {}</p>", escape(deadline)));
    }
    if !message.to.is_empty() {
        let names: Vec<String> = message.to.iter().map(|p| escape(&p.name)).collect();
        html.push_str(&format!("<p>For: {}</p>", names.join(", ")));
    }
    if message.awaits_ack {
        html.push_str("<p><strong>Nobody has acknowledged this incident yet.</strong></p>");
    }
    if let Some(link) = &message.link {
        html.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>", escape(link)));
    }
    if let (Some(run), Some(approve)) = (message.approve_run, &message.approve_link) {
        html.push_str(&format!(
            "<p><a href=\"{}\"><strong>Approve run {run}</strong></a> (the link works once, and only for you)</p>",
            escape(approve)
        ));
    }
    html.push_str("</body></html>");
    html
}

#[async_trait]
impl Channel for Email {
    fn threads(&self) -> bool {
        true
    }

    async fn send(&self, message: &Message) -> Outcome {
        let (email, message_id) = match self.email(message) {
            Ok(made) => made,
            Err(error) => return Outcome::Refused { error: error.0 },
        };
        match self.transport.send(email).await {
            // The first email about an incident starts its thread.
            Ok(_) => Outcome::Delivered {
                thread: Some(message_id),
            },
            Err(e) if e.is_permanent() => Outcome::Refused {
                error: format!("{}: {e}", self.server),
            },
            Err(e) => Outcome::Retry {
                error: format!("{}: {e}", self.server),
                after: None,
            },
        }
    }
}
