//! Group commit: one writer appends what many senders hand it, in batches, and answers
//! each sender only once the transaction holding its events has committed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Duration, Instant};

use crate::events::NewEvent;
use crate::{Store, StoreError};

/// How much the writer takes on.
#[derive(Clone, Copy, Debug)]
pub struct EventLogConfig {
    /// Events waiting for the writer beyond which senders are told to come back later.
    pub capacity: usize,
    /// Events written in one transaction at most.
    pub max_batch: usize,
}

impl Default for EventLogConfig {
    fn default() -> Self {
        EventLogConfig {
            capacity: 256 * 1024,
            max_batch: 64 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The writer is behind; nothing was taken. Try again shortly.
    #[error("the event log is busy: {queued} events are waiting to be written")]
    Busy { queued: usize },
    /// The writer has stopped (the server is shutting down).
    #[error("the event log is closed")]
    Closed,
    /// The batch could not be committed; none of its events were kept.
    #[error("the events could not be stored: {0}")]
    Store(Arc<StoreError>),
}

/// Events just committed, with their sequence numbers, for a reader in this process.
#[derive(Debug)]
pub struct Committed {
    pub seqs: Vec<u64>,
    pub events: Vec<tocsin_core::event::Event>,
}

/// Committed batches waiting for the reader, at most; past it the reader reads the store.
const FEED: usize = 16;

struct Job {
    events: Vec<NewEvent>,
    done: oneshot::Sender<Result<Vec<u64>, AppendError>>,
}

/// The handle senders share. Cloning is cheap; the writer stops when the last clone is gone.
#[derive(Clone, Debug)]
pub struct EventLog {
    jobs: mpsc::UnboundedSender<Job>,
    queued: Arc<AtomicUsize>,
    committed: watch::Receiver<u64>,
    capacity: usize,
}

impl EventLog {
    /// Starts the writer on the current tokio runtime.
    pub async fn start(store: Arc<dyn Store>, config: EventLogConfig) -> Result<Self, StoreError> {
        Self::spawn(store, config, None).await
    }

    /// Starts the writer, which also hands each committed batch to the returned receiver,
    /// so that a reader in this process need not read back what was just written. A
    /// reader that falls behind misses batches, and finds them in the store.
    pub async fn start_with_feed(
        store: Arc<dyn Store>,
        config: EventLogConfig,
    ) -> Result<(Self, mpsc::Receiver<Committed>), StoreError> {
        let (feed, fed) = mpsc::channel(FEED);
        Ok((Self::spawn(store, config, Some(feed)).await?, fed))
    }

    async fn spawn(
        store: Arc<dyn Store>,
        config: EventLogConfig,
        feed: Option<mpsc::Sender<Committed>>,
    ) -> Result<Self, StoreError> {
        let (jobs, inbox) = mpsc::unbounded_channel();
        let (committed_tx, committed) = watch::channel(store.last_event_seq().await?);
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = Writer {
            store,
            committed: committed_tx,
            queued: Arc::clone(&queued),
            max_batch: config.max_batch,
            feed,
        };
        tokio::spawn(writer.run(inbox));
        Ok(EventLog {
            jobs,
            queued,
            committed,
            capacity: config.capacity,
        })
    }

    /// Appends the events; their sequence numbers come back once they are committed.
    /// A batch larger than the capacity is still taken when nothing else is waiting.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<u64>, AppendError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let n = events.len();
        let before = self.queued.fetch_add(n, Ordering::AcqRel);
        if before > 0 && before + n > self.capacity {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err(AppendError::Busy { queued: before });
        }
        let (done, answer) = oneshot::channel();
        if self.jobs.send(Job { events, done }).is_err() {
            self.queued.fetch_sub(n, Ordering::AcqRel);
            return Err(AppendError::Closed);
        }
        answer.await.unwrap_or(Err(AppendError::Closed))
    }

    /// The sequence number of the last committed event, updated after every commit.
    pub fn committed(&self) -> watch::Receiver<u64> {
        self.committed.clone()
    }

    /// Events handed over and not yet committed.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// Events the login trail takes in per round; a round holds the write lock for a few ms.
const TRAIL_ROUND: u32 = 2_000;
/// How often the writer looks for events appended by other processes, and how long the
/// trail may wait for a round while the writer is busy.
const TRAIL_POLL: Duration = Duration::from_secs(1);

/// How long senders must be quiet before the trail takes rounds back to back.
const PAUSE: Duration = Duration::from_millis(20);

/// One round of the login trail; whether more is left. A failure is tried again at the
/// next poll; the log itself is not affected.
async fn index_trail(store: &dyn Store) -> bool {
    matches!(store.index_login_trail(TRAIL_ROUND).await, Ok(n) if n == u64::from(TRAIL_ROUND))
}

struct Writer {
    store: Arc<dyn Store>,
    committed: watch::Sender<u64>,
    queued: Arc<AtomicUsize>,
    max_batch: usize,
    feed: Option<mpsc::Sender<Committed>>,
}

impl Writer {
    /// The one writer. Between batches, and while idle, it brings the login trail up to date:
    /// being the only writer, it never waits for a lock of its own process.
    async fn run(self, mut inbox: mpsc::UnboundedReceiver<Job>) {
        let Writer {
            store,
            committed,
            queued,
            max_batch,
            feed,
        } = self;
        let mut jobs = Vec::new();
        let mut batch = Vec::new();
        let mut trail_behind = true;
        let mut trail_at = Instant::now();
        loop {
            // Senders come first: the trail gets a round when they pause, and at least one
            // round a second when they do not.
            if trail_behind && trail_at.elapsed() > TRAIL_POLL {
                trail_behind = index_trail(&*store).await;
                trail_at = Instant::now();
            }
            let wait = if trail_behind { PAUSE } else { TRAIL_POLL };
            let first = match tokio::time::timeout(wait, inbox.recv()).await {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(_paused) => {
                    // Idle: catch up while nobody is waiting; when caught up, look again
                    // later for events that other processes appended.
                    trail_behind = true;
                    while trail_behind && inbox.is_empty() {
                        trail_behind = index_trail(&*store).await;
                    }
                    trail_at = Instant::now();
                    continue;
                }
            };
            let mut counts = vec![first.events.len()];
            batch.extend(first.events);
            jobs.push(first.done);
            while batch.len() < max_batch {
                let Ok(job) = inbox.try_recv() else { break };
                counts.push(job.events.len());
                batch.extend(job.events);
                jobs.push(job.done);
            }
            trail_behind = true;
            let total = batch.len();
            let result = store.append_events(&batch).await.and_then(|seqs| {
                if seqs.len() == total {
                    Ok(seqs)
                } else {
                    Err(StoreError::Corrupt(format!(
                        "{total} events appended, {} numbers returned",
                        seqs.len()
                    )))
                }
            });
            queued.fetch_sub(batch.len(), Ordering::AcqRel);
            match result {
                Ok(seqs) => {
                    if let Some(&last) = seqs.last() {
                        committed.send_replace(last);
                    }
                    let mut rest = seqs.as_slice();
                    for (done, n) in jobs.drain(..).zip(counts) {
                        let (mine, others) = rest.split_at(n);
                        rest = others;
                        let _ = done.send(Ok(mine.to_vec()));
                    }
                    if let Some(feed) = &feed {
                        let events = batch.drain(..).map(|e| e.event).collect();
                        // A full feed is dropped: the reader finds the batch in the store.
                        let _ = feed.try_send(Committed { seqs, events });
                    }
                }
                Err(e) => {
                    let e = Arc::new(e);
                    for done in jobs.drain(..) {
                        let _ = done.send(Err(AppendError::Store(Arc::clone(&e))));
                    }
                }
            }
            batch.clear();
        }
    }
}
