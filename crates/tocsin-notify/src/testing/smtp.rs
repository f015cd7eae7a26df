//! A real SMTP server on loopback: `tests/support/smtp_sink.py` (aiosmtpd, which
//! `.ci/ensure-python` installs), one JSON line per message it accepts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// Whether Python with aiosmtpd is here. Without it a test says loudly that it skipped;
/// with `TOCSIN_REQUIRE_SMTP` set (as CI sets it) it fails instead.
pub fn smtp_server_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("TOCSIN_REQUIRE_SMTP").is_none(),
            "TOCSIN_REQUIRE_SMTP is set but python3 cannot import aiosmtpd (run .ci/ensure-python)"
        );
        eprintln!("\n*** SKIPPED: this test needs python3 with aiosmtpd (run .ci/ensure-python) ***\n");
    }
    ok
}

/// A running SMTP server and the messages it accepted, each
/// `{"mail_from", "rcpt_tos", "data", "text", "tls", "authenticated"}` (`text`: the plain
/// text part, decoded).
#[derive(Debug)]
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    got: Arc<Mutex<Vec<Value>>>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    /// Starts one on a free port of 127.0.0.1 with the script's options (`--starttls CERT
    /// KEY`, `--implicit CERT KEY`, `--login USER:PASSWORD`, `--busy N`).
    pub fn start(args: &[&str]) -> SmtpSink {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        let got = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&got);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(serde_json::from_str(&line).unwrap());
            }
        });
        SmtpSink { child, port, got }
    }

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn messages(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }

    /// The messages, once there are at least `count` (within 5 seconds, or `within`).
    pub async fn wait_for(&self, count: usize, within: Option<Duration>) -> Vec<Value> {
        let deadline = std::time::Instant::now() + within.unwrap_or(Duration::from_secs(5));
        loop {
            let got = self.messages();
            if got.len() >= count {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{count} messages expected, got {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A header's value in a raw message.
pub fn header<'a>(data: &'a str, name: &str) -> Option<&'a str> {
    data.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}
