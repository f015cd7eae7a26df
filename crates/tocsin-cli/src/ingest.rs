//! `tocsin ingest`: events from a file or standard input into the event log: NDJSON as
//! senders write it, or an OpenSSH log read attempt by attempt. With `--follow` it keeps
//! reading as the file grows and when it is rotated, and a restart goes on where it stopped:
//! how far the file was read is stored with the events of its lines.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use jiff::tz::TimeZone;
use tocsin_core::Timestamp;
use tocsin_core::event::MAX_LINE_BYTES;
use tocsin_server::documents::{IngestReport, RejectDoc};
use tocsin_server::ingest::{LOGIN_PATHS, LineFormat, LineReader};
use tocsin_server::workers::detection::Detector;
use tocsin_store::Store;
use tocsin_store::duty::{Duty, OnDuty};
use tocsin_store::events::{FilePosition, NewEvent};
use tokio::sync::mpsc;

use crate::args::{IngestArgs, IngestFormat};
use crate::context::Context;
use crate::emit;

/// Events written per transaction.
const BATCH: usize = 10_000;
/// How often a followed file is looked at again.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// Reads up to the next line break, and returns how many bytes it read. At most one byte
/// more than an event may take is kept in `buf`, so that a line without end costs no
/// memory and is still refused as too long; the rest of it is read past.
fn read_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let keep = MAX_LINE_BYTES + 1;
    let mut read = 0;
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(read);
        }
        let (used, done) = match available.iter().position(|b| *b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        let room = keep.saturating_sub(buf.len());
        buf.extend_from_slice(&available[..used.min(room)]);
        if done && used > room {
            // Cut: the line break still ends it.
            buf.push(b'\n');
        }
        reader.consume(used);
        read += used;
        if done {
            return Ok(read);
        }
    }
}

