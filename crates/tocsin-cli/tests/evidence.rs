//! `tocsin evidence`: files kept as evidence of an incident, exported with SHA256SUMS that
//! `sha256sum -c` checks, and verified.

mod common;
use common::run;

#[test]
fn evidence_is_added_exported_with_its_sums_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = run(d, None, &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(
        d,
        None,
        &["incident", "declare", "--title", "Leak", "--severity", "P2"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    std::fs::write(
        d.join("auth.log"),
        "Jan  5 03:00:01 host sshd[1]: Failed password for root\n",
    )
    .unwrap();
    let (code, out, err) = run(
        d,
        None,
        &["evidence", "add", "INC-0001", "auth.log", "--note", "the sshd log"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Kept auth.log as evidence 1 of INC-0001"), "{out}");
    let (code, _, err) = run(
        d,
        None,
        &[
            "evidence", "add", "INC-0001", "-", "--name", "ps.txt", "--kind", "output",
        ],
        b"root 1 init\n",
    );
    assert_eq!(code, 0, "{err}");
    for (args, says) in [
        (
            &["evidence", "add", "INC-0001", "missing.log"][..],
            "cannot read missing.log",
        ),
        (
            &["evidence", "add", "INC-0009", "auth.log"][..],
            "unknown incident INC-0009",
        ),
        (&["evidence", "add", "INC-0001", "-"][..], "give --name"),
        (
            &["evidence", "add", "INC-0001", "auth.log", "--kind", "photo"][..],
            "evidence is one of",
        ),
    ] {
        let (code, _, err) = run(d, None, args, b"");
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let (_, out, _) = run(d, None, &["evidence", "list", "INC-0001"], b"");
    assert!(out.contains("auth.log") && out.contains("ps.txt"), "{out}");
    let out_dir = d.join("export");
    let (code, out, err) = run(
        d,
        None,
        &["evidence", "export", "INC-0001", out_dir.to_str().unwrap()],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Wrote 2 item(s)"), "{out}");
    let check = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(&out_dir)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let (code, out, _) = run(d, None, &["evidence", "verify", "INC-0001"], b"");
    assert_eq!(
        (code, out.trim()),
        (0, "All 2 item(s) of INC-0001 match their SHA-256.")
    );
    // Additions and exports are on the chain, which still verifies.
    let (code, out, _) = run(d, None, &["--json", "verify"], b"");
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap()["intact"], true);
}
