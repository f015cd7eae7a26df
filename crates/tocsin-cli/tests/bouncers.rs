//! Real CrowdSec bouncers from Debian's packages enforcing tocsin's blocks through its
//! Local API: `crowdsec-custom-bouncer`, which runs a program for each decision, and
//! `crowdsec-firewall-bouncer`, which fills nftables sets, run in a network namespace of
//! the test's own so that the machine's firewall is never touched. A block added with
//! `tocsin block add` reaches them; a removal or an expiry takes it away.
//!
//! They run when the bouncers are installed (`.ci/ensure-bouncers`); with
//! `TOCSIN_REQUIRE_BOUNCERS` set (as in CI), their absence fails the tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{Server, run, serve};

const CUSTOM: &str = "/usr/bin/crowdsec-custom-bouncer";
const FIREWALL: &str = "/usr/bin/crowdsec-firewall-bouncer";

/// Whether the bouncers are here; when they are not, says so loudly, or fails where they
/// are required.
fn bouncers_present(what: &[&str]) -> bool {
    let missing: Vec<&&str> = what.iter().filter(|p| !Path::new(p).exists()).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("TOCSIN_REQUIRE_BOUNCERS").is_none(),
        "TOCSIN_REQUIRE_BOUNCERS is set but {missing:?} is missing (run .ci/ensure-bouncers)"
    );
    eprintln!("\n*** SKIPPED: the bouncer tests need Debian's CrowdSec bouncers (run .ci/ensure-bouncers) ***\n");
    false
}

