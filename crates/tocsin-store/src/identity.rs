//! Stored identities: users, API tokens, browser sessions and the login trail.
//!
//! Secrets never reach the store: it keeps argon2id hashes of passwords and SHA-256
//! digests of tokens and session ids.

use async_trait::async_trait;
use jiff::SignedDuration;
use tocsin_core::Timestamp;
use tocsin_core::audit::EntryDraft;
use tocsin_core::event::{AuthEvent, AuthOutcome, AuthReason, Event, Source};
use tocsin_core::identity::{Role, Scopes, Username};

use crate::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub name: Username,
    pub role: Role,
    /// The argon2id hash in PHC string form.
    pub password_hash: String,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub password_changed_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct NewUser {
    pub name: Username,
    pub role: Role,
    pub password_hash: String,
    pub at: Timestamp,
}

/// A change to a user. Changing the password or disabling ends the user's sessions.
#[derive(Clone, Debug)]
pub enum UserChange {
    Password(String),
    Disabled(bool),
    Role(Role),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: i64,
    pub name: String,
    pub scopes: Scopes,
    /// SHA-256 of the token, as it is looked up.
    pub hash: String,
    /// The last characters of the token, to recognise it in lists.
    pub hint: String,
    pub created_by: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Clone, Debug)]
pub struct NewToken {
    pub name: String,
    pub scopes: Scopes,
    /// SHA-256 of the token, hex.
    pub hash: String,
    pub hint: String,
    pub created_by: String,
    pub at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

#[derive(Clone, Debug)]
pub struct NewSession {
    /// SHA-256 of the session id, hex.
    pub hash: String,
    pub user_id: i64,
    pub csrf: String,
    pub at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: String,
    pub user_agent: String,
}

/// A live session with the user it belongs to.
#[derive(Clone, Debug)]
pub struct SessionRecord {
    pub user: UserRecord,
    pub csrf: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    Success,
    BadPassword,
    UnknownUser,
    Disabled,
    /// Refused before the password was checked: too many recent failures.
    Throttled,
}

impl LoginOutcome {
    pub const ALL: [LoginOutcome; 5] = [
        LoginOutcome::Success,
        LoginOutcome::BadPassword,
        LoginOutcome::UnknownUser,
        LoginOutcome::Disabled,
        LoginOutcome::Throttled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LoginOutcome::Success => "success",
            LoginOutcome::BadPassword => "bad_password",
            LoginOutcome::UnknownUser => "unknown_user",
            LoginOutcome::Disabled => "disabled",
            LoginOutcome::Throttled => "throttled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        LoginOutcome::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// One attempt to log in to tocsin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginAttempt {
    pub at: Timestamp,
    /// The name as typed (cut to 64 characters).
    pub username: String,
    pub user_id: Option<i64>,
    pub ip: String,
    pub user_agent: String,
    pub outcome: LoginOutcome,
}

impl LoginAttempt {
    /// The attempt as an auth event of service `tocsin`, for the login trail.
    pub fn event(&self) -> Event {
        let (outcome, reason) = match self.outcome {
            LoginOutcome::Success => (AuthOutcome::Success, AuthReason::Ok),
            LoginOutcome::BadPassword => (AuthOutcome::Failure, AuthReason::BadPassword),
            LoginOutcome::UnknownUser => (AuthOutcome::Failure, AuthReason::InvalidUser),
            LoginOutcome::Disabled => (AuthOutcome::Failure, AuthReason::Disabled),
            LoginOutcome::Throttled => (AuthOutcome::Failure, AuthReason::Throttled),
        };
        Event::Auth(AuthEvent {
            at: self.at,
            outcome,
            user: self.username.clone(),
            source: Source::parse(&self.ip),
            method: "password".to_owned(),
            reason,
            service: "tocsin".to_owned(),
            user_agent: (!self.user_agent.is_empty()).then(|| self.user_agent.clone()),
            tenant: None,
            host: None,
            port: None,
        })
    }
}

/// When password checks are refused or slowed. Failures are counted over `window`; an
/// attempt whose password is being checked counts as a failure until it is finished, so
/// that concurrent attempts cannot pass the limits together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    pub window: SignedDuration,
    /// Failures from one address, on any accounts, after which it is refused.
    pub per_address: u64,
    /// Failures on one account from one address, after which that address is refused for it.
    pub per_account_and_address: u64,
    /// Failures on one account from all addresses, after which addresses that are not
    /// familiar to it are slowed: the account takes one of their attempts per `slowed_every`.
    /// The account is never locked: its owner gets in from a familiar address at once, and
    /// from a new one within a few tries.
    pub per_account: u64,
    pub slowed_every: SignedDuration,
    /// An address from which the account logged in within this time is familiar to it.
    pub familiar_for: SignedDuration,
}

/// What the limits are applied to: the recent attempts of one address and one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginCounts {
    pub from_address: u64,
    pub for_account_from_address: u64,
    pub for_account: u64,
    /// The account logged in from this address within `familiar_for`.
    pub familiar: bool,
    /// The latest attempt on the account whose password was checked, within the window.
    pub last_checked_on_account: Option<Timestamp>,
}

