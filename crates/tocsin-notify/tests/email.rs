//! The email channel against a real SMTP server on loopback (Python's aiosmtpd, which
//! `.ci/ensure-python` installs): STARTTLS and TLS from the start with a private CA, a
//! login, the multipart message with its Message-ID, threading, and what the server's
//! refusals mean.

use std::io::Write;

use tocsin_core::plan::SmtpTls;
use tocsin_notify::email::{Email, EmailConfig};
use tocsin_notify::testing::{SmtpSink, header, smtp_server_available};
use tocsin_notify::{Channel, Message, Outcome, Recipient};

/// A certificate authority of the test's own, and a certificate for 127.0.0.1 it signed:
/// (CA PEM, certificate file, key file).
fn certificates(dir: &std::path::Path) -> (String, String, String) {
    let made = tocsin_notify::testing::certificates(365);
    let cert_file = dir.join("server.pem");
    let key_file = dir.join("server.key");
    std::fs::File::create(&cert_file)
        .unwrap()
        .write_all(made.cert_pem.as_bytes())
        .unwrap();
    std::fs::write(&key_file, made.key_pem).unwrap();
    (
        made.ca_pem,
        cert_file.display().to_string(),
        key_file.display().to_string(),
    )
}

fn message(id: &str) -> Message {
    Message {
        id: id.into(),
        kind: "declared".into(),
        incident: Some("INC-0007".into()),
        severity: Some("P1".into()),
        title: "Credential compromise <admin>".into(),
        text: "Declared by jo: a login succeeded after 7 failures".into(),
        deadline: Some("Acknowledge due 2026-01-05 10:15 UTC (12m left)".into()),
        link: Some("https://tocsin.example.com/incidents/INC-0007".into()),
        awaits_ack: true,
        ..Message::default()
    }
}

fn email(url: &str, tls: SmtpTls, login: Option<(&str, &str)>, ca: Option<&str>) -> Email {
    Email::new(&EmailConfig {
        url,
        tls,
        username: login.map(|l| l.0),
        password: login.map(|l| l.1),
        ca_pem: ca.map(str::as_bytes),
        sender: "tocsin · Example",
        from: "tocsin@example.com",
        to: &["security@example.com".to_owned()],
    })
    .unwrap()
}