/// A new bouncer integration's key.
fn bouncer_key(dir: &Path, name: &str) -> String {
    let (code, out, err) = run(
        dir,
        None,
        &["--json", "integration", "add", "crowdsec-bouncer", "--name", name],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert!(doc["use"].as_str().unwrap().contains("api_key: "), "{out}");
    doc["key"].as_str().unwrap().to_owned()
}

fn block(dir: &Path, args: &[&str]) -> i64 {
    let mut all = vec!["--json", "block", "add"];
    all.extend_from_slice(args);
    let (code, out, err) = run(dir, None, &all, b"");
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<Value>(&out).unwrap()["id"].as_i64().unwrap()
}

fn unblock(dir: &Path, id: i64) {
    let (code, _, err) = run(dir, None, &["block", "remove", &id.to_string()], b"");
    assert_eq!(code, 0, "{err}");
}

/// Waits up to `within` for `check`; how long it took.
fn until(what: &str, within: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while start.elapsed() < within {
        if check() {
            return start.elapsed();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not happen within {within:?}");
}

fn init(dir: &Path) {
    let (code, _, err) = run(dir, None, &["init", "--preset", "four-tier"], b"");
    assert_eq!(code, 0, "{err}");
}

fn bouncer_config(dir: &Path, name: &str, address: &str, key: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "{body}update_frequency: 1s\ndaemonize: false\nlog_mode: stdout\nlog_level: info\n\
             api_url: http://{address}/\napi_key: {key}\nprometheus:\n  enabled: false\n  \
             listen_addr: 127.0.0.1\n  listen_port: 60602\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn the_custom_bouncer_runs_its_program_for_each_block_and_again_when_it_ends() {
    if !bouncers_present(&[CUSTOM]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(d);
    let (server, address) = serve(d, None);
    let key = bouncer_key(d, "custom");
    let seen = d.join("decisions.log");
    let program = d.join("enforce.sh");
    std::fs::write(&program, format!("#!/bin/sh\necho \"$@\" >> {}\n", seen.display())).unwrap();
    std::fs::set_permissions(&program, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = bouncer_config(
        d,
        "custom.yaml",
        &address,
        &key,
        &format!(
            "bin_path: {}\nfeed_via_stdin: false\ntotal_retries: 0\nscenarios_containing: []\n\
             scenarios_not_containing: []\norigins: []\npiddir: {}/\ncache_retention_duration: 10s\n",
            program.display(),
            d.display()
        ),
    );
    let _bouncer = Server(
        Command::new(CUSTOM)
            .args(["-c", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let lines = || std::fs::read_to_string(&seen).unwrap_or_default();
    let has = |prefix: &str| lines().lines().any(|l| l.starts_with(prefix));

    let day = block(d, &["203.0.113.7", "--reason", "brute force on /login", "--for", "24h"]);
    let took = until("the block reaching the bouncer", Duration::from_secs(20), || {
        has("add 203.0.113.7 ")
    });
    eprintln!("a block reached crowdsec-custom-bouncer (1 s poll) in {took:?}");
    let added = lines();
    let line = added.lines().find(|l| l.starts_with("add 203.0.113.7 ")).unwrap();
    // add IP SECONDS REASON JSON: a day's seconds, less what passed.
    let seconds: i64 = line.split(' ').nth(2).unwrap().parse().unwrap();
    assert!((86_000..=86_400).contains(&seconds), "{line}");
    assert!(line.contains("brute force on /login"), "{line}");
    assert!(line.contains(r#""origin":"tocsin""#), "{line}");

    unblock(d, day);
    until("the unblock reaching the bouncer", Duration::from_secs(20), || {
        has("del 203.0.113.7 ")
    });

    // A network, for a few seconds: added, then deleted when it expires.
    block(d, &["2001:db8::/32", "--reason", "scanner", "--for", "3s"]);
    until("the network reaching the bouncer", Duration::from_secs(20), || {
        has("add 2001:db8::/32 ")
    });
    until("the expiry reaching the bouncer", Duration::from_secs(20), || {
        has("del 2001:db8::/32 ")
    });
    // Each reached it once.
    let all = lines();
    for prefix in [
        "add 203.0.113.7 ",
        "del 203.0.113.7 ",
        "add 2001:db8::/32 ",
        "del 2001:db8::/32 ",
    ] {
        assert_eq!(
            all.lines().filter(|l| l.starts_with(prefix)).count(),
            1,
            "{prefix}: {all}"
        );
    }
    server.stop();
}

/// A network namespace of the test's own, deleted however the test ends.
struct Namespace(String);

impl Namespace {
    fn new() -> Option<Namespace> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("tocsin-test-{}-{n}", std::process::id());
        let made = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .ok()?
            .success();
        if !made {
            return None;
        }
        let ns = Namespace(name);
        assert!(ns.exec(&["ip", "link", "set", "lo", "up"]).status.success());
        Some(ns)
    }

    fn exec(&self, args: &[&str]) -> std::process::Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(args)
            .output()
            .unwrap()
    }

    /// The elements of an nftables set, as `nft` lists them.
    fn set(&self, family: &str, table: &str, set: &str) -> String {
        let out = self.exec(&["nft", "list", "set", family, table, set]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn the_firewall_bouncer_puts_blocks_in_its_nftables_sets_and_takes_them_out() {
    if !bouncers_present(&[FIREWALL, "/usr/sbin/nft"]) {
        return;
    }
    let Some(ns) = Namespace::new() else {
        assert!(
            std::env::var_os("TOCSIN_REQUIRE_BOUNCERS").is_none(),
            "TOCSIN_REQUIRE_BOUNCERS is set but no network namespace can be made here (the test needs root)"
        );
        eprintln!("\n*** SKIPPED: the firewall bouncer test needs a network namespace of its own (root) ***\n");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(d);
    // The server and the bouncer share the namespace's loopback; the CLI reaches the
    // server's database, not its network.
    let (server, address) = serve(d, Some(&ns.0));
    let key = bouncer_key(d, "firewall");
    let config = bouncer_config(
        d,
        "firewall.yaml",
        &address,
        &key,
        &format!(
            "mode: nftables\npid_dir: {}/\ninsecure_skip_verify: false\ndisable_ipv6: false\n\
             deny_action: DROP\ndeny_log: false\nsupported_decisions_types:\n  - ban\n\
             blacklists_ipv4: crowdsec-blacklists\nblacklists_ipv6: crowdsec6-blacklists\n\
             nftables:\n  ipv4:\n    enabled: true\n    set-only: false\n    table: crowdsec\n    \
             chain: crowdsec-chain\n  ipv6:\n    enabled: true\n    set-only: false\n    table: crowdsec6\n    \
             chain: crowdsec6-chain\n",
            d.display()
        ),
    );
    let mut bouncer = Command::new("ip");
    bouncer
        .args(["netns", "exec", &ns.0, FIREWALL, "-c", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _bouncer = Server(bouncer.spawn().unwrap());

    let one = block(d, &["192.0.2.7", "--reason", "brute force", "--for", "1h"]);
    let took = until("the block in the nftables set", Duration::from_secs(20), || {
        ns.set("ip", "crowdsec", "crowdsec-blacklists").contains("192.0.2.7")
    });
    eprintln!("a block reached crowdsec-firewall-bouncer (1 s poll) in {took:?}");
    // An address without an end. (Debian's firewall bouncer, 0.0.25, makes sets without
    // intervals, so it would hold a network by its first address only: the README says so.)
    let v6 = block(d, &["2001:db8:7::9", "--reason", "scanner"]);
    until("the IPv6 address in its set", Duration::from_secs(20), || {
        ns.set("ip6", "crowdsec6", "crowdsec6-blacklists")
            .contains("2001:db8:7::9")
    });

    unblock(d, one);
    until("the unblock taking it out", Duration::from_secs(20), || {
        !ns.set("ip", "crowdsec", "crowdsec-blacklists").contains("192.0.2.7")
    });
    unblock(d, v6);
    until("the IPv6 unblock taking it out", Duration::from_secs(20), || {
        !ns.set("ip6", "crowdsec6", "crowdsec6-blacklists")
            .contains("2001:db8:7::9")
    });
    server.stop();
}

#[test]
fn the_nftables_export_loads_into_nft_again_and_again_with_networks_and_addresses() {
    if !bouncers_present(&["/usr/sbin/nft"]) {
        return;
    }
    let Some(ns) = Namespace::new() else {
        assert!(
            std::env::var_os("TOCSIN_REQUIRE_BOUNCERS").is_none(),
            "TOCSIN_REQUIRE_BOUNCERS is set but no network namespace can be made here (the test needs root)"
        );
        eprintln!("\n*** SKIPPED: the nftables export test needs a network namespace of its own (root) ***\n");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    init(d);
    let script = d.join("blocks.nft");
    let load = || {
        let (code, _, err) = run(
            d,
            None,
            &[
                "block",
                "export",
                "--format",
                "nftables",
                "--output",
                script.to_str().unwrap(),
            ],
            b"",
        );
        assert_eq!(code, 0, "{err}");
        let out = ns.exec(&["nft", "-f", script.to_str().unwrap()]);
        assert!(
            out.status.success(),
            "nft refused the script: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // Empty, then with blocks, then again with fewer: each load replaces the sets' elements.
    load();
    assert!(!ns.set("inet", "tocsin", "blocked_v4").contains("elements"));
    block(d, &["10.0.0.0/8", "--reason", "x"]);
    let inner = block(d, &["10.1.0.0/16", "--reason", "covered by the /8"]);
    let one = block(d, &["192.0.2.7", "--reason", "x"]);
    block(d, &["2001:db8::/32", "--reason", "x"]);
    load();
    let v4 = ns.set("inet", "tocsin", "blocked_v4");
    assert!(v4.contains("10.0.0.0/8") && v4.contains("192.0.2.7"), "{v4}");
    assert!(ns.set("inet", "tocsin", "blocked_v6").contains("2001:db8::/32"));
    unblock(d, one);
    unblock(d, inner);
    load();
    let v4 = ns.set("inet", "tocsin", "blocked_v4");
    assert!(v4.contains("10.0.0.0/8") && !v4.contains("192.0.2.7"), "{v4}");
    assert!(!script.with_file_name("blocks.nft.partial").exists());
}
