//! The `tocsin` binary as the tests run it.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};

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
