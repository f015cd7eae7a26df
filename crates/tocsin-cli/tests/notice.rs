//! `tocsin notice`: a customer notice drafted from the preset's template, refused while a
//! blank is left, filled in with $EDITOR, sent and shown as a document; recipients from
//! CSV with a bad line named.

mod common;
use common::run;

#[test]
fn a_notice_is_drafted_filled_in_an_editor_refused_until_complete_and_sent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = run(d, None, &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(
        d,
        None,
        &[
            "incident",
            "declare",
            "--title",
            "Customer records exposed",
            "--severity",
            "P1",
            "--personal-data",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");

    let (code, _, err) = run(
        d,
        None,
        &["notice", "recipients", "INC-0001", "-"],
        b"email,name\njo@example.com,Jo\nnot-an-address,Bo\n",
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("line 3 of the recipient list: \"not-an-address\" is not an email address"),
        "{err}"
    );
    let (code, out, err) = run(
        d,
        None,
        &["notice", "recipients", "INC-0001", "-"],
        b"jo@example.com,Jo\nana@example.com\n",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Added 2 recipients to INC-0001; it has 2.");

    let (code, out, err) = run(d, None, &["notice", "draft", "INC-0001", "customers"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("INC-0001/notice 1 (customers), version 1"), "{out}");
    assert!(
        out.contains("cannot be sent yet: the notice still has a blank to fill in"),
        "{out}"
    );
    let (code, _, err) = run(d, None, &["notice", "send", "INC-0001", "1"], b"");
    assert_ne!(code, 0);
    assert!(
        err.contains("notice 1: the notice still has a blank to fill in in section"),
        "{err}"
    );

    // An editor that fills every blank in.
    let editor = d.join("fill.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i 's/\\[\\[[^]]*\\]\\]/Filled in by hand./g' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = common::tocsin(d, None)
        .args(["notice", "edit", "INC-0001", "1"])
        .env("EDITOR", &editor)
        .env_remove("VISUAL")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("version 2") && text.contains("ready to send"), "{text}");

    let (code, out, err) = run(d, None, &["notice", "send", "INC-0001", "1"], b"");
    assert_eq!(code, 0, "{err}");
    // The preset's customer notice has no channel until one is named: it is filed by hand.
    assert!(
        out.contains("sent by ops at") && out.contains("(filed by hand)"),
        "{out}"
    );
    let (code, out, err) = run(d, None, &["notice", "show", "INC-0001", "1", "--document", "html"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("<h2>What you should do</h2>\n<p>Filled in by hand.</p>"),
        "{out}"
    );
    let (code, out, _) = run(d, None, &["--json", "incident", "show", "INC-0001"], b"");
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let clock = doc["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clock"] == "customer-notice")
        .unwrap();
    assert_eq!(clock["state"], "met", "{clock}");
    // The breach register: this incident (personal data), not the other one.
    let (code, _, err) = run(
        d,
        None,
        &["incident", "declare", "--title", "Disk full", "--severity", "P3"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(
        d,
        None,
        &[
            "incident",
            "waive",
            "INC-0001",
            "gdpr-art33",
            "--reason",
            "the export was encrypted",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(d, None, &["breaches", "--csv"], b"");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[0].starts_with("incident,title,severity,status,aware_at"), "{out}");
    assert!(lines[1].starts_with("INC-0001,Customer records exposed,P1,"), "{out}");
    assert!(lines[1].contains(",not required,,the export was encrypted,"), "{out}");
    assert!(lines[1].contains(",not tracked,,,told,"), "{out}");
    // The list is personal data: addresses come off it, and it can be erased.
    let (code, out, err) = run(
        d,
        None,
        &["notice", "recipients", "INC-0001", "--remove", "Jo@Example.com"],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Removed 1 recipients from INC-0001; it has 1.");
    let (code, out, err) = run(d, None, &["notice", "recipients", "INC-0001", "--erase"], b"");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Removed 1 recipients from INC-0001; it has 0.");
    let (code, out, _) = run(d, None, &["notice", "fields"], b"");
    assert_eq!(code, 0);
    assert!(out.contains("{{ incident.affected_data_subjects }}"), "{out}");
}
