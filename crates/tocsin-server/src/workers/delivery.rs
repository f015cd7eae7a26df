//! Delivery: workers take due notifications from the outbox with a lease, send them on
//! their channels, and note what came of it: sent, tried again later (backoff with jitter,
//! or the receiver's `Retry-After`), or dead. Any number of instances may run workers on
//! one database; a lease keeps a notification with one worker while it is being sent, and
//! a worker that dies lets go of it when its lease runs out.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use jiff::SignedDuration;
use tocsin_core::Timestamp;
use tocsin_core::incident::{Actor, Command, Delivery, IncidentEvent, IncidentNumber};
use tocsin_notify::retry::{jitter, next_try};
use tocsin_notify::{Channel, Message, Outcome};
use tocsin_store::StoreError;
use tocsin_store::outbox::{Notification, OutboxStore};

use crate::wake::Wake;
use crate::workers::notifier::queued as queued_note;

/// How a notification held back behind an earlier failed one says so.
const WAITED: &str = "waits for an earlier notification: ";

/// Notifications one worker takes at a time, sent concurrently.
const CLAIM: u32 = 64;
/// How long a worker may hold a notification: longer than a claim takes to send (its
/// sends run at once, each at most `SEND_TIMEOUT`), and short enough that a restarted
/// server soon takes over what a killed one held.
const LEASE: SignedDuration = SignedDuration::from_secs(15);
/// How often an idle worker looks for due notifications.
const IDLE: Duration = Duration::from_millis(250);

/// The channels of the plan, by name.
pub type Channels = Arc<BTreeMap<String, Box<dyn Channel>>>;

/// What one round of delivery did.
#[derive(Debug, Default)]
pub struct Round {
    pub claimed: usize,
    /// The notifications sent, for the incidents' timelines.
    pub delivered: Vec<Notification>,
}

/// The subject and text of the notices among `claimed`, read once per round from their
/// incidents (a notice does not change once sent); `desk` reads them.
type NoticeTexts = BTreeMap<(String, u32), (String, String)>;

async fn notice_texts(desk: Option<&crate::Desk>, claimed: &[Notification]) -> NoticeTexts {
    let mut texts = NoticeTexts::new();
    let Some(desk) = desk else { return texts };
    for n in claimed {
        let Ok(message) = serde_json::from_str::<Message>(&n.payload) else {
            continue;
        };
        let (Some(notice), Some(incident)) = (message.notice, message.incident) else {
            continue;
        };
        if texts.contains_key(&(incident.clone(), notice)) {
            continue;
        }
        let Ok(number) = incident.parse::<IncidentNumber>() else {
            continue;
        };
        match desk.incident_shared(number).await {
            Ok(view) => {
                if let Some(written) = view.incident.notice(notice) {
                    texts.insert((incident, notice), (written.subject.clone(), written.body.clone()));
                }
            }
            Err(e) => tracing::warn!(incident = %number, error = %e, "a notice's text cannot be read now"),
        }
    }
    texts
}