#[tokio::test]
async fn starttls_with_a_login_sends_text_and_html_with_a_message_id_and_threads_the_incident() {
    if !smtp_server_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let sink = SmtpSink::start(&["--starttls", &cert, &key, "--login", "tocsin:s3cret"]);
    let url = format!("smtp://127.0.0.1:{}", sink.port);
    let mail = email(&url, SmtpTls::StartTls, Some(("tocsin", "s3cret")), Some(&ca));

    let first = mail.send(&message("audit-9:mail")).await;
    let Outcome::Delivered { thread: Some(thread) } = first else {
        panic!("{first:?}")
    };
    assert_eq!(thread, "<tocsin.audit-9.mail@example.com>");
    let got = sink.wait_for(1, None).await;
    assert_eq!(got[0]["tls"], true);
    assert_eq!(got[0]["authenticated"], true);
    assert_eq!(got[0]["mail_from"], "tocsin@example.com");
    assert_eq!(got[0]["rcpt_tos"], serde_json::json!(["security@example.com"]));
    let data = got[0]["data"].as_str().unwrap();
    assert_eq!(header(data, "Message-ID"), Some(thread.as_str()));
    assert_eq!(
        header(data, "Subject"),
        Some("[P1] INC-0007: Credential compromise <admin>")
    );
    assert!(
        header(data, "Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{data}"
    );
    assert!(data.contains("Content-Type: text/plain; charset=utf-8"), "{data}");
    assert!(data.contains("Content-Type: text/html; charset=utf-8"), "{data}");
    assert!(data.contains("Credential compromise &lt;admin&gt;"), "{data}");
    assert!(data.contains("Nobody has acknowledged this incident yet."), "{data}");
    assert!(header(data, "In-Reply-To").is_none());

    // The next message about the incident goes in its thread, to the people it names.
    let next = Message {
        id: "escalate:7:1:0:mail".into(),
        kind: "escalation".into(),
        to: vec![Recipient {
            name: "Jo Smith".into(),
            email: Some("jo@example.com".into()),
            telegram: None,
            slack: None,
        }],
        thread: Some(thread.clone()),
        ..message("escalate:7:1:0:mail")
    };
    assert!(matches!(mail.send(&next).await, Outcome::Delivered { .. }));
    let got = sink.wait_for(2, None).await;
    let data = got[1]["data"].as_str().unwrap();
    assert_eq!(header(data, "In-Reply-To"), Some(thread.as_str()));
    assert_eq!(header(data, "References"), Some(thread.as_str()));
    assert_eq!(got[1]["rcpt_tos"], serde_json::json!(["jo@example.com"]));
    assert_eq!(header(data, "To"), Some("\"Jo Smith\" <jo@example.com>"));

    // A wrong password is refused for good; a server that is not trusted is not sent to.
    let wrong = email(&url, SmtpTls::StartTls, Some(("tocsin", "wrong")), Some(&ca));
    let outcome = wrong.send(&message("audit-11:mail")).await;
    assert!(
        matches!(&outcome, Outcome::Refused { error } if error.contains("535")),
        "{outcome:?}"
    );
    let untrusted = email(&url, SmtpTls::StartTls, Some(("tocsin", "s3cret")), None);
    let outcome = untrusted.send(&message("audit-12:mail")).await;
    assert!(
        matches!(&outcome, Outcome::Retry { error, .. } if error.to_lowercase().contains("certificate")),
        "{outcome:?}"
    );
    // Without TLS, this server does not take the message.
    let plain = email(&url, SmtpTls::None, None, None);
    let outcome = plain.send(&message("audit-13:mail")).await;
    assert!(matches!(&outcome, Outcome::Refused { .. }), "{outcome:?}");
    assert_eq!(sink.messages().len(), 2);
}

#[tokio::test]
async fn implicit_tls_works_and_a_busy_server_is_tried_again() {
    if !smtp_server_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let sink = SmtpSink::start(&["--implicit", &cert, &key, "--busy", "1"]);
    let mail = email(
        &format!("smtps://127.0.0.1:{}", sink.port),
        SmtpTls::Implicit,
        None,
        Some(&ca),
    );
    let busy = mail.send(&message("audit-1:mail")).await;
    assert!(
        matches!(&busy, Outcome::Retry { error, after: None } if error.contains("451")),
        "{busy:?}"
    );
    assert!(matches!(
        mail.send(&message("audit-1:mail")).await,
        Outcome::Delivered { .. }
    ));
    let got = sink.wait_for(1, None).await;
    assert_eq!(got[0]["tls"], true);
}

#[test]
fn bad_settings_are_named() {
    let config = |url| EmailConfig {
        url,
        tls: SmtpTls::StartTls,
        username: Some("tocsin"),
        password: None,
        ca_pem: None,
        sender: "tocsin",
        from: "tocsin@example.com",
        to: &[],
    };
    let err = |url| Email::new(&config(url)).unwrap_err().to_string();
    assert!(err("http://mail.example.com").contains("is not an smtp:// or smtps:// URL"));
    assert_eq!(
        err("smtp://mail.example.com"),
        "an SMTP login needs both a username and a password"
    );
}

#[test]
fn an_approval_link_is_offered_only_in_a_message_that_carries_one() {
    let with = Message {
        approve_run: Some(2),
        approve_link: Some("https://tocsin.example.com/approve/abc".into()),
        ..message("audit-9:mail:approve:cai")
    };
    assert!(
        tocsin_notify::email::text(&with).contains(
            "To approve run 2, open this link (it works once, and only for you):\nhttps://tocsin.example.com/approve/abc\n"
        ),
        "{}",
        tocsin_notify::email::text(&with)
    );
    assert!(
        tocsin_notify::email::html(&with)
            .contains("<a href=\"https://tocsin.example.com/approve/abc\"><strong>Approve run 2</strong></a>")
    );
    let without = Message {
        approve_run: Some(2),
        ..message("audit-9:mail")
    };
    assert!(!tocsin_notify::email::text(&without).contains("approve"));
    assert!(!tocsin_notify::email::html(&without).contains("/approve/"));
}
