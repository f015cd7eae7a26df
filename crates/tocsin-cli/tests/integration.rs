//! `tocsin integration` for Sentry: the DSN it prints, and a webhook's client secret,
//! read from a file or the environment and never shown again.

mod common;
use common::{run, tocsin};

#[test]
fn sentry_integrations_print_their_dsn_and_take_a_webhook_secret_from_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = format!("sqlite:{}/t.db", dir.display());
    let db = Some(db.as_str());
    let url = ["--url", "https://tocsin.example.com"];
    let (code, out, err) = run(
        dir,
        db,
        &[&["integration", "add", "sentry", "--name", "shop"][..], &url].concat(),
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let key = out.lines().find_map(|l| l.trim().strip_prefix("key: ")).unwrap();
    assert!(
        out.contains(&format!("dsn = \"https://{key}@tocsin.example.com/1\"")),
        "{out}"
    );

    // A webhook's secret: never on the command line; from a file, or later from a variable.
    std::fs::write(dir.join("secret"), "  0123456789abcdef0123456789abcdef\n").unwrap();
    let args = [
        "integration",
        "add",
        "sentry-webhook",
        "--name",
        "alerts",
        "--secret-file",
        "secret",
    ];
    let (code, out, err) = run(dir, db, &[&args[..], &url].concat(), b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("https://tocsin.example.com/api/v1/webhooks/sentry/"),
        "{out}"
    );
    assert!(!out.contains("tocsin integration secret"), "the secret is set: {out}");
    let (code, out, _) = run(
        dir,
        db,
        &[&["integration", "add", "sentry-webhook", "--name", "later"][..], &url].concat(),
        b"",
    );
    assert_eq!(code, 0);
    assert!(out.contains("tocsin integration secret later --secret-env"), "{out}");
    let set = tocsin(dir, db)
        .args(["integration", "secret", "later", "--secret-env", "SENTRY_CLIENT_SECRET"])
        .env("SENTRY_CLIENT_SECRET", "fedcba9876543210fedcba9876543210")
        .output()
        .unwrap();
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));

    // Bad secrets are refused, naming the problem.
    std::fs::write(dir.join("short"), "abc").unwrap();
    let (code, _, err) = run(
        dir,
        db,
        &["integration", "secret", "later", "--secret-file", "short"],
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("shorter than 16"), "{err}");
    let (code, _, err) = run(
        dir,
        db,
        &["integration", "secret", "shop", "--secret-file", "secret"],
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("only sentry-webhook"), "{err}");
    let (code, _, err) = run(
        dir,
        db,
        &["integration", "secret", "later", "--secret-env", "NOT_SET_ANYWHERE"],
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("NOT_SET_ANYWHERE is not set"), "{err}");
    let (code, _, err) = run(
        dir,
        db,
        &[
            "integration",
            "add",
            "pagerduty",
            "--name",
            "pd",
            "--secret-file",
            "secret",
        ],
        b"",
    );
    assert_eq!(code, 1);
    assert!(err.contains("for sentry-webhook"), "{err}");

    // The secret is not shown by the list.
    let (_, out, _) = run(dir, db, &["integration", "list", "--json"], b"");
    assert!(!out.contains("0123456789abcdef0123456789abcdef"), "{out}");
    assert!(!out.contains("fedcba9876543210"), "{out}");
}

#[test]
fn a_vercel_drain_takes_its_verification_value_and_no_other_kind_does() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = format!("sqlite:{}/t.db", dir.display());
    let db = Some(db.as_str());
    let (code, out, err) = run(
        dir,
        db,
        &[
            "integration",
            "add",
            "vercel",
            "--name",
            "drain",
            "--verify",
            "f00dcafe",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("--verify VALUE"), "the setup says how: {out}");
    for (args, says) in [
        (
            &["integration", "add", "heartbeat", "--name", "beat", "--verify", "f00d"][..],
            "--verify is for vercel integrations",
        ),
        (
            &[
                "integration",
                "add",
                "vercel",
                "--name",
                "spaced",
                "--verify",
                "two words",
            ][..],
            "--verify must be the value Vercel shows",
        ),
    ] {
        let (code, _, err) = run(dir, db, args, b"");
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(says), "{err}");
    }
}