impl LoginLimits {
    /// How long to wait if the attempt is refused; `None` lets its password be checked.
    pub fn refusal(&self, counts: &LoginCounts, now: Timestamp) -> Option<SignedDuration> {
        if counts.from_address >= self.per_address || counts.for_account_from_address >= self.per_account_and_address {
            return Some(self.window);
        }
        if counts.for_account < self.per_account || counts.familiar {
            return None;
        }
        let since = counts
            .last_checked_on_account
            .map_or(self.slowed_every, |last| now.duration_since(last));
        (since < self.slowed_every).then(|| self.slowed_every - since)
    }
}

/// The answer to a reservation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginReservation {
    /// The password may be checked; the attempt of this id is pending until finished.
    Check(i64),
    /// Refused, and recorded as throttled: try again after this.
    Refused(SignedDuration),
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn user_count(&self) -> Result<u64, StoreError>;

    /// Adds a user and its audit entry; a name taken (in any case) is [`StoreError::Duplicate`].
    async fn create_user(&self, user: NewUser, entry: EntryDraft) -> Result<UserRecord, StoreError>;

    /// The user of this name, compared without case.
    async fn user(&self, name: &Username) -> Result<Option<UserRecord>, StoreError>;

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError>;

    async fn change_user(&self, id: i64, change: UserChange, entry: EntryDraft) -> Result<(), StoreError>;

    /// Adds a token; an active token of the same name is [`StoreError::Duplicate`].
    async fn create_token(&self, token: NewToken, entry: EntryDraft) -> Result<TokenRecord, StoreError>;

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Revokes an active token; an unknown or already revoked one is [`StoreError::UnknownToken`].
    async fn revoke_token(&self, id: i64, at: Timestamp, entry: EntryDraft) -> Result<(), StoreError>;

    async fn touch_token(&self, id: i64, at: Timestamp) -> Result<(), StoreError>;

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError>;

    /// The session with this hash if it has not expired at `now` and its user is enabled.
    async fn session(&self, hash: &str, now: Timestamp) -> Result<Option<SessionRecord>, StoreError>;

    async fn delete_session(&self, hash: &str) -> Result<(), StoreError>;

    /// Ends every session of a user, with its audit entry; how many there were.
    async fn end_sessions(&self, user_id: i64, entry: EntryDraft) -> Result<u64, StoreError>;

    /// Applies `limits` to the recent attempts of the attempt's address and account and,
    /// in the same serialized transaction, reserves the attempt as pending or records it as
    /// throttled. Servers sharing the database see each other's reservations, so no more
    /// passwords are checked than the limits allow. The attempt's outcome is not read.
    async fn reserve_login(&self, attempt: &LoginAttempt, limits: &LoginLimits)
    -> Result<LoginReservation, StoreError>;

    /// Records the outcome of a reserved attempt, and appends it to the event log as an
    /// auth event of service `tocsin`, in one transaction: tocsin's own door is on the
    /// login trail and watched by the detectors like any other.
    async fn finish_login(&self, id: i64, attempt: &LoginAttempt) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: LoginLimits = LoginLimits {
        window: SignedDuration::from_mins(15),
        per_address: 20,
        per_account_and_address: 5,
        per_account: 10,
        slowed_every: SignedDuration::from_secs(10),
        familiar_for: SignedDuration::from_hours(720),
    };

    #[test]
    fn an_address_is_refused_for_the_window_and_strangers_to_an_attacked_account_wait_their_turn() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let counts = LoginCounts::default();
        assert_eq!(LIMITS.refusal(&counts, now), None);
        let busy_address = LoginCounts {
            from_address: 20,
            ..counts
        };
        assert_eq!(LIMITS.refusal(&busy_address, now), Some(LIMITS.window));
        let guessed_here = LoginCounts {
            for_account_from_address: 5,
            ..counts
        };
        assert_eq!(LIMITS.refusal(&guessed_here, now), Some(LIMITS.window));
        let last = now.checked_sub(SignedDuration::from_secs(3)).unwrap();
        let attacked = LoginCounts {
            for_account: 10,
            last_checked_on_account: Some(last),
            ..counts
        };
        assert_eq!(LIMITS.refusal(&attacked, now), Some(SignedDuration::from_secs(7)));
        let later = now.checked_add(SignedDuration::from_secs(7)).unwrap();
        assert_eq!(LIMITS.refusal(&attacked, later), None);
        let familiar = LoginCounts {
            familiar: true,
            ..attacked
        };
        assert_eq!(LIMITS.refusal(&familiar, now), None);
    }
}
