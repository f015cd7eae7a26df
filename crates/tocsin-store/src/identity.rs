//! Stored identities: users, API tokens, browser sessions and the login trail.
//!
//! Secrets never reach the store: it keeps argon2id hashes of passwords and SHA-256
//! digests of tokens and session ids.

use async_trait::async_trait;
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

    /// Failures count towards throttling; a throttled attempt does not, so that waiting
    /// out the window always works.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            LoginOutcome::BadPassword | LoginOutcome::UnknownUser | LoginOutcome::Disabled
        )
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

/// Recent failed logins from one address and against one account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecentFailures {
    pub from_ip: u64,
    pub for_account: u64,
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

    /// Records an attempt, and appends it to the event log as an auth event of service
    /// `tocsin`, in one transaction: tocsin's own door is on the login trail and watched
    /// by the detectors like any other.
    async fn record_login(&self, attempt: &LoginAttempt) -> Result<(), StoreError>;

    async fn recent_failures(&self, ip: &str, username: &str, since: Timestamp) -> Result<RecentFailures, StoreError>;
}
