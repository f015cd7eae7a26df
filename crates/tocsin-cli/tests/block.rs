//! `tocsin block`: addresses and networks blocked and unblocked from the command line,
//! each change on the audit chain, bad input refused with the problem named.

mod common;
use common::run;

#[test]
fn blocks_are_added_listed_and_ended_and_bad_ones_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = format!("sqlite:{}/t.db", dir.display());
    let db = Some(db.as_str());
    let (code, out, err) = run(
        dir,
        db,
        &[
            "block",
            "add",
            "203.0.113.7",
            "--reason",
            "brute force on sshd",
            "--for",
            "24h",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Blocked 203.0.113.7/32 (block 1), until "), "{out}");
    let (code, out, err) = run(
        dir,
        db,
        &["block", "add", "2001:db8::1/32", "--reason", "scanner", "--json"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (doc["id"].as_i64(), doc["network"].as_str()),
        (Some(2), Some("2001:db8::/32"))
    );
    assert!(doc["expires"].is_null());

    for (args, says) in [
        (
            &["block", "add", "example.com", "--reason", "x"][..],
            "\"example.com\" is not an IP address",
        ),
        (
            &["block", "add", "10.0.0.0/33", "--reason", "x"][..],
            "/33 is not a prefix length",
        ),
        (
            &["block", "add", "10.0.0.1", "--reason", "  "][..],
            "the reason must be one line",
        ),
        (
            &["block", "add", "10.0.0.1", "--reason", "x", "--for", "2 business days"][..],
            "--for: a block's span must be exact",
        ),
        (
            &["block", "add", "10.0.0.1", "--reason", "x", "--incident", "nine"][..],
            "--incident",
        ),
        (&["block", "remove", "9"][..], "there is no block 9 in force"),
    ] {
        let (code, _, err) = run(dir, db, args, b"");
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }

    let (code, out, err) = run(dir, db, &["block", "list"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("203.0.113.7/32") && out.contains("2001:db8::/32"), "{out}");
    let (code, out, err) = run(dir, db, &["block", "remove", "1"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Ended block 1 of 203.0.113.7/32");
    let (_, out, _) = run(dir, db, &["block", "list", "--json"], b"");
    let list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(list.len(), 1, "{out}");
    let (_, out, _) = run(dir, db, &["block", "list", "--all"], b"");
    assert!(out.contains("ended ") && out.contains("by ops"), "{out}");

    // The plan's first version and three changes are four entries (the refusals made
    // none), and the chain holds.
    let (code, out, err) = run(dir, db, &["verify", "--json"], b"");
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (report["intact"].as_bool(), report["entries"].as_u64()),
        (Some(true), Some(4)),
        "{out}"
    );
}

#[test]
fn blocks_are_exported_as_a_plain_list_and_an_nginx_geo_include_and_a_bad_format_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = format!("sqlite:{}/t.db", dir.display());
    let db = Some(db.as_str());
    for network in ["203.0.113.7", "10.0.0.0/8"] {
        let (code, _, err) = run(dir, db, &["block", "add", network, "--reason", "x"], b"");
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = run(dir, db, &["block", "export", "--format", "plain"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("# tocsin: 2 blocks in force at "), "{out}");
    assert!(out.ends_with("10.0.0.0/8\n203.0.113.7\n"), "{out}");
    let file = dir.join("geo.conf");
    let (code, out, err) = run(
        dir,
        db,
        &[
            "block",
            "export",
            "--format",
            "nginx",
            "--output",
            file.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    let geo = std::fs::read_to_string(&file).unwrap();
    assert!(geo.ends_with("10.0.0.0/8 1;\n203.0.113.7/32 1;\n"), "{geo}");
    let (code, _, err) = run(dir, db, &["block", "export", "--format", "pf"], b"");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("--format: unknown format \"pf\"; use plain, nginx or nftables"),
        "{err}"
    );
}
