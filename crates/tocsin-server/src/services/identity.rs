//! Who is asking: users and their passwords, API tokens, browser sessions and logins.
//!
//! Passwords are hashed with argon2id on blocking threads, a few at a time, so that a
//! flood of logins cannot starve the server. Tokens and session ids are 32 random bytes;
//! only their SHA-256 digests are stored.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use serde_json::json;
use sha2::{Digest, Sha256};
use tocsin_core::Timestamp;
use tocsin_core::audit::{EntryDraft, fingerprint};
use tocsin_core::identity::{Permission, Role, Scopes, Username, check_new_password};
use tocsin_core::incident::Actor;
use tocsin_store::identity::{
    LoginAttempt, LoginLimits, LoginOutcome, LoginReservation, NewSession, NewToken, NewUser, SessionRecord,
    TokenRecord, UserChange, UserRecord,
};
use tocsin_store::{Store, StoreError};
use tokio::sync::Semaphore;

/// A secret shown to a person once; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The prefix of every API token, so that leaked tokens are easy to find in code and logs.
pub const TOKEN_PREFIX: &str = "tocsin_";

/// How long a browser session lasts from login.
pub const SESSION_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_hours(12);

/// When logins are refused or slowed; see [`LoginLimits`].
pub const LOGIN_LIMITS: LoginLimits = LoginLimits {
    window: jiff::SignedDuration::from_mins(15),
    per_address: 20,
    per_account_and_address: 5,
    per_account: 10,
    slowed_every: jiff::SignedDuration::from_secs(10),
    familiar_for: jiff::SignedDuration::from_hours(30 * 24),
};

/// How long a verified token or session is trusted without asking the database again.
/// Changes made through this server take effect at once; others within this time.
const CACHE_TTL: Duration = Duration::from_secs(5);
/// A token's last-used time is written at most this often.
const TOUCH_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_mins(1);

/// Verified against for unknown users, so that "no such user" takes as long as "wrong
/// password". The password it was made from was random and thrown away.
const DECOY_HASH: &str =
    "$argon2id$v=19$m=47104,t=1,p=1$mV85+fltre3QBmY/RR0lvg$Rn6zpA2GY2QC4cpHCzsuhVTJOQTcZh7B6LFHC609vPI";

/// Argon2id hashes computed at the same time, at most.
const HASHING_AT_ONCE: usize = 2;

/// Who a request comes from, once authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    User { id: i64, name: Username, role: Role },
    Token { id: i64, name: String, scopes: Scopes },
}

impl Principal {
    pub fn permits(&self, permission: Permission) -> bool {
        match self {
            Principal::User { role, .. } => role.permits(permission),
            Principal::Token { scopes, .. } => scopes.permits(permission),
        }
    }

    /// The name their actions are recorded under: the user's name, or `token:NAME`.
    pub fn actor(&self) -> Actor {
        let name = match self {
            Principal::User { name, .. } => name.to_string(),
            Principal::Token { name, .. } => format!("token:{name}"),
        };
        Actor::parse(&name).unwrap_or_else(|_| Actor::parse("unknown").expect("a valid name"))
    }
}

/// A logged-in browser.
#[derive(Clone, Debug)]
pub struct Session {
    pub principal: Principal,
    pub csrf: String,
    pub expires_at: Timestamp,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The request names something invalid; nothing changed.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("too many failed logins; try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The account and token desk.
#[derive(Clone)]
pub struct Identity {
    store: Arc<dyn Store>,
    hashing: Arc<Semaphore>,
    /// Verified tokens and sessions by digest.
    tokens: Arc<Recent<TokenRecord>>,
    sessions: Arc<Recent<SessionRecord>>,
    /// Passwords checked against a hash since the start.
    checked: Arc<AtomicU64>,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity").finish_non_exhaustive()
    }
}

/// Records read lately, trusted for [`CACHE_TTL`].
struct Recent<T>(Mutex<HashMap<String, (Instant, T)>>);

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent(Mutex::new(HashMap::new()))
    }
}