/// Sends the notifications due at `now`, one claim's worth; `desk` reads the text of
/// notices as they go.
pub async fn deliver_due(
    store: &dyn OutboxStore,
    channels: &Channels,
    desk: Option<&crate::Desk>,
    worker: &str,
    now: Timestamp,
) -> Result<Round, StoreError> {
    let claimed = store.claim(worker, CLAIM, now, now + LEASE).await?;
    let texts = notice_texts(desk, &claimed).await;
    let texts = &texts;
    // One incident's news reaches a channel in order: each (channel, incident) is sent one
    // after the other, and what follows a failure waits for it. The rest goes at once.
    let mut groups: Vec<Vec<&Notification>> = Vec::new();
    let mut group_of = std::collections::HashMap::new();
    for n in &claimed {
        match n.incident.map(|i| (n.channel.as_str(), i)) {
            Some(key) => {
                let at = *group_of.entry(key).or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
                groups[at].push(n);
            }
            None => groups.push(vec![n]),
        }
    }
    let sent = join_all(groups.into_iter().map(|group| async move {
        let mut outcomes = Vec::with_capacity(group.len());
        let mut blocked: Option<String> = None;
        // The incident's thread on the channel, looked up before its first message there.
        let mut thread: Option<Option<String>> = None;
        for n in group {
            // Only channels that thread keep a thread: the others cost no lookup.
            let threaded = n
                .incident
                .filter(|_| channels.get(&n.channel).is_some_and(|c| c.threads()));
            let outcome = match (&blocked, threaded) {
                (Some(error), _) => Outcome::Retry {
                    error: format!("{WAITED}{error}"),
                    after: None,
                },
                (None, None) => send(channels, n, None, texts).await,
                (None, Some(incident)) => {
                    if thread.is_none() {
                        thread = Some(store.thread(&n.channel, incident).await?);
                    }
                    let known = thread.clone().flatten();
                    let outcome = send(channels, n, known.clone(), texts).await;
                    if let (Outcome::Delivered { thread: Some(started) }, None) = (&outcome, &known) {
                        store.start_thread(&n.channel, incident, started, now).await?;
                        thread = Some(Some(started.clone()));
                    }
                    outcome
                }
            };
            if let Outcome::Retry { error, .. } | Outcome::Refused { error } = &outcome {
                blocked.get_or_insert_with(|| error.clone());
            }
            outcomes.push((n, outcome));
        }
        Ok::<_, StoreError>(outcomes)
    }))
    .await;
    let mut delivered = Vec::with_capacity(claimed.len());
    // How each channel did this round: it works if anything got through.
    let mut health: BTreeMap<String, Result<(), String>> = BTreeMap::new();
    for group in sent {
        for (n, outcome) in group? {
            let went = match &outcome {
                Outcome::Delivered { .. } => Some(Ok(())),
                // What waited for an earlier notification says nothing of the channel.
                Outcome::Retry { error, .. } if error.starts_with(WAITED) => None,
                Outcome::Retry { error, .. } | Outcome::Refused { error } => Some(Err(error.clone())),
            };
            if let Some(went) = went {
                let entry = health.entry(n.channel.clone()).or_insert_with(|| went.clone());
                if went.is_ok() {
                    *entry = Ok(());
                }
            }
            match outcome {
                Outcome::Delivered { .. } => delivered.push(n),
                Outcome::Retry { error, after } => {
                    let retry_at = next_try(n.attempts, now, after, jitter(n.id, n.attempts));
                    if retry_at.is_none() {
                        tracing::warn!(id = n.id, channel = %n.channel, %error, "a notification is dead after its last attempt");
                    }
                    store.failed(n.id, &error, retry_at).await?;
                }
                Outcome::Refused { error } => {
                    tracing::warn!(id = n.id, channel = %n.channel, %error, "a notification was refused");
                    store.failed(n.id, &error, None).await?;
                }
            }
        }
    }
    // One commit for all that were sent.
    let ids: Vec<i64> = delivered.iter().map(|n| n.id).collect();
    store.delivered(&ids, Timestamp::now()).await?;
    let health: Vec<(String, Result<(), String>)> = health.into_iter().collect();
    store.note_channels(&health, now).await?;
    let delivered = delivered.into_iter().cloned().collect();
    Ok(Round {
        claimed: claimed.len(),
        delivered,
    })
}

/// Pending notifications copied to a fallback at a time.
const FALLBACK_COPIES: u32 = 500;

/// For each channel whose deliveries have kept failing for its `fallback_after`: tells its
/// fallback so (once per failure), and copies its pending news there (each once, by key;
/// the originals still go when the channel works again, and notices to recipients stay
/// with their channel). When it works again, the fallback is told that too. How many
/// notifications were queued.
pub async fn fall_back(
    store: &dyn OutboxStore,
    plan: &tocsin_core::plan::Plan,
    now: Timestamp,
) -> Result<usize, StoreError> {
    let mut queued = 0;
    for health in store.channel_health().await? {
        let Some(channel) = plan.channel(&health.channel) else {
            continue;
        };
        let Some(fallback) = &channel.fallback else { continue };
        let after = SignedDuration::from_secs(i64::try_from(channel.fallback_after_seconds).unwrap_or(i64::MAX));
        let name = &channel.name;
        match (health.failing_since, health.announced) {
            (Some(since), announced) if since + after <= now => {
                let mut notes = Vec::new();
                if announced.is_none() {
                    let error = health.last_error.clone().unwrap_or_default();
                    notes.push(queued_note(
                        &Message {
                            id: format!("channel-failing:{name}:{}", since.as_millisecond()),
                            kind: "channel_failing".into(),
                            title: format!("Channel {name} is failing"),
                            text: format!(
                                "Deliveries to {name} have failed since {}: {error}. Its news comes here too until it works again.",
                                crate::phrases::time(since, plan.calendar().zone())
                            ),
                            ..Message::default()
                        },
                        fallback,
                        None,
                        now,
                    ));
                }
                let filter = tocsin_store::outbox::OutboxFilter {
                    state: Some(tocsin_store::outbox::Delivery::Pending),
                    channel: Some(name.clone()),
                    before: None,
                    limit: FALLBACK_COPIES,
                };
                for n in store.outbox(&filter).await? {
                    if n.kind == "notice" {
                        continue;
                    }
                    let Ok(message) = serde_json::from_str::<Message>(&n.payload) else {
                        continue;
                    };
                    let message = Message {
                        id: format!("{}~{fallback}", n.key),
                        ..message
                    };
                    notes.push(queued_note(&message, fallback, n.incident, now));
                }
                queued += store.enqueue(&notes, now).await? as usize;
                if announced.is_none() {
                    store.announced(name, Some(now)).await?;
                }
            }
            (None, Some(announced)) => {
                let back = queued_note(
                    &Message {
                        id: format!("channel-recovered:{name}:{}", announced.as_millisecond()),
                        kind: "channel_recovered".into(),
                        title: format!("Channel {name} works again"),
                        text: format!("Deliveries to {name} work again; what waited has gone there too."),
                        ..Message::default()
                    },
                    fallback,
                    None,
                    now,
                );
                queued += store.enqueue(&[back], now).await? as usize;
                store.announced(name, None).await?;
            }
            _ => {}
        }
    }
    Ok(queued)
}