pub async fn ingest(context: &Context, args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let Some(store) = context.store(true).await? else {
        bail!("the database could not be created")
    };
    let path = args.file.as_deref().filter(|p| *p != Path::new("-"));
    if args.follow && path.is_none() {
        bail!("--follow needs a file, not standard input");
    }
    // Following a file resumes where the last run stopped.
    let source = match path {
        Some(p) if args.follow => Some(format!(
            "file:{}",
            std::fs::canonicalize(p)
                .with_context(|| format!("cannot open {}", p.display()))?
                .display()
        )),
        _ => None,
    };
    let saved = match &source {
        Some(source) => store.file_position(source).await?,
        None => None,
    };
    let (mut input, mut after) = match (path, saved) {
        (Some(path), Some(saved)) => {
            let (input, after, said) = resume(path, &saved)?;
            eprintln!("{said}");
            (input, after)
        }
        _ => (Input::open(path)?, None),
    };
    let origin = match path {
        Some(p) => format!("file:{}", p.display()),
        None => "stdin".to_owned(),
    };
    let format = match args.format {
        IngestFormat::Ndjson => LineFormat::Ndjson,
        IngestFormat::Sshd => LineFormat::Sshd,
        IngestFormat::Nginx => LineFormat::Nginx,
        IngestFormat::Caddy | IngestFormat::Traefik => LineFormat::AccessJson,
        IngestFormat::Postgres => LineFormat::Postgres,
        IngestFormat::Auto => LineFormat::sniff(input.reader.fill_buf()?).ok_or_else(|| {
            anyhow!(
                "cannot tell the format of {} from its first lines; name it with --format ndjson, sshd, nginx, caddy, traefik or postgres",
                input.name
            )
        })?,
    };
    let zone = match &args.timezone {
        Some(name) => TimeZone::get(name).map_err(|e| anyhow!("--timezone {name}: {e}"))?,
        None => TimeZone::system(),
    };
    let year = args
        .year
        .unwrap_or_else(|| input.modified.to_zoned(zone.clone()).year());
    let login_paths = if args.login_paths.is_empty() {
        LOGIN_PATHS.iter().map(ToString::to_string).collect()
    } else {
        args.login_paths.clone()
    };
    let mut reader = LineReader::new(format, &origin, year, zone, login_paths);
    // The detectors read what is stored as it is stored, unless a running server leads
    // them: its detectors read what other processes append.
    let detector = match store.take_duty(Duty::Detectors).await? {
        Some(lead) => {
            let desk = context.desk(true).await?.expect("the database exists");
            let detector = Detector::start(Arc::clone(&store), desk, Default::default())
                .await
                .map_err(|e| anyhow!("the detectors cannot start: {e}"))?;
            Some((detector, lead))
        }
        None => {
            eprintln!(
                "Another process (a running `tocsin serve`) leads the detectors; it reads these events as they are stored."
            );
            None
        }
    };
    let mut storing = Storing::start(
        Arc::clone(&store),
        Stored {
            detector,
            events: 0,
            first: None,
            last: None,
            signals: 0,
        },
    );
    let mut progress = Progress::new(
        input.len,
        !args.follow && !context.json() && std::io::stderr().is_terminal(),
    );
    let mut buf = Vec::with_capacity(4096);
    let mut saved_at = input.offset;
    loop {
        buf.clear();
        let n = input
            .read_line(&mut buf)
            .with_context(|| format!("cannot read {}", input.name))?;
        if n == 0 {
            if !args.follow {
                break;
            }
            // Quiet: what was read is stored now, with how far, then the file is looked at
            // again; a rotated file read to its end gives way to the one after it.
            reader.let_go(false);
            let position = source.as_ref().map(|s| input.position(s));
            if !reader.batch.is_empty() || input.offset != saved_at {
                storing.send(&mut reader, position).await?;
                saved_at = input.offset;
            }
            if let Some(next) = after.take() {
                input = next;
                saved_at = u64::MAX;
                continue;
            }
            tokio::time::sleep(FOLLOW_POLL).await;
            if input.reopen_if_rotated()? {
                saved_at = u64::MAX;
            }
            continue;
        }
        // An incomplete last line of a growing file is finished by the next read.
        if args.follow && !buf.ends_with(b"\n") {
            while !buf.ends_with(b"\n") {
                tokio::time::sleep(FOLLOW_POLL).await;
                if input.read_line(&mut buf)? == 0 && input.rotated()? {
                    break;
                }
            }
        }
        progress.read(n as u64);
        reader.line(&String::from_utf8_lossy(&buf));
        if reader.batch.len() >= BATCH {
            // A followed file's position goes with the batch: nothing may be held back
            // for lines before it.
            if args.follow {
                reader.let_go(false);
            }
            let position = source.as_ref().map(|s| input.position(s));
            storing.send(&mut reader, position).await?;
            saved_at = input.offset;
            progress.show(storing.sent);
        }
    }
    reader.let_go(true);
    storing.send(&mut reader, None).await?;
    let stored = storing.finish().await?;
    progress.done();
    let signals = stored.signals;
    if context.json() {
        let report = FileReport {
            lines: reader.lines,
            signals: stored.detector.is_some().then_some(signals),
            report: IngestReport {
                accepted: stored.events,
                rejected: reader.rejected,
                first_seq: stored.first,
                last_seq: stored.last,
                rejects: reader.rejects.iter().map(RejectDoc::of).collect(),
            },
        };
        emit(&serde_json::to_string(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let refused = match reader.rejected {
        0 => String::new(),
        n => format!(", {n} lines refused"),
    };
    let detected = match stored.detector {
        Some(_) => format!("{signals} new signals (see `tocsin signals`)"),
        None => "the running server's detectors read them".to_owned(),
    };
    println!(
        "{}: {} lines read as {}, {} events stored{refused}; {detected}",
        input.name,
        reader.lines,
        format.describe(),
        stored.events
    );
    for reject in &reader.rejects {
        println!("  {reject}");
    }
    if reader.rejected > reader.rejects.len() as u64 {
        println!("  and {} more", reader.rejected - reader.rejects.len() as u64);
    }
    Ok(ExitCode::SUCCESS)
}

/// What `tocsin ingest --json` prints: the API's report on the events, with the lines read
/// and the signals the detectors recorded (absent when another process leads them).
#[derive(Debug, serde::Serialize)]
struct FileReport {
    lines: u64,
    signals: Option<usize>,
    #[serde(flatten)]
    report: IngestReport,
}

/// Stores the batches read, and runs the detectors over them, in a task of its own: reading
/// the next batch goes on while the last one is stored.
struct Storing {
    batches: Option<mpsc::Sender<(Vec<NewEvent>, Option<FilePosition>)>>,
    task: tokio::task::JoinHandle<anyhow::Result<Stored>>,
    /// Events handed over so far.
    sent: u64,
}

impl Storing {
    fn start(store: Arc<dyn Store>, mut stored: Stored) -> Self {
        let (batches, mut read) = mpsc::channel::<(Vec<NewEvent>, Option<FilePosition>)>(1);
        let task = tokio::spawn(async move {
            while let Some((batch, position)) = read.recv().await {
                stored.store(&*store, batch, position).await?;
            }
            if let Some((detector, _)) = &mut stored.detector {
                stored.signals += detector.save().await?;
            }
            // The login trail is left to a running server's writer, which indexes what other
            // processes append, or to the first `tocsin logins` or `GET /api/v1/logins`,
            // which bring it up to date before they read.
            Ok(stored)
        });
        Storing {
            batches: Some(batches),
            task,
            sent: 0,
        }
    }

    /// Hands over what the reader has ready, with how far its file was read when it
    /// follows one; fails when storing failed.
    async fn send(&mut self, reader: &mut LineReader, position: Option<FilePosition>) -> anyhow::Result<()> {
        if reader.batch.is_empty() && position.is_none() {
            return Ok(());
        }
        let batch = std::mem::take(&mut reader.batch);
        self.sent += batch.len() as u64;
        let handed = match &self.batches {
            Some(batches) => batches.send((batch, position)).await.is_ok(),
            None => false,
        };
        if handed {
            return Ok(());
        }
        // The task stopped: its error says why.
        self.batches = None;
        match (&mut self.task).await {
            Ok(Err(e)) => Err(e),
            Ok(Ok(_)) => bail!("events were stored after the end"),
            Err(e) => Err(anyhow!("storing events failed: {e}")),
        }
    }

    /// Waits until everything handed over is stored and read by the detectors.
    async fn finish(mut self) -> anyhow::Result<Stored> {
        self.batches = None;
        self.task.await.map_err(|e| anyhow!("storing events failed: {e}"))?
    }
}

/// What was stored so far, and the detectors reading it when this process leads them.
#[derive(Debug)]
struct Stored {
    detector: Option<(Detector, OnDuty)>,
    events: u64,
    first: Option<u64>,
    last: Option<u64>,
    signals: usize,
}

impl Stored {
    async fn store(
        &mut self,
        store: &dyn Store,
        batch: Vec<NewEvent>,
        position: Option<FilePosition>,
    ) -> anyhow::Result<()> {
        let seqs = match &position {
            Some(position) => store.append_events_from(&batch, position).await,
            None => store.append_events(&batch).await,
        }
        .map_err(|e| anyhow!("cannot store events: {e}"))?;
        self.first = self.first.or(seqs.first().copied());
        self.last = seqs.last().copied().or(self.last);
        self.events += seqs.len() as u64;
        let events: Vec<_> = batch.into_iter().map(|n| n.event).collect();
        if let Some((detector, _lead)) = &mut self.detector {
            self.signals += detector
                .appended(&seqs, &events)
                .await
                .map_err(|e| anyhow!("the detectors failed: {e}"))?;
        }
        Ok(())
    }
}

/// The file or standard input being read.
struct Input {
    reader: Box<dyn BufRead>,
    name: String,
    path: Option<PathBuf>,
    /// The file's identity and how far it has been read, to notice rotation.
    inode: u64,
    len: Option<u64>,
    modified: Timestamp,
    /// The bytes read from its start, and the file itself, for its first bytes' digest.
    offset: u64,
    file: Option<File>,
}

/// The first bytes of a file that identify it beside its inode.
const HEAD_BYTES: u64 = 256;

/// The SHA-256 of a file's first `len` bytes, in hex; `None` when it has fewer.
fn head_of(file: &File, len: u64) -> Option<String> {
    use sha2::Digest;
    use std::os::unix::fs::FileExt;
    let mut head = vec![0; usize::try_from(len).ok()?];
    file.read_exact_at(&mut head, 0).ok()?;
    Some(hex::encode(sha2::Sha256::digest(&head)))
}

/// Where to read a followed file from, after a restart: where the last run stopped, when
/// it is the same file; the rest of the file it was reading first, when that was rotated
/// away since (found by its inode beside it); else the new file from its start. What to
/// read after the first input, and what to tell the user.
fn resume(path: &Path, saved: &FilePosition) -> anyhow::Result<(Input, Option<Input>, String)> {
    let mut current = Input::open(Some(path))?;
    let same = |input: &Input| {
        input.len.is_some_and(|len| len >= saved.offset)
            && input
                .file
                .as_ref()
                .and_then(|f| head_of(f, saved.head_len))
                .is_some_and(|head| head == saved.head)
    };
    if current.inode == saved.inode && same(&current) {
        current.seek(saved.offset)?;
        let said = format!(
            "{}: going on from byte {}, where it was read to",
            path.display(),
            saved.offset
        );
        return Ok((current, None, said));
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let earlier = std::fs::read_dir(dir).ok().and_then(|entries| {
        entries.flatten().find_map(|entry| {
            let found = entry.metadata().is_ok_and(|m| m.is_file() && m.ino() == saved.inode);
            found.then(|| entry.path())
        })
    });
    if let Some(earlier) = earlier {
        let mut old = Input::open(Some(&earlier))?;
        if same(&old) {
            old.seek(saved.offset)?;
            let said = format!(
                "{} was rotated to {} since it was read to byte {}: reading the rest of that first",
                path.display(),
                earlier.display(),
                saved.offset
            );
            return Ok((old, Some(current), said));
        }
    }
    let said = format!(
        "{} is not the file that was read to byte {} (rotated or truncated, and the earlier file is not beside it): reading it from its start; lines written to the earlier file after that byte are not read",
        path.display(),
        saved.offset
    );
    Ok((current, None, said))
}

impl Input {
    fn open(path: Option<&Path>) -> anyhow::Result<Input> {
        let Some(path) = path else {
            return Ok(Input {
                reader: Box::new(BufReader::with_capacity(1 << 16, std::io::stdin())),
                name: "standard input".into(),
                path: None,
                inode: 0,
                len: None,
                modified: Timestamp::now(),
                offset: 0,
                file: None,
            });
        };
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let kept = file.try_clone().ok();
        let meta = file.metadata()?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|m| Timestamp::try_from(m).ok())
            .unwrap_or_else(Timestamp::now);
        Ok(Input {
            reader: Box::new(BufReader::with_capacity(1 << 16, file)),
            name: path.display().to_string(),
            path: Some(path.to_owned()),
            inode: meta.ino(),
            len: Some(meta.len()),
            modified,
            offset: 0,
            file: kept,
        })
    }

    /// Reads a line (see [`read_line`]), counting the bytes read.
    fn read_line(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        let n = read_line(&mut self.reader, buf)?;
        self.offset += n as u64;
        Ok(n)
    }

    /// Goes on from byte `offset`.
    fn seek(&mut self, offset: u64) -> anyhow::Result<()> {
        use std::io::{Seek, SeekFrom};
        let path = self
            .path
            .clone()
            .ok_or_else(|| anyhow!("standard input cannot be resumed"))?;
        let mut file = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        file.seek(SeekFrom::Start(offset))?;
        self.reader = Box::new(BufReader::with_capacity(1 << 16, file));
        self.offset = offset;
        Ok(())
    }

    /// How far this file was read, as `source`.
    fn position(&self, source: &str) -> FilePosition {
        let head_len = self.offset.min(HEAD_BYTES);
        FilePosition {
            source: source.to_owned(),
            inode: self.inode,
            offset: self.offset,
            head: self
                .file
                .as_ref()
                .and_then(|f| head_of(f, head_len))
                .unwrap_or_default(),
            head_len,
        }
    }

    /// Whether the path now names another file (rotated away) or a shorter one (truncated).
    fn rotated(&mut self) -> anyhow::Result<bool> {
        let Some(path) = &self.path else { return Ok(false) };
        match std::fs::metadata(path) {
            Ok(meta) => Ok(meta.ino() != self.inode || self.len.is_some_and(|read| meta.len() < read)),
            // Between the move and the new file: keep reading the old one for now.
            Err(_) => Ok(false),
        }
    }

    /// After the end of the file: if it was rotated, go on with the new one from its start;
    /// whether it was.
    fn reopen_if_rotated(&mut self) -> anyhow::Result<bool> {
        let Some(path) = self.path.clone() else {
            return Ok(false);
        };
        if let Ok(meta) = std::fs::metadata(&path) {
            self.len = Some(self.len.unwrap_or(0).max(meta.len()));
        }
        if !self.rotated()? {
            return Ok(false);
        }
        let next = Input::open(Some(&path))?;
        self.reader = next.reader;
        self.inode = next.inode;
        self.file = next.file;
        self.offset = 0;
        self.len = Some(0);
        Ok(true)
    }
}

/// A progress line on a terminal: how much was read, and how fast events are stored.
struct Progress {
    shown: bool,
    total: Option<u64>,
    read: u64,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new(total: Option<u64>, shown: bool) -> Self {
        Progress {
            shown,
            total,
            read: 0,
            started: Instant::now(),
            last: Instant::now(),
        }
    }

    fn read(&mut self, bytes: u64) {
        self.read += bytes;
    }

    fn show(&mut self, stored: u64) {
        if !self.shown || self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        let rate = stored as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let mb = |b: u64| b as f64 / 1_048_576.0;
        let line = match self.total {
            Some(total) if total > 0 => format!(
                "{:3.0}%  {:.1} of {:.1} MB  {stored} events  {rate:.0} events/s",
                100.0 * self.read as f64 / total as f64,
                mb(self.read),
                mb(total)
            ),
            _ => format!("{:.1} MB  {stored} events  {rate:.0} events/s", mb(self.read)),
        };
        let mut err = std::io::stderr();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }

    fn done(&self) {
        if self.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
