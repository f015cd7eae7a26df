//! `tocsin serve`: the web UI and the HTTP API, until SIGTERM or Ctrl-C.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use tocsin_server::Desk;
use tocsin_server::app::{App, AppSettings};
use tocsin_server::http::ServerConfig;
use tocsin_server::services::identity::{Identity, Secret};
use tocsin_server::services::plans::{ActivePlan, PlanProblem, PlanText};
use tocsin_server::services::seal::{Keyring, key_name};
use tocsin_server::workers::PipelineConfig;
use tocsin_store::plans::Applied;
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
    let (local, source) = context.plan_text()?;
    // A plan file given or found here is applied when it differs (configuration as code);
    // without one the database keeps its plan, and only a new one takes the preset.
    let file = matches!(source, PlanSource::File(_)).then_some(local.clone());
    let store = context.store(true).await?.expect("created when missing");
    let actor = context.actor()?;
    let desk = match &file {
        Some(file) => {
            let (desk, applied) = Desk::open(Arc::clone(&store), file, &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            if let Applied::New(version) = applied {
                tracing::info!(version = version.version, source = %version.source, "applied the plan file as a new version");
            }
            desk
        }
        None => {
            let active = ActivePlan::of(&*store, || local.clone(), &actor, context.now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            Desk::new(Arc::clone(&store), active)
        }
    };
    let desk = desk.with_seal(context.seal_paths());
    let (keyring, made) = Keyring::open_or_create(&context.seal_paths().key).map_err(|e| anyhow!("{e}"))?;
    let warnings = store.deployment_warnings().await?;
    let identity = Identity::new(Arc::clone(&store));
    if let Some((name, password)) = identity
        .ensure_first_admin(context.now)
        .await
        .map_err(|e| anyhow!("{e}"))?
    {
        show_first_password(&name.to_string(), &password, &context.data_folder())?;
    }
    let listener = TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let config = ServerConfig {
        public_url: args.public_url.clone(),
        trusted_proxies: args.trusted_proxies.clone(),
        header_timeout: args
            .header_timeout
            .unsigned_abs()
            .max(std::time::Duration::from_secs(1)),
        max_connections: args.max_connections as usize,
    };
    let active = desk.active_plan();
    tracing::info!(
        address = %address,
        database = %store.describe(),
        plan = %format!("version {} ({})", active.version.version, active.version.source),
        version = env!("CARGO_PKG_VERSION"),
        "tocsin is listening on http://{address}"
    );
    tracing::info!(
        key = %key_name(&keyring.public()),
        file = %keyring.path().display(),
        heads = %context.seal_paths().heads.display(),
        "{} the key that signs the audit chain's head",
        if made { "made" } else { "using" }
    );
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    if let Some(file) = file {
        tokio::spawn(reapply_on_hangup(desk.clone(), context.plan_path(), file.source, actor));
    }
    let settings = AppSettings {
        server: config,
        pipeline: PipelineConfig {
            retention: args.retention,
            ..PipelineConfig::default()
        },
    };
    App::build(store, desk, identity, settings)
        .await?
        .serve(listener, shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The first admin's password goes to the terminal once. Without a terminal (a service
/// manager would log it) it goes to a file only its owner may read.
fn show_first_password(name: &str, password: &Secret, folder: &Path) -> anyhow::Result<()> {
    if std::io::stdout().is_terminal() {
        println!(
            "\n  First start: created the admin user \"{name}\".\n  password: {}\n  It is shown only this once. Log in, then add your team with `tocsin user add`.\n",
            password.expose()
        );
        return Ok(());
    }
    std::fs::create_dir_all(folder)?;
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

/// On SIGHUP the plan file is read again and applied when it differs; an invalid one is
/// reported and the plan in force stays.
#[cfg(unix)]
async fn reapply_on_hangup(desk: Desk, path: PathBuf, source: String, actor: tocsin_core::incident::Actor) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        return;
    };
    while hangups.recv().await.is_some() {
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(file = %path.display(), "SIGHUP: cannot read the plan file ({e}); the plan in force stays");
                continue;
            }
        };
        let file = PlanText {
            text,
            source: source.clone(),
        };
        match desk.apply_plan(&file, &actor, tocsin_core::Timestamp::now()).await {
            Ok(Applied::New(version)) => {
                tracing::info!(
                    version = version.version,
                    "SIGHUP: applied the plan file as a new version"
                );
            }
            Ok(Applied::Kept(version)) => {
                tracing::info!(
                    version = version.version,
                    "SIGHUP: the plan file is the active version already"
                );
            }
            Err(tocsin_server::DeskError::Plan(PlanProblem::Invalid { origin, text, error })) => {
                tracing::error!(
                    "SIGHUP: the plan in force stays; {}",
                    error.render(&origin, &text).replace('\n', "; ")
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "SIGHUP: the plan file could not be applied; the plan in force stays");
            }
        }
    }
}

#[cfg(not(unix))]
async fn reapply_on_hangup(_: Desk, _: PathBuf, _: String, _: tocsin_core::incident::Actor) {}

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