/// Puts the notifications delivered on their incidents' timelines: one entry per incident
/// and round, naming each channel, the news and whom it named.
async fn record_delivered(desk: &crate::Desk, delivered: &[Notification]) {
    let mut by_incident: BTreeMap<IncidentNumber, Vec<Delivery>> = BTreeMap::new();
    for n in delivered {
        let Some(number) = n.incident else { continue };
        let to = serde_json::from_str::<Message>(&n.payload)
            .map(|m| m.to.into_iter().map(|r| r.name).collect())
            .unwrap_or_default();
        by_incident.entry(number).or_default().push(Delivery {
            channel: n.channel.clone(),
            news: n.kind.clone(),
            to,
        });
    }
    let actor = Actor::parse("tocsin").expect("a valid name");
    for (number, deliveries) in by_incident {
        let command = Command::Record {
            event: IncidentEvent::Notified { deliveries },
        };
        if let Err(e) = desk.act(number, &command, &actor, None, Timestamp::now()).await {
            tracing::warn!(incident = %number, error = %e, "delivered notifications could not be put on the timeline");
        }
    }
}

async fn send(channels: &Channels, n: &Notification, thread: Option<String>, texts: &NoticeTexts) -> Outcome {
    let Some(channel) = channels.get(&n.channel) else {
        return Outcome::Refused {
            error: format!("the plan has no channel \"{}\"", n.channel),
        };
    };
    match serde_json::from_str::<Message>(&n.payload) {
        Ok(mut message) => {
            if let (Some(notice), Some(incident)) = (message.notice, &message.incident) {
                match texts.get(&(incident.clone(), notice)) {
                    Some((subject, body)) => {
                        message.title.clone_from(subject);
                        message.text.clone_from(body);
                    }
                    None => {
                        return Outcome::Retry {
                            error: format!("the text of notice {notice} of {incident} cannot be read now"),
                            after: None,
                        };
                    }
                }
            }
            channel.send(&Message { thread, ..message }).await
        }
        Err(e) => Outcome::Refused {
            error: format!("the stored message cannot be read: {e}"),
        },
    }
}

/// A worker, until the process ends: due notifications are sent as they come due.
/// The channels of the plan in force, opened again when another version is applied.
pub fn plan_channels(desk: crate::Desk) -> impl FnMut() -> Channels + Send {
    let mut opened: Option<(u64, Channels)> = None;
    move || {
        let active = desk.active_plan();
        match &opened {
            Some((version, channels)) if *version == active.version.version => Arc::clone(channels),
            _ => {
                let (channels, problems) = crate::workers::channels::open_all(&active.plan);
                // Channels that cannot be opened are reported; the others deliver.
                for problem in problems {
                    tracing::error!("{problem}; its notifications wait in the outbox");
                }
                let channels = Arc::new(channels);
                opened = Some((active.version.version, Arc::clone(&channels)));
                channels
            }
        }
    }
}

/// Delivers what is due, on the channels `channels` gives for each round, and puts what
/// went out on the incidents' timelines: when `queued` rings, and at least every [`IDLE`]
/// for what other processes queue and what falls due later.
pub async fn work(
    store: Arc<dyn OutboxStore>,
    desk: crate::Desk,
    mut channels: impl FnMut() -> Channels + Send,
    worker: String,
    queued: Wake,
) {
    let mut queued = queued.listen();
    loop {
        let channels = channels();
        match deliver_due(&*store, &channels, Some(&desk), &worker, Timestamp::now()).await {
            Ok(round) => {
                record_delivered(&desk, &round.delivered).await;
                match fall_back(&*store, &desk.plan(), Timestamp::now()).await {
                    Ok(0) => {}
                    Ok(_) => continue,
                    Err(e) => tracing::error!(error = %e, "falling back from failing channels failed; trying again"),
                }
                // A full claim: more may be due.
                if round.claimed == CLAIM as usize {
                    continue;
                }
            }
            Err(e) => tracing::error!(error = %e, "delivering notifications failed; trying again"),
        }
        queued.wait(IDLE).await;
    }
}
