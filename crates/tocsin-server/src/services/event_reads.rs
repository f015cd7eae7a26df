//! Reading the event log back for people: one event by its number, or the newest events of
//! a kind, an origin, an address, an account or a time span, page by page.

use tocsin_core::Timestamp;
use tocsin_store::events::{EventQuery, StoredEvent};
use tocsin_store::{Store, StoreError};

/// The most events one page shows.
pub const PAGE_MAX: u32 = 500;
/// The most events one page reads to find its matches: an address or account that is rare
/// in a large log ends a page early, with a cursor to read on from.
const SCAN_MAX: usize = 20_000;
/// Events read per round of the scan.
const ROUND: u32 = 1_000;

/// A name that is no kind of event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind \"{0}\"; use auth, request, error, vault_access, heartbeat, rate_limit, custom or alert")]
pub struct UnknownKind(pub String);

/// Whether `kind` names a kind of event, or why not.
pub fn check_kind(kind: &str) -> Result<(), UnknownKind> {
    match tocsin_core::event::Kind::ALL.iter().any(|k| k.as_str() == kind) {
        true => Ok(()),
        false => Err(UnknownKind(kind.to_owned())),
    }
}

/// Which events to list, newest first.
#[derive(Clone, Debug, Default)]
pub struct EventFilter {
    pub kind: Option<String>,
    pub origin: Option<String>,
    pub address: Option<String>,
    pub account: Option<String>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// The cursor of the previous page: only events before this sequence number.
    pub before: Option<u64>,
    pub limit: u32,
}

/// One page of events, and where the next begins when there may be more.
#[derive(Debug)]
pub struct EventPage {
    pub items: Vec<StoredEvent>,
    pub next: Option<u64>,
}

/// The events the filter names, newest first.
pub async fn list(store: &dyn Store, filter: &EventFilter) -> Result<EventPage, StoreError> {
    let limit = filter.limit.clamp(1, PAGE_MAX) as usize;
    let mut query = EventQuery {
        kind: filter.kind.clone(),
        origin: filter.origin.clone(),
        since: filter.since,
        until: filter.until,
        before: filter.before,
    };
    let matches = |e: &StoredEvent| {
        filter
            .address
            .as_ref()
            .is_none_or(|a| e.event.address().is_some_and(|x| x.eq_ignore_ascii_case(a)))
            && filter.account.as_ref().is_none_or(|a| e.event.is_about_account(a))
    };
    let mut items = Vec::new();
    let mut scanned = 0;
    loop {
        let round = store.events_before(&query, ROUND).await?;
        let Some(last) = round.last().map(|e| e.seq) else {
            return Ok(EventPage { items, next: None });
        };
        let full_round = round.len() == ROUND as usize;
        for event in round {
            scanned += 1;
            let seq = event.seq;
            if matches(&event) {
                items.push(event);
                if items.len() == limit {
                    return Ok(EventPage { items, next: Some(seq) });
                }
            }
        }
        if !full_round {
            return Ok(EventPage { items, next: None });
        }
        if scanned >= SCAN_MAX {
            return Ok(EventPage {
                items,
                next: Some(last),
            });
        }
        query.before = Some(last);
    }
}