impl<T: Clone> Recent<T> {
    fn get(&self, key: &str) -> Option<T> {
        let entries = self.0.lock().expect("not poisoned");
        entries
            .get(key)
            .filter(|(fetched, _)| fetched.elapsed() < CACHE_TTL)
            .map(|(_, value)| value.clone())
    }

    fn put(&self, key: String, value: T) {
        self.0
            .lock()
            .expect("not poisoned")
            .insert(key, (Instant::now(), value));
    }

    fn update(&self, key: &str, change: impl FnOnce(&mut T)) {
        if let Some((_, value)) = self.0.lock().expect("not poisoned").get_mut(key) {
            change(value);
        }
    }

    fn remove(&self, key: &str) {
        self.0.lock().expect("not poisoned").remove(key);
    }

    fn clear(&self) {
        self.0.lock().expect("not poisoned").clear();
    }
}

/// Random bytes as hex.
fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system provides randomness");
    hex::encode(buf)
}

/// 32 random bytes as hex: for one-time form tokens.
pub fn random_token() -> String {
    random_hex(32)
}

/// The SHA-256 digest of a token or session id, as stored.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A password for a new account: 24 characters from an alphabet without look-alikes.
pub fn random_password() -> Secret {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut buf = [0u8; 24];
    getrandom::fill(&mut buf).expect("the operating system provides randomness");
    Secret(
        buf.iter()
            .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
            .collect(),
    )
}

/// Argon2id with 46 MiB and one pass, one of the settings OWASP recommends (as strong as
/// 19 MiB with two passes). Above 32 MiB the system allocator always maps the memory anew
/// and gives it back after each hash; a smaller block would stay resident after the first
/// login, adding its size to the idle server's memory.
fn argon2() -> Argon2<'static> {
    let params = argon2::Params::new(46 * 1024, 1, 1, None).expect("valid argon2 parameters");
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

fn hash_now(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system provides randomness");
    argon2()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .expect("argon2 accepts any password with a 16-byte salt")
        .to_string()
}

