//! The `tocsin` binary as the tests run it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// `tocsin` in `dir` on the database `db`, or on its default one in `dir` when `None`.
pub fn tocsin(dir: &Path, db: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tocsin"));
    command
        .current_dir(dir)
        .env_remove("TOCSIN_PLAN")
        .env("TOCSIN_ACTOR", "ops")
        .env("NO_COLOR", "1");
    match db {
        Some(db) => command.env("TOCSIN_DB", db),
        None => command.env_remove("TOCSIN_DB"),
    };
    command
}

/// Runs `tocsin ARGS` with `stdin` as its input: the exit code, standard output and error.
pub fn run(dir: &Path, db: Option<&str>, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = tocsin(dir, db)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Appends `text` to the plan `tocsin init` wrote in `dir`.
pub fn add_to_plan(dir: &Path, text: &str) {
    let plan = dir.join("tocsin.toml");
    let mut source = std::fs::read_to_string(&plan).unwrap();
    source.push_str(text);
    std::fs::write(&plan, source).unwrap();
}

/// A server process, killed however the test ends (a failed assertion included).
pub struct Server(pub Child);

impl Server {
    /// Stops it now.
    pub fn stop(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tocsin serve` (inside `netns` when given) on the default database in `dir`, and the
/// address it listens on.
pub fn serve(dir: &Path, netns: Option<&str>) -> (Server, String) {
    let mut command = match netns {
        None => tocsin(dir, None),
        Some(ns) => {
            let inner = tocsin(dir, None);
            let mut command = Command::new("ip");
            command.args(["netns", "exec", ns]).arg(inner.get_program());
            for (name, value) in inner.get_envs() {
                match value {
                    Some(value) => command.env(name, value),
                    None => command.env_remove(name),
                };
            }
            command.current_dir(dir);
            command
        }
    };
    let mut server = Server(
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = server.0.stderr.take().unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let line = received.recv_timeout(Duration::from_secs(30)).expect("the server logs");
        if let Ok(entry) = serde_json::from_str::<Value>(&line)
            && let Some(address) = entry["address"].as_str()
        {
            // Keep reading, so that the server never blocks on a full pipe.
            std::thread::spawn(move || while received.recv().is_ok() {});
            return (server, address.to_owned());
        }
    }
    panic!("the server never said where it listens");
}
