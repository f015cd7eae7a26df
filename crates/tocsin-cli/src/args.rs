//! The command line: `tocsin <noun> <verb>`, parsed by clap (usage errors exit with 2).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const DEFAULT_DB: &str = "sqlite:tocsin-data/tocsin.db";

#[derive(Debug, Parser)]
#[command(
    name = "tocsin",
    version,
    about = "Run your security incident response plan: incidents, deadlines, audit trail.",
    after_help = "Times for --at and friends: 2026-11-20T09:12:00Z, 2026-11-20 10:12 (in the plan's time zone), or 15m ago."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Database: sqlite:PATH or postgres://USER@HOST/DB.
    #[arg(long, env = "TOCSIN_DB", global = true, default_value = DEFAULT_DB, hide_env_values = true)]
    pub db: String,
    /// The plan file [default: ./tocsin.toml, or the four-tier preset when there is none].
    #[arg(long, env = "TOCSIN_PLAN", global = true)]
    pub plan: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Who is acting [default: the login name].
    #[arg(long = "as", value_name = "NAME", env = "TOCSIN_ACTOR", global = true)]
    pub actor: Option<String>,
    /// The key that signs the audit chain, kept out of the database (mode 600) [default:
    /// signing.key beside an SQLite database, else in ./tocsin-data].
    #[arg(long, value_name = "FILE", env = "TOCSIN_SIGNING_KEY", global = true)]
    pub key: Option<PathBuf>,
    /// The append-only file of signed chain heads [default: signed-heads.jsonl beside the
    /// key].
    #[arg(long, value_name = "FILE", env = "TOCSIN_SIGNED_HEADS", global = true)]
    pub heads: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented tocsin.toml from a preset.
    Init(InitArgs),
    /// The plan: check a file, apply it, show, compare and list the versions.
    #[command(subcommand)]
    Plan(PlanCommand),
    /// Declare and work incidents.
    #[command(subcommand)]
    Incident(Box<IncidentCommand>),
    /// List every running clock, soonest due first.
    Clocks,
    /// Recompute the audit chain, check it against the heads tocsin signed, and check
    /// every incident, plan, user, token and integration against it.
    Verify(VerifyArgs),
    /// The key that signs the audit chain: show its public half, or replace it.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Run the server: the web UI and the HTTP API.
    Serve(ServeArgs),
    /// The daily security audit: run it now, show a report, list the reports.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Read events from a file or standard input into the event log.
    Ingest(IngestArgs),
    /// The login trail: authentication attempts, newest first.
    Logins(LoginsArgs),
    /// What the detectors found, newest first.
    Signals(SignalsArgs),
    /// Read the event log: events by number, as signals cite them, or the newest of a kind.
    #[command(subcommand)]
    Events(EventsCommand),
    /// Notifications: try a channel.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// The outbox: notifications waiting, sent and dead.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Manage the people who may log in.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage integrations: Alertmanager, PagerDuty-style senders, Sentry, heartbeat pushes.
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Block addresses and networks, and end blocks.
    #[command(subcommand)]
    Block(BlockCommand),
    /// The plan's actions: run them on incidents, approve, reject and undo their runs.
    #[command(subcommand)]
    Action(ActionCommand),
    /// Maintenance mode of the plan's services, which apps poll.
    #[command(subcommand)]
    Maintenance(MaintenanceCommand),
    /// Agents told to pause, and resumed.
    #[command(subcommand)]
    Agent(AgentCommand),
    /// Evidence of incidents, kept by SHA-256 and never changed.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Notices to customers, the supervisory authority and data subjects: drafted from the
    /// plan's templates, checked, approved and sent to the incident's recipients.
    #[command(subcommand)]
    Notice(NoticeCommand),
    /// The plan's probes: list them, or run one now.
    #[command(subcommand)]
    Probe(ProbeCommand),
    /// The breach register (GDPR Art. 33(5)): every incident involving personal data, and
    /// whether and when the authority, the data subjects and the customers were told.
    Breaches {
        /// As CSV, for auditors and spreadsheets.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Run the eight checks now, keep the report, fire its findings and send its digest,
    /// as the daily run does; exits 1 when it found something or a check could not run.
    Run,
    /// A report, the latest when no id is given: each check, its findings and what changed.
    Show { id: Option<i64> },
    /// The reports kept, newest first.
    List {
        #[arg(long, default_value_t = 30)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProbeCommand {
    /// The plan's probes: what each checks, and how often.
    List,
    /// Run a probe now and say what it found; exits 1 when it fails. The run is not
    /// recorded: the server's schedule is what turns a probe up or down.
    Run { probe: String },
    /// A probe's state and its runs by the hour (the last 48) and by the day (the last 90),
    /// as the server's probes recorded them.
    History {
        probe: String,
        /// By the day instead of by the hour.
        #[arg(long)]
        days: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum NoticeCommand {
    /// The fields a notice's template may name.
    Fields,
    /// Draft a notice of a kind (customers, authority, data-subjects, status-update,
    /// summary, or an obligation's id) from the plan's template.
    Draft {
        incident: String,
        kind: String,
        /// Open it in $EDITOR at once.
        #[arg(long)]
        edit: bool,
    },
    /// An incident's notices.
    List { incident: String },
    /// One notice and its text; with --document, the document to file or print.
    Show {
        incident: String,
        notice: u32,
        /// markdown or html.
        #[arg(long)]
        document: Option<String>,
    },
    /// Revise a notice in $EDITOR (or from a file): its next version.
    Edit {
        incident: String,
        notice: u32,
        /// Take the text from this file (- for standard input).
        #[arg(long)]
        file: Option<String>,
        #[arg(long)]
        subject: Option<String>,
    },
    /// Approve the notice's current version, as TOCSIN_ACTOR.
    Approve { incident: String, notice: u32 },
    /// Send it: the running server emails it to each of the incident's recipients (or,
    /// without a channel, it is recorded as filed).
    Send {
        incident: String,
        notice: u32,
        /// Why it goes after its deadline (required then: GDPR Art. 33(1)).
        #[arg(long)]
        late_reason: Option<String>,
    },
    /// Add recipients from a CSV file (email,name per line; - for standard input); without
    /// a file, how many there are.
    Recipients {
        incident: String,
        file: Option<String>,
        /// Remove this address instead; repeat for several.
        #[arg(long, value_name = "EMAIL", conflicts_with = "file")]
        remove: Vec<String>,
        /// Erase the incident's whole list (once its notices are sent).
        #[arg(long, conflicts_with_all = ["file", "remove"])]
        erase: bool,
    },
    /// How a sent notice's emails went: sent, retrying, dead and why.
    Status { incident: String, notice: u32 },
}

#[derive(Debug, Subcommand)]
pub enum EvidenceCommand {
    /// Keep a file (or - for standard input) as evidence of an incident.
    Add {
        incident: String,
        file: PathBuf,
        /// The name it is kept under; the file's own by default.
        #[arg(long)]
        name: Option<String>,
        /// file (the default), output or note.
        #[arg(long, default_value = "file")]
        kind: String,
        /// What it is, in a few words.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// An incident's evidence.
    List { incident: String },
    /// Write an incident's evidence into a folder, with SHA256SUMS; each item's export is
    /// on the audit chain.
    Export { incident: String, folder: PathBuf },
    /// Hash every item of an incident again and compare with what was recorded.
    Verify { incident: String },
}

#[derive(Debug, Subcommand)]
pub enum MaintenanceCommand {
    /// Turn maintenance mode on for a service of the plan.
    On {
        service: String,
        /// Why, in one line; it is on the audit chain.
        #[arg(long)]
        reason: String,
        /// How long it is expected to last, like 2h.
        #[arg(long = "for")]
        lasts: Option<String>,
        /// The incident it is for, like INC-0001.
        #[arg(long)]
        incident: Option<String>,
    },
    /// Turn it off.
    Off { service: String },
    /// Each service of the plan, in maintenance or not; with --all, every time one was.
    Status {
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Tell an agent to pause: its heartbeats are answered so, and its silence is no stale
    /// agent.
    Pause {
        agent: String,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        incident: Option<String>,
    },
    /// Tell it to run again.
    Resume { agent: String },
    /// The agents told to pause.
    List,
}

#[derive(Debug, Subcommand)]
pub enum ActionCommand {
    /// The plan's actions; with an incident, its runs.
    List { incident: Option<String> },
    /// Ask for a run of an action on an incident; the running server carries it out once
    /// it is approved as the plan says.
    Run {
        incident: String,
        action: String,
        /// An input, as NAME=VALUE; repeat for several. A secret input is where the secret
        /// is kept: env:NAME or file:/PATH.
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Only print what it would send, secrets masked; nothing is recorded or sent.
        #[arg(long)]
        dry_run: bool,
        /// Wait (up to two minutes) for it to finish, and print how it ended.
        #[arg(long)]
        wait: bool,
    },
    /// Approve a run waiting for approval, as TOCSIN_ACTOR.
    Approve { incident: String, run: u32 },
    /// Reject a run that has not started.
    Reject {
        incident: String,
        run: u32,
        #[arg(long)]
        reason: String,
    },
    /// Ask for the undo of a run that succeeded.
    Undo { incident: String, run: u32 },
    /// One run: its inputs, approvals, attempts and outcome.
    Show { incident: String, run: u32 },
}

#[derive(Debug, Subcommand)]
pub enum BlockCommand {
    /// Block an address or a network (203.0.113.7, 10.0.0.0/8, 2001:db8::/32).
    Add {
        network: String,
        /// Why, in one line; it is on the audit chain.
        #[arg(long)]
        reason: String,
        /// How long it lasts, like 24h; without it, until removed.
        #[arg(long = "for")]
        lasts: Option<String>,
        /// The incident it is for, like INC-0001.
        #[arg(long)]
        incident: Option<String>,
    },
    /// End a block now.
    Remove { id: i64 },
    /// The blocks in force.
    List {
        /// The ended ones too.
        #[arg(long)]
        all: bool,
    },
    /// The blocks in force, for a setup without a bouncer: a plain list, lines for an
    /// nginx geo block, or an nft -f script. Run it every minute or so.
    Export {
        /// plain, nginx or nftables.
        #[arg(long)]
        format: String,
        /// Write here (whole, by renaming a new file over it) instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A file of signed heads kept elsewhere (a copy of the heads file, or the line a
    /// channel received) to check the chain against too; repeat for several.
    #[arg(long = "head", value_name = "FILE")]
    pub heads: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the public key that checks the signed heads, and the keys it replaced.
    Show,
    /// Make a new signing key; the old one signs the hand-over and still verifies what it
    /// signed.
    Rotate,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "TOCSIN_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The address people use, like https://tocsin.example.com; with https, cookies are
    /// Secure and responses carry HSTS.
    #[arg(long, env = "TOCSIN_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A reverse proxy whose X-Forwarded-For is believed (repeat for several).
    #[arg(
        long = "trusted-proxy",
        value_name = "IP",
        env = "TOCSIN_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// How long events (and the login trail) are kept, like 90d or 2w.
    #[arg(long, env = "TOCSIN_RETENTION", default_value = "90d", value_parser = elapsed)]
    pub retention: jiff::SignedDuration,
    /// Log lines for people (auto: on a terminal) or as JSON.
    #[arg(long, value_enum, env = "TOCSIN_LOG_FORMAT", default_value = "auto")]
    pub log_format: LogFormat,
    /// How long a client has to send a request's headers, and a kept-alive connection may
    /// stay idle, like 10s.
    #[arg(long, env = "TOCSIN_HEADER_TIMEOUT", default_value = "10s", value_parser = elapsed)]
    pub header_timeout: jiff::SignedDuration,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, env = "TOCSIN_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The file to read; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// ndjson: one event per line as the API takes them; sshd: an OpenSSH log (syslog,
    /// RFC 5424, journal lines or `journalctl -o json`); nginx: its access log (combined
    /// format) or error log; caddy, traefik: their JSON access logs; postgres: PostgreSQL's
    /// log (stderr or jsonlog); auto: told from the first lines.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: IngestFormat,
    /// Keep reading as the file grows, also after it is rotated, until interrupted; run
    /// again, it goes on where it stopped (the rest of a file rotated meanwhile first).
    #[arg(long)]
    pub follow: bool,
    /// The year of the first line, for syslog times that carry none [default: the year the
    /// file was last changed].
    #[arg(long)]
    pub year: Option<i16>,
    /// The time zone the log was written in, for times that carry none [default: this
    /// machine's].
    #[arg(long)]
    pub timezone: Option<String>,
    /// A path whose 401 and 403 answers in an nginx access log are failed logins (repeat
    /// for several) [default: /login, /signin, /sign_in, /session, /auth, /wp-login.php].
    #[arg(long = "login-path", value_name = "PATH")]
    pub login_paths: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoginsArgs {
    /// Only attempts from this address.
    #[arg(long)]
    pub ip: Option<String>,
    /// Only attempts with this user name.
    #[arg(long)]
    pub user: Option<String>,
    /// Only attempts at or after this time, like "2026-11-20 09:00" or "2h ago".
    #[arg(long)]
    pub since: Option<String>,
    /// success or failure.
    #[arg(long)]
    pub outcome: Option<String>,
    /// How many to show.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct SignalsArgs {
    /// Only this detector's signals, like brute_force.
    #[arg(long)]
    pub detector: Option<String>,
    /// Only signals about this key, like an IP address.
    #[arg(long)]
    pub key: Option<String>,
    /// How many to show.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Show events by their numbers in the log, like the sample events of a signal.
    Show {
        #[arg(required = true, value_name = "SEQ")]
        seqs: Vec<u64>,
    },
    /// The newest events, filtered.
    List(EventListArgs),
}

#[derive(Debug, Args)]
pub struct EventListArgs {
    /// Only this kind: auth, request, error, vault_access, heartbeat, rate_limit, custom, alert.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only events from this origin, like api:shipper or a file given to `tocsin ingest`.
    #[arg(long)]
    pub origin: Option<String>,
    /// Only events from this address.
    #[arg(long)]
    pub address: Option<String>,
    /// Only events about this account (a login's user, a vault principal, an agent).
    #[arg(long)]
    pub account: Option<String>,
    /// Only events that happened at or after this time, like "2026-11-20 09:00" or "2h ago".
    #[arg(long)]
    pub since: Option<String>,
    /// Only events that happened at or before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// How many to show (at most 500).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IngestFormat {
    Auto,
    Ndjson,
    Sshd,
    Nginx,
    Caddy,
    Traefik,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Auto,
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; without --password-stdin a random password is printed once.
    Add {
        name: String,
        /// viewer, responder or admin.
        #[arg(long, default_value = "responder")]
        role: String,
        /// Read the password from standard input instead.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Stop a user from logging in; their sessions end at once.
    Disable { name: String },
    /// Let a disabled user log in again.
    Enable { name: String },
    /// Set a new password (random and printed once, or from --password-stdin); sessions end.
    Passwd {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's role.
    Role { name: String, role: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once.
    Create {
        #[arg(long)]
        name: String,
        /// Comma-separated: read, respond, ingest, admin.
        #[arg(long = "scope", value_name = "SCOPES")]
        scopes: String,
        /// Expire after this long, like 90d or 1 month.
        #[arg(long)]
        expires: Option<String>,
    },
    /// List tokens (never the tokens themselves).
    List,
    /// Revoke a token by name or id.
    Revoke { token: String },
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Add an integration and print its key, once, with how to point the tool at tocsin.
    Add {
        /// alertmanager, pagerduty, sentry, sentry-webhook, heartbeat or vercel.
        kind: String,
        #[arg(long)]
        name: String,
        /// The address the tool reaches tocsin at, for the addresses printed.
        #[arg(long, env = "TOCSIN_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        /// heartbeat: how long it may be silent before it is stale, like 10m.
        #[arg(long)]
        stale_after: Option<String>,
        /// vercel: the x-vercel-verify value Vercel shows when the drain is added; tocsin
        /// answers with it.
        #[arg(long)]
        verify: Option<String>,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// List integrations with what they sent.
    List,
    /// Set the secret a sentry-webhook or vercel integration's deliveries are signed with.
    Secret {
        name: String,
        #[command(flatten)]
        secret: SecretArgs,
    },
    /// Remove an integration: its key stops working.
    Remove { name: String },
}

/// Where a secret is read from: never the command line, which other users can see.
#[derive(Debug, Args)]
pub struct SecretArgs {
    /// sentry-webhook, vercel: read the integration's secret from this environment variable.
    #[arg(long, conflicts_with = "secret_file")]
    pub secret_env: Option<String>,
    /// sentry-webhook, vercel: read the integration's secret from this file.
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PresetName {
    FourTier,
    ThreeTier,
}

impl PresetName {
    pub fn as_str(self) -> &'static str {
        match self {
            PresetName::FourTier => "four-tier",
            PresetName::ThreeTier => "three-tier",
        }
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// four-tier (P1-P4) or three-tier (P0-P2).
    #[arg(long, value_enum, default_value = "four-tier")]
    pub preset: PresetName,
    /// Overwrite an existing plan file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Notifications, newest first.
    List {
        /// Only these: pending, sent or dead.
        #[arg(long)]
        state: Option<String>,
        /// Only this channel's.
        #[arg(long)]
        channel: Option<String>,
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Send a dead notification again.
    Retry {
        /// Its number, from `tocsin outbox list`.
        id: i64,
    },
    /// How each channel of the plan delivers: working, or failing since when and why, and
    /// its fallback.
    Health,
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Send a test message to a channel of the plan now, and say whether it arrived.
    Test {
        /// The channel's name in the plan.
        channel: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Validate the whole plan and report every problem at once.
    Check,
    /// Validate a plan file and make it the database's active version.
    Apply {
        /// The plan file [default: --plan, or ./tocsin.toml].
        file: Option<PathBuf>,
    },
    /// Print the active plan (or another version) as it was applied.
    Show {
        /// The version to print [default: the active one].
        #[arg(long)]
        version: Option<u64>,
    },
    /// Show how a plan file differs from the active version.
    Diff {
        /// The plan file [default: --plan, or ./tocsin.toml].
        file: Option<PathBuf>,
    },
    /// Every version applied, newest first.
    History,
}

/// `--at`: when it happened, for backfilling; defaults to now.
#[derive(Debug, Args)]
pub struct At {
    /// When it happened (past only) [default: now].
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Declare a new incident.
    Declare(DeclareArgs),
    /// List incidents (by default those not closed or dismissed), newest first.
    List(ListArgs),
    /// Show one incident: clocks, steps, roles, timeline.
    Show { id: String },
    /// Acknowledge an incident.
    Ack {
        id: String,
        #[command(flatten)]
        at: At,
    },
    /// Assign the owner and roles.
    Assign {
        id: String,
        /// The owner ("" to clear).
        #[arg(long)]
        owner: Option<String>,
        /// A role and who holds it, like incident-commander=jo ("role=" to clear).
        #[arg(long = "role", value_name = "ROLE=NAME")]
        roles: Vec<String>,
        #[command(flatten)]
        at: At,
    },
    /// Change the severity, with a reason.
    Severity {
        id: String,
        severity: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        at: At,
    },
    /// Work a response step: start, done, check N or uncheck N.
    Step {
        id: String,
        /// The step's id or position (1, 2, ...).
        step: String,
        #[command(subcommand)]
        action: StepAction,
    },
    /// Add a note to the timeline.
    Note {
        id: String,
        text: String,
        #[command(flatten)]
        at: At,
    },
    /// Mark or unmark the incident as a personal data breach.
    PersonalData {
        id: String,
        #[arg(value_enum)]
        action: MarkAction,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        at: At,
    },
    /// Record a notice sent: customers, authority, data-subjects, status-update, or an obligation id.
    Notice {
        id: String,
        kind: String,
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        at: At,
    },
    /// Resolve an incident.
    Resolve {
        id: String,
        #[arg(long)]
        summary: Option<String>,
        #[command(flatten)]
        at: At,
    },
    /// Close a resolved incident. Refused while a customer or regulatory clock runs, a
    /// step is not done or a required role is empty, unless --override says why.
    Close {
        id: String,
        /// Close with that work open, for this reason (kept on the timeline).
        #[arg(long = "override", value_name = "REASON", alias = "override-review")]
        override_reason: Option<String>,
        #[command(flatten)]
        at: At,
    },
    /// Edit the title or the summary.
    Edit {
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        summary: Option<String>,
        #[command(flatten)]
        at: At,
    },
    /// Say who is affected: whether customers are, and how many customers and data subjects.
    Impact {
        id: String,
        /// yes, no or unknown; the plan says which answers start the customer-notice clock.
        #[arg(long, value_name = "ANSWER")]
        customers: Option<String>,
        #[arg(long, value_name = "N")]
        affected_customers: Option<u64>,
        #[arg(long, value_name = "N")]
        affected_data_subjects: Option<u64>,
        #[command(flatten)]
        at: At,
    },
    /// Mark an obligation (like gdpr-art34) or customer-notice not required, with the reason.
    Waive {
        id: String,
        /// The obligation's clock id, as `incident show` lists it.
        obligation: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        at: At,
    },
    /// Dismiss an incident as a false positive.
    Dismiss {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        at: At,
    },
    /// Reopen a resolved, closed or dismissed incident.
    Reopen {
        id: String,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        at: At,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MarkAction {
    Mark,
    Unmark,
}

#[derive(Debug, Subcommand)]
pub enum StepAction {
    Start {
        #[command(flatten)]
        at: At,
    },
    Done {
        #[command(flatten)]
        at: At,
    },
    /// Check checklist item N (1-based).
    Check {
        item: u32,
        #[command(flatten)]
        at: At,
    },
    Uncheck {
        item: u32,
        #[command(flatten)]
        at: At,
    },
}

#[derive(Debug, Args)]
pub struct DeclareArgs {
    #[arg(long)]
    pub title: String,
    #[arg(long)]
    pub severity: String,
    #[arg(long, default_value = "")]
    pub summary: String,
    /// Who reported it [default: --as].
    #[arg(long)]
    pub reporter: Option<String>,
    /// Personal data is involved (starts the GDPR clocks).
    #[arg(long)]
    pub personal_data: bool,
    /// When it was declared (past only) [default: now].
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// When it was detected [default: awareness time].
    #[arg(long, value_name = "TIME")]
    pub detected_at: Option<String>,
    /// When the organization became aware of it [default: declaration time].
    #[arg(long, value_name = "TIME")]
    pub aware_at: Option<String>,
    /// Whether customers are affected: yes, no or unknown [default: what
    /// --affected-customers says (0 is no), else unknown].
    #[arg(long, value_name = "ANSWER")]
    pub customers: Option<String>,
    #[arg(long, value_name = "N")]
    pub affected_customers: Option<u64>,
    #[arg(long, value_name = "N")]
    pub affected_data_subjects: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these statuses (declared, acknowledged, resolved, closed, dismissed), or all.
    #[arg(long, value_delimiter = ',')]
    pub status: Vec<String>,
    /// Every status, closed and dismissed included.
    #[arg(long, conflicts_with = "status")]
    pub all: bool,
    #[arg(long, value_delimiter = ',')]
    pub severity: Vec<String>,
    #[arg(long)]
    pub owner: Option<String>,
    /// Text in the title.
    #[arg(long)]
    pub search: Option<String>,
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

/// An exact span of time, like `90d` or `36h`; business days and months are refused.
fn elapsed(text: &str) -> Result<jiff::SignedDuration, String> {
    let duration = tocsin_core::duration::Duration::parse(text).map_err(|e| format!("{e}; {}", e.hint))?;
    duration
        .elapsed_seconds()
        .map(jiff::SignedDuration::from_secs)
        .ok_or_else(|| format!("\"{text}\" must be an exact span like 90d, not business days or months"))
}