impl Identity {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Identity {
            store,
            hashing: Arc::new(Semaphore::new(HASHING_AT_ONCE)),
            tokens: Arc::default(),
            sessions: Arc::default(),
            checked: Arc::default(),
        }
    }

    /// How many passwords this desk has checked against a hash since it started.
    pub fn passwords_checked(&self) -> u64 {
        self.checked.load(Ordering::Relaxed)
    }

    async fn hash(&self, password: &str) -> String {
        let _permit = self.hashing.acquire().await.expect("the semaphore is never closed");
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_now(&password))
            .await
            .expect("hashing does not panic")
    }

    async fn verify(&self, password: &str, hash: &str) -> bool {
        let _permit = self.hashing.acquire().await.expect("the semaphore is never closed");
        self.checked.fetch_add(1, Ordering::Relaxed);
        let (password, hash) = (password.to_owned(), hash.to_owned());
        tokio::task::spawn_blocking(move || argon2().verify_password(password.as_bytes(), hash.as_str()).is_ok())
            .await
            .expect("verifying does not panic")
    }

    fn forget_cached(&self) {
        self.tokens.clear();
        self.sessions.clear();
    }

    /// Adds a user. Without a password, a random one is made and returned, to be shown once.
    pub async fn add_user(
        &self,
        name: &str,
        role: Role,
        password: Option<&Secret>,
        by: &Actor,
        now: Timestamp,
    ) -> Result<(UserRecord, Option<Secret>), IdentityError> {
        let name = Username::parse(name).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let generated = password.is_none().then(random_password);
        let password = password.or(generated.as_ref()).expect("one of them is set");
        check_new_password(password.expose()).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        let hash = self.hash(password.expose()).await;
        let data = json!({"user": name, "role": role, "password": fingerprint(hash.as_bytes())});
        let entry = EntryDraft::system("user_added", by, now, data);
        let user = self
            .store
            .create_user(
                NewUser {
                    name,
                    role,
                    password_hash: hash,
                    at: now,
                },
                entry,
            )
            .await?;
        Ok((user, generated))
    }

    /// On a fresh database, creates `admin` with a random password, returned to be shown once.
    pub async fn ensure_first_admin(&self, now: Timestamp) -> Result<Option<(Username, Secret)>, IdentityError> {
        if self.store.user_count().await? > 0 {
            return Ok(None);
        }
        let system = Actor::parse("tocsin").expect("a valid name");
        match self.add_user("admin", Role::Admin, None, &system, now).await {
            Ok((user, Some(password))) => Ok(Some((user.name, password))),
            Ok((_, None)) => unreachable!("no password was given, so one was made"),
            // Another instance created it first.
            Err(IdentityError::Store(StoreError::Duplicate(_))) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn users(&self) -> Result<Vec<UserRecord>, IdentityError> {
        Ok(self.store.users().await?)
    }

    async fn existing_user(&self, name: &str) -> Result<UserRecord, IdentityError> {
        let name = Username::parse(name).map_err(|e| IdentityError::Invalid(e.to_string()))?;
        self.store
            .user(&name)
            .await?
            .ok_or_else(|| IdentityError::Store(StoreError::UnknownUser(format!("\"{name}\""))))
    }

    /// Changes a user; a new password or disabling ends the user's sessions everywhere.
    pub async fn change_user(
        &self,
        name: &str,
        change: UserChange,
        by: &Actor,
        now: Timestamp,
    ) -> Result<UserRecord, IdentityError> {
        let user = self.existing_user(name).await?;
        let (action, data, change) = match change {
            UserChange::Password(password) => {
                check_new_password(&password).map_err(|e| IdentityError::Invalid(e.to_string()))?;
                let hash = self.hash(&password).await;
                (
                    "user_password_changed",
                    json!({"user": user.name, "password": fingerprint(hash.as_bytes())}),
                    UserChange::Password(hash),
                )
            }
            UserChange::Disabled(true) => ("user_disabled", json!({"user": user.name}), change),
            UserChange::Disabled(false) => ("user_enabled", json!({"user": user.name}), change),
            UserChange::Role(role) => ("user_role_changed", json!({"user": user.name, "role": role}), change),
        };
        let entry = EntryDraft::system(action, by, now, data);
        self.store.change_user(user.id, change, entry).await?;
        self.forget_cached();
        self.existing_user(user.name.as_str()).await
    }

    /// Creates a token and returns it, to be shown once.
    pub async fn create_token(
        &self,
        name: &str,
        scopes: Scopes,
        expires_at: Option<Timestamp>,
        by: &Actor,
        now: Timestamp,
    ) -> Result<(TokenRecord, Secret), IdentityError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(IdentityError::Invalid(format!(
                "\"{name}\" is not a valid token name: use 1 to 64 printable characters"
            )));
        }
        if scopes.is_empty() {
            return Err(IdentityError::Invalid("a token needs at least one scope".into()));
        }
        if expires_at.is_some_and(|at| at <= now) {
            return Err(IdentityError::Invalid("the expiry must be in the future".into()));
        }
        let secret = Secret(format!("{TOKEN_PREFIX}{}", random_hex(32)));
        let hint = secret.expose()[secret.expose().len() - 4..].to_owned();
        let hash = digest(secret.expose());
        let data = json!({
            "token": name,
            "scopes": scopes.to_string(),
            "expires_at": expires_at,
            "fingerprint": fingerprint(hash.as_bytes()),
        });
        let entry = EntryDraft::system("token_created", by, now, data);
        let token = NewToken {
            name: name.to_owned(),
            scopes,
            hash,
            hint,
            created_by: by.to_string(),
            at: now,
            expires_at,
        };
        Ok((self.store.create_token(token, entry).await?, secret))
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRecord>, IdentityError> {
        Ok(self.store.tokens().await?)
    }

    /// Revokes the active token named `selector`, or the one with that numeric id.
    pub async fn revoke_token(&self, selector: &str, by: &Actor, now: Timestamp) -> Result<TokenRecord, IdentityError> {
        let tokens = self.store.tokens().await?;
        let token = tokens
            .iter()
            .filter(|t| t.revoked_at.is_none())
            .find(|t| t.name.eq_ignore_ascii_case(selector.trim()) || t.id.to_string() == selector.trim())
            .ok_or_else(|| {
                IdentityError::Store(StoreError::UnknownToken(format!(
                    "\"{selector}\" (or it is already revoked)"
                )))
            })?
            .clone();
        let entry = EntryDraft::system("token_revoked", by, now, json!({"token": token.name, "id": token.id}));
        self.store.revoke_token(token.id, now, entry).await?;
        self.forget_cached();
        Ok(TokenRecord {
            revoked_at: Some(now),
            ..token
        })
    }

    /// Ends every session of user `name` and revokes every active API token they created,
    /// each on the audit chain: how many sessions ended, and the tokens revoked.
    pub async fn revoke_access(
        &self,
        name: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<(u64, Vec<String>), IdentityError> {
        let user = self.existing_user(name).await?;
        let entry = EntryDraft::system("sessions_ended", by, now, json!({"user": user.name}));
        let ended = self.store.end_sessions(user.id, entry).await?;
        let mut revoked = Vec::new();
        for token in self.store.tokens().await? {
            if token.revoked_at.is_none() && token.created_by.eq_ignore_ascii_case(user.name.as_str()) {
                let entry = EntryDraft::system("token_revoked", by, now, json!({"token": token.name, "id": token.id}));
                self.store.revoke_token(token.id, now, entry).await?;
                revoked.push(token.name);
            }
        }
        self.forget_cached();
        Ok((ended, revoked))
    }

    /// The principal of a bearer token, if it is known, active and not expired.
    pub async fn authenticate_token(&self, token: &str, now: Timestamp) -> Result<Principal, IdentityError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(IdentityError::Unauthenticated("the bearer token is not a tocsin token"));
        }
        let hash = digest(token);
        let record = match self.tokens.get(&hash) {
            Some(record) => record,
            None => {
                let record = self
                    .store
                    .token_by_hash(&hash)
                    .await?
                    .ok_or(IdentityError::Unauthenticated("the token is not known"))?;
                self.tokens.put(hash.clone(), record.clone());
                record
            }
        };
        if record.revoked_at.is_some() {
            return Err(IdentityError::Unauthenticated("the token was revoked"));
        }
        if record.expires_at.is_some_and(|at| at <= now) {
            return Err(IdentityError::Unauthenticated("the token has expired"));
        }
        if record
            .last_used_at
            .is_none_or(|at| now.duration_since(at) >= TOUCH_EVERY)
        {
            self.touch(&hash, &record, now).await?;
        }
        Ok(Principal::Token {
            id: record.id,
            name: record.name,
            scopes: record.scopes,
        })
    }

    async fn touch(&self, hash: &str, record: &TokenRecord, now: Timestamp) -> Result<(), IdentityError> {
        self.tokens.update(hash, |cached| cached.last_used_at = Some(now));
        Ok(self.store.touch_token(record.id, now).await?)
    }

    /// Checks a password and opens a session. Every attempt is recorded, and reserved
    /// before its password is checked, so that [`LOGIN_LIMITS`] hold however many arrive
    /// at once. The check runs to its end even if the caller goes away.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        ip: &str,
        user_agent: &str,
        now: Timestamp,
    ) -> Result<(Secret, Session), IdentityError> {
        let this = self.clone();
        let attempt = LoginAttempt {
            at: now,
            username: name.trim().chars().take(64).collect(),
            user_id: None,
            ip: ip.to_owned(),
            user_agent: user_agent.chars().take(512).collect(),
            outcome: LoginOutcome::Throttled,
        };
        // A password too long to be anyone's is still checked, cut to the longest allowed,
        // so that it costs what any other wrong password costs.
        let max = tocsin_core::identity::PASSWORD_MAX_BYTES;
        let over_long = password.len() > max;
        let mut password = password.to_owned();
        tocsin_core::event::cut(&mut password, max);
        let password = Secret(password);
        tokio::spawn(async move { this.check_login(attempt, password, over_long).await })
            .await
            .unwrap_or(Err(IdentityError::Unauthenticated("the login was cut short")))
    }

    async fn check_login(
        &self,
        mut attempt: LoginAttempt,
        password: Secret,
        over_long: bool,
    ) -> Result<(Secret, Session), IdentityError> {
        let id = match self.store.reserve_login(&attempt, &LOGIN_LIMITS).await? {
            LoginReservation::Check(id) => id,
            LoginReservation::Refused(wait) => {
                return Err(IdentityError::Throttled {
                    retry_after_secs: wait.as_secs().unsigned_abs().max(1),
                });
            }
        };
        let user = match Username::parse(&attempt.username) {
            Ok(username) => self.store.user(&username).await?,
            Err(_) => None,
        };
        let hash = user.as_ref().map_or(DECOY_HASH, |user| user.password_hash.as_str());
        let matches = self.verify(password.expose(), hash).await && !over_long;
        attempt.user_id = user.as_ref().map(|user| user.id);
        attempt.outcome = match &user {
            None => LoginOutcome::UnknownUser,
            Some(_) if !matches => LoginOutcome::BadPassword,
            Some(user) if user.disabled => LoginOutcome::Disabled,
            Some(_) => LoginOutcome::Success,
        };
        self.store.finish_login(id, &attempt).await?;
        let user = match user {
            Some(user) if attempt.outcome == LoginOutcome::Success => user,
            _ => return Err(IdentityError::Unauthenticated("wrong user name or password")),
        };
        let secret = Secret(random_hex(32));
        let session = NewSession {
            hash: digest(secret.expose()),
            user_id: user.id,
            csrf: random_hex(32),
            at: attempt.at,
            expires_at: attempt.at.checked_add(SESSION_LIFETIME).unwrap_or(attempt.at),
            ip: attempt.ip,
            user_agent: attempt.user_agent,
        };
        self.store.create_session(session.clone()).await?;
        Ok((
            secret,
            Session {
                principal: Principal::User {
                    id: user.id,
                    name: user.name,
                    role: user.role,
                },
                csrf: session.csrf,
                expires_at: session.expires_at,
            },
        ))
    }

    /// The session of a browser's cookie, if it is live.
    pub async fn session(&self, secret: &str, now: Timestamp) -> Result<Option<Session>, IdentityError> {
        let hash = digest(secret);
        let record = match self.sessions.get(&hash) {
            Some(record) => Some(record),
            None => {
                let record = self.store.session(&hash, now).await?;
                if let Some(record) = &record {
                    self.sessions.put(hash, record.clone());
                }
                record
            }
        };
        Ok(record
            .filter(|r| r.expires_at > now && !r.user.disabled)
            .map(|r| Session {
                principal: Principal::User {
                    id: r.user.id,
                    name: r.user.name,
                    role: r.user.role,
                },
                csrf: r.csrf,
                expires_at: r.expires_at,
            }))
    }

    pub async fn logout(&self, secret: &str) -> Result<(), IdentityError> {
        let hash = digest(secret);
        self.sessions.remove(&hash);
        Ok(self.store.delete_session(&hash).await?)
    }
}

#[cfg(test)]
mod tests {
    use argon2::PasswordHash;

    use super::*;

    #[test]
    fn the_decoy_costs_what_a_real_password_costs() {
        let decoy = PasswordHash::new(DECOY_HASH).unwrap();
        let real_hash = hash_now("some password");
        let real = PasswordHash::new(&real_hash).unwrap();
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(decoy.params, real.params);
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
