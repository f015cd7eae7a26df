//! `tocsin`: the one binary. Exit codes: 0 ok, 1 a problem with the input or the data, 2 usage.
#![forbid(unsafe_code)]
// A panic in a running server is an outage: library code says what went wrong instead.
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod action;
mod admin;
mod args;
mod audit;
mod block;
mod context;
mod describe;
mod detection;
mod evidence;
mod incident;
mod ingest;
mod integration;
mod keys;
mod notice;
mod notify;
mod plan;
mod probe;
mod render;
mod serve;
mod show;
mod switches;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

/// Events are made on the request threads and freed by the writer and the detectors on
/// others; glibc's allocator serializes that on a lock, mimalloc does not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::args::{Cli, Command};
use crate::context::Context;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The server, and ingest (which reads while it stores), use every core; other commands
    // run on one thread.
    let mut builder = match cli.command {
        Command::Serve(_) | Command::Ingest(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let context = Context::new(cli.global);
    match runtime.block_on(run(&context, cli.command)) {
        Ok(code) => code,
        Err(e) => {
            // One line that names the problem, whatever its causes looked like.
            let message = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

async fn run(context: &Context, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Init(args) => plan::init(context, &args),
        Command::Plan(command) => plan::run(context, command).await,
        Command::Incident(command) => incident::run(context, *command).await,
        Command::Clocks => show::clocks(context).await,
        Command::Verify(args) => show::verify(context, &args.heads).await,
        Command::Keys(command) => keys::run(context, &command).await,
        Command::Serve(args) => serve::serve(context, &args).await,
        Command::Ingest(args) => ingest::ingest(context, &args).await,
        Command::Logins(args) => detection::logins(context, &args).await,
        Command::Signals(args) => detection::signals(context, &args).await,
        Command::Events(command) => detection::events(context, &command).await,
        Command::Notify(args::NotifyCommand::Test { channel }) => notify::test(context, &channel).await,
        Command::Outbox(args::OutboxCommand::List { state, channel, limit }) => {
            notify::list(context, state.as_deref(), channel, limit).await
        }
        Command::Outbox(args::OutboxCommand::Retry { id }) => notify::retry(context, id).await,
        Command::Outbox(args::OutboxCommand::Health) => notify::health(context).await,
        Command::User(command) => admin::user(context, command).await,
        Command::Token(command) => admin::token(context, command).await,
        Command::Integration(command) => integration::run(context, command).await,
        Command::Block(command) => block::run(context, command).await,
        Command::Action(command) => action::run(context, command).await,
        Command::Maintenance(command) => switches::maintenance(context, command).await,
        Command::Agent(command) => switches::agent(context, command).await,
        Command::Evidence(command) => evidence::run(context, command).await,
        Command::Notice(command) => notice::run(context, command).await,
        Command::Breaches { csv } => notice::breaches(context, csv).await,
        Command::Probe(command) => probe::run(context, command).await,
        Command::Audit(command) => audit::run(context, command).await,
    }
}

/// Prints what a command produced: one block, with its trailing newline. A reader that
/// went away (`tocsin incident list | head -1`) ends the command quietly: what it did is
/// done, and nobody is left to read the rest.
fn emit(text: &str) {
    match try_emit(text) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot write the output: {e}");
            std::process::exit(1);
        }
    }
}

/// Prints one block, or says why it could not: a command that shows a secret only once
/// undoes what made the secret when nobody could read it.
fn try_emit(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    out.flush()
}
