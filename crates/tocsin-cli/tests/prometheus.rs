//! Real Prometheus tools against `tocsin serve`: `amtool alert add` and `amtool alert
//! query` with a bearer token from `--http.config.file`, and a Prometheus server that
//! lists tocsin under `alerting.alertmanagers` and whose firing rule opens an incident.
//! Both come from Debian's packages (`.ci/ensure-alerting` installs them).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{Server, run, tocsin};

const AMTOOL: &str = "/usr/bin/amtool";
const PROMETHEUS: &str = "/usr/bin/prometheus";

/// Whether amtool and Prometheus are here; in CI they must be.
fn tools_available() -> bool {
    let ok = Path::new(AMTOOL).exists() && Path::new(PROMETHEUS).exists();
    if !ok {
        assert!(
            std::env::var_os("TOCSIN_REQUIRE_ALERTING").is_none(),
            "TOCSIN_REQUIRE_ALERTING is set but amtool or prometheus is missing (run .ci/ensure-alerting)"
        );
        eprintln!(
            "\n*** SKIPPED: the Prometheus tests need Debian's prometheus and prometheus-alertmanager (run .ci/ensure-alerting) ***\n"
        );
    }
    ok
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn amtool(dir: &Path, url: &str, auth: bool, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(AMTOOL);
    command.arg(format!("--alertmanager.url={url}"));
    if auth {
        command.arg(format!("--http.config.file={}", dir.join("http.yml").display()));
    }
    let out = command.args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn amtool_and_prometheus_send_to_tocsin_unchanged() {
    if !tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let db = format!("sqlite:{}/t.db", dir.display());
    assert_eq!(run(dir, Some(&db), &["init"], b"").0, 0);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let (code, out, err) = run(
        dir,
        Some(&db),
        &[
            "integration",
            "add",
            "alertmanager",
            "--name",
            "prometheus",
            "--url",
            &url,
            "--json",
        ],
        b"",
    );
    assert_eq!(code, 0, "{err}");
    let added: Value = serde_json::from_str(&out).unwrap();
    let key = added["key"].as_str().unwrap().to_owned();
    assert!(added["use"].as_str().unwrap().contains(&format!("credentials: {key}")));
    std::fs::write(
        dir.join("http.yml"),
        format!("authorization:\n  type: Bearer\n  credentials: {key}\n"),
    )
    .unwrap();
    let _server = Server(
        tocsin(dir, Some(&db))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("tocsin to listen", Duration::from_secs(30), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).ok()
    });

    // amtool adds an alert and finds it again; without the token it is refused.
    let (ok, _, err) = amtool(
        dir,
        &url,
        true,
        &[
            "alert",
            "add",
            "DiskFull",
            "instance=db-1",
            "severity=critical",
            "--annotation=summary=disk full on db-1",
        ],
    );
    assert!(ok, "amtool alert add: {err}");
    let (ok, out, err) = amtool(dir, &url, true, &["alert", "query", "-o", "json", "alertname=DiskFull"]);
    assert!(ok, "amtool alert query: {err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed[0]["labels"]["instance"], "db-1", "{out}");
    assert_eq!(listed[0]["annotations"]["summary"], "disk full on db-1");
    let (ok, out, _) = amtool(dir, &url, true, &["alert", "query"]);
    assert!(
        ok && out.contains("DiskFull") && out.contains("disk full on db-1"),
        "{out}"
    );
    let (ok, _, _) = amtool(dir, &url, false, &["alert", "add", "Sneaky", "severity=critical"]);
    assert!(!ok, "an alert without the key is refused");

    // Prometheus, told only where tocsin is and the key, sends its firing rule.
    std::fs::write(
        dir.join("rules.yml"),
        "groups:\n  - name: test\n    interval: 1s\n    rules:\n      - alert: BackupsMissing\n        expr: vector(1)\n        labels:\n          severity: critical\n        annotations:\n          summary: no backup in 24 hours\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  evaluation_interval: 1s\nrule_files: [\"{}\"]\nalerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"127.0.0.1:{port}\"]\n      authorization:\n        credentials: {key}\n",
            dir.join("rules.yml").display()
        ),
    )
    .unwrap();
    let _prometheus = Server(
        Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{}", free_port()))
            // Alerts fired before the first discovery are dropped; resend soon after.
            .arg("--rules.alert.resend-delay=1s")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let incident = wait_until(
        "Prometheus's alert to open an incident",
        Duration::from_secs(60),
        || {
            let (_, out, _) = run(dir, Some(&db), &["incident", "list", "--json"], b"");
            let list: Value = serde_json::from_str(&out).ok()?;
            list.as_array()?
                .iter()
                .find(|i| i["title"].as_str().unwrap_or("").contains("no backup in 24 hours"))
                .cloned()
        },
    );
    assert_eq!(incident["severity"], "P1");

    // The integration counts what came, with the last payload.
    let counted = wait_until("the counts", Duration::from_secs(10), || {
        let (_, out, _) = run(dir, Some(&db), &["integration", "list", "--json"], b"");
        let list: Value = serde_json::from_str(&out).ok()?;
        let first = list.get(0)?.clone();
        first["last_payload"]
            .as_str()
            .is_some_and(|p| p.contains("BackupsMissing"))
            .then_some(first)
    });
    assert!(counted["accepted"].as_u64().unwrap() >= 2, "{counted}");
}
