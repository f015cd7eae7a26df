//! `tocsin serve`: the web UI and the HTTP API, until SIGTERM or Ctrl-C.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use tocsin_server::Desk;
use tocsin_server::http::{self, AppState, ServerConfig};
use tocsin_server::identity::{Identity, Secret};
use tocsin_server::pipeline::{Pipeline, PipelineConfig};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

use crate::args::{LogFormat, ServeArgs};
use crate::context::{Context, PlanSource};

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("TOCSIN_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).with_current_span(false).init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

pub async fn serve(context: &Context, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    tocsin_notify::use_ring();
    init_logging(args.log_format);
    let (text, source) = context.plan_source()?;
    let plan = context.parse_plan(&text, &source)?;
    let plan_name = match &source {
        PlanSource::File(path) => path.display().to_string(),
        PlanSource::Preset(name) => format!("the {name} preset (no tocsin.toml here)"),
    };
    let store = context.store(true).await?.expect("created when missing");
    let identity = Identity::new(Arc::clone(&store));
    if let Some((name, password)) = identity
        .ensure_first_admin(context.now)
        .await
        .map_err(|e| anyhow!("{e}"))?
    {
        show_first_password(&name.to_string(), &password, &context.global.db)?;
    }
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let config = ServerConfig {
        public_url: args.public_url.clone(),
        trusted_proxies: args.trusted_proxies.clone(),
    };
    let desk = Desk::new(Arc::clone(&store), Arc::new(plan));
    tracing::info!(
        address = %address,
        database = %store.describe(),
        plan = %plan_name,
        version = env!("CARGO_PKG_VERSION"),
        "tocsin is listening on http://{address}"
    );
    let pipeline = Pipeline::start(
        desk.clone(),
        PipelineConfig {
            retention: args.retention,
            public_url: args.public_url.clone(),
            ..PipelineConfig::default()
        },
    )
    .await?;
    http::serve(
        listener,
        AppState::new(desk, identity, pipeline, config),
        shutdown_signal(),
    )
    .await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The first admin's password goes to the terminal once. Without a terminal (a service
/// manager would log it) it goes to a file only its owner may read.
fn show_first_password(name: &str, password: &Secret, db: &str) -> anyhow::Result<()> {
    if std::io::stdout().is_terminal() {
        println!(
            "\n  First start: created the admin user \"{name}\".\n  password: {}\n  It is shown only this once. Log in, then add your team with `tocsin user add`.\n",
            password.expose()
        );
        return Ok(());
    }
    let folder = tocsin_store::sqlite_path(db)
        .and_then(|p| Path::new(p).parent())
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("tocsin-data"), Path::to_path_buf);
    std::fs::create_dir_all(&folder)?;
    let path = folder.join("initial-admin-password");
    write_private(&path, &format!("{name}\n{}\n", password.expose()))
        .with_context(|| format!("cannot write {}", path.display()))?;
    tracing::warn!(
        user = name,
        file = %path.display(),
        "first start: created the admin user; its password is in the file (readable by this account only). Delete the file after logging in"
    );
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
