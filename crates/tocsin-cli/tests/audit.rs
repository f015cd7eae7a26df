//! `tocsin audit run|show|list`: the daily audit on demand from the command line, against
//! an offline OSV export, with a lockfile it cannot read said by name; the report kept,
//! listed, shown as JSON, and its entry on the audit chain, which still verifies.

mod common;

use common::run;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tocsin-core/tests/fixtures");

#[test]
fn the_audit_runs_on_demand_and_its_reports_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_owned();
    let (code, _, err) = run(&d, None, &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
    let broken = d.join("package-lock.json");
    std::fs::write(&broken, "{\"lockfileVersion\": 3, \"packages\": [").unwrap();
    let plan = d.join("tocsin.toml");
    let source = std::fs::read_to_string(&plan).unwrap().replace(
        "[daily_audit]\n",
        &format!(
            "[daily_audit]\nlockfiles = [\"{FIXTURES}/lockfiles/Gemfile.lock\", \"{}\"]\nosv_dir = \"{FIXTURES}/osv\"\nfreshness = false\n",
            broken.display()
        ),
    );
    std::fs::write(&plan, source).unwrap();

    let (code, out, err) = run(&d, None, &["audit", "list"], b"");
    assert_eq!((code, out.trim()), (0, "The audit has not run yet."), "{err}");
    let (code, out, err) = run(&d, None, &["audit", "run"], b"");
    assert_eq!(code, 1, "findings make the exit code 1: {out}{err}");
    assert!(out.starts_with("Report 1: Daily security audit: 2 findings"), "{out}");
    assert!(
        out.contains("[dependencies] nokogiri 1.13.9 (RubyGems) is affected by TEST-NOKOGIRI"),
        "{out}"
    );
    assert!(out.contains("Severity LOW; fixed in 1.13.10"), "{out}");
    assert!(
        out.contains(&format!("The lockfile {} could not be read", broken.display())),
        "{out}"
    );
    assert!(out.contains("freshness not checked: the plan turns it off"), "{out}");
    assert!(out.contains("Security headers: not set up."), "{out}");

    let (code, out, err) = run(&d, None, &["audit", "list"], b"");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("REPORT") && out.contains("ops"), "{out}");
    let (code, out, err) = run(&d, None, &["--json", "audit", "show"], b"");
    assert_eq!(code, 0, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["id"], 1);
    assert_eq!(shown["report"]["by"], "ops");
    assert_eq!(shown["report"]["changes"]["first"], true);
    let (code, _, err) = run(&d, None, &["audit", "show", "7"], b"");
    assert_eq!(code, 1);
    assert!(err.contains("there is no audit report 7"), "{err}");
    let (code, out, err) = run(&d, None, &["verify"], b"");
    assert_eq!(code, 0, "the chain holds the report's entry: {out}{err}");
}
