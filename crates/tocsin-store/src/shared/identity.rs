//! Users, tokens, sessions and the login attempts counted against them.

use super::*;
use crate::events::NewEvent;

use tocsin_core::identity::{Role, Scopes, Username};

use crate::identity::{
    IdentityStore, LoginAttempt, LoginCounts, LoginLimits, LoginOutcome, LoginReservation, NewSession, NewToken,
    NewUser, SessionRecord, TokenRecord, UserChange, UserRecord,
};

const USER_COLUMNS: &str = "u.id, u.name, u.role, u.password_hash, u.disabled, u.created_ms, u.password_changed_ms";

fn user_from(row: &DbRow) -> Result<UserRecord, StoreError> {
    let name: String = row.try_get("name")?;
    let role: String = row.try_get("role")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        name: Username::parse(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        role: role.parse::<Role>().map_err(StoreError::Corrupt)?,
        password_hash: row.try_get("password_hash")?,
        disabled: row.try_get("disabled")?,
        created_at: time(row.try_get("created_ms")?)?,
        password_changed_at: time(row.try_get("password_changed_ms")?)?,
    })
}

fn token_from(row: &DbRow) -> Result<TokenRecord, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    Ok(TokenRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        scopes: scopes.parse::<Scopes>().map_err(StoreError::Corrupt)?,
        hash: row.try_get("hash")?,
        hint: row.try_get("hint")?,
        created_by: row.try_get("created_by")?,
        created_at: time(row.try_get("created_ms")?)?,
        expires_at: opt_time(row.try_get("expires_ms")?)?,
        last_used_at: opt_time(row.try_get("last_used_ms")?)?,
        revoked_at: opt_time(row.try_get("revoked_ms")?)?,
    })
}

#[async_trait]
impl IdentityStore for Backend {
    async fn user_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        uint(n, "user count")
    }

    async fn create_user(&self, user: NewUser, entry: EntryDraft) -> Result<UserRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let at = user.at.as_millisecond();
        let id: i64 = sqlx::query(
            "INSERT INTO users (name, name_key, role, password_hash, disabled, created_ms, password_changed_ms)
             VALUES ($1, $2, $3, $4, FALSE, $5, $5) RETURNING id",
        )
        .bind(user.name.as_str())
        .bind(user.name.key())
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(at)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| duplicate(e, format!("a user named \"{}\" already exists", user.name)))?
        .try_get("id")?;
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(UserRecord {
            id,
            name: user.name,
            role: user.role,
            password_hash: user.password_hash,
            disabled: false,
            created_at: user.at,
            password_changed_at: user.at,
        })
    }

    async fn user(&self, name: &Username) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.name_key = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(name.key())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.name_key");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(user_from).collect()
    }

    async fn change_user(&self, id: i64, change: UserChange, entry: EntryDraft) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let at = entry.recorded_at.as_millisecond();
        let (query, ends_sessions) = match &change {
            UserChange::Password(hash) => (
                sqlx::query("UPDATE users SET password_hash = $1, password_changed_ms = $2 WHERE id = $3")
                    .bind(hash.clone())
                    .bind(at),
                true,
            ),
            UserChange::Disabled(disabled) => (
                sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2").bind(*disabled),
                *disabled,
            ),
            UserChange::Role(role) => (
                sqlx::query("UPDATE users SET role = $1 WHERE id = $2").bind(role.as_str()),
                false,
            ),
        };
        if query.bind(id).execute(&mut *tx).await?.rows_affected() == 0 {
            return Err(StoreError::UnknownUser(format!("#{id}")));
        }
        if ends_sessions {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn create_token(&self, token: NewToken, entry: EntryDraft) -> Result<TokenRecord, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO api_tokens (name, name_key, scopes, hash, hint, created_by, created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&token.name)
        .bind(token.name.to_lowercase())
        .bind(token.scopes.to_string())
        .bind(&token.hash)
        .bind(&token.hint)
        .bind(&token.created_by)
        .bind(token.at.as_millisecond())
        .bind(token.expires_at.map(Timestamp::as_millisecond))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| duplicate(e, format!("an active token named \"{}\" already exists", token.name)))?
        .try_get("id")?;
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(TokenRecord {
            id,
            name: token.name,
            scopes: token.scopes,
            hash: token.hash,
            hint: token.hint,
            created_by: token.created_by,
            created_at: token.at,
            expires_at: token.expires_at,
            last_used_at: None,
            revoked_at: None,
        })
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM api_tokens WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(token_from).transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM api_tokens ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(token_from).collect()
    }

    async fn revoke_token(&self, id: i64, at: Timestamp, entry: EntryDraft) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let revoked = sqlx::query("UPDATE api_tokens SET revoked_ms = $1 WHERE id = $2 AND revoked_ms IS NULL")
            .bind(at.as_millisecond())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if revoked.rows_affected() == 0 {
            return Err(StoreError::UnknownToken(format!("#{id} (or it is already revoked)")));
        }
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn touch_token(&self, id: i64, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_ms = $1 WHERE id = $2 AND (last_used_ms IS NULL OR last_used_ms < $1)",
        )
        .bind(at.as_millisecond())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_session(&self, session: NewSession) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (hash, user_id, csrf, created_ms, expires_ms, ip, user_agent)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&session.hash)
        .bind(session.user_id)
        .bind(&session.csrf)
        .bind(session.at.as_millisecond())
        .bind(session.expires_at.as_millisecond())
        .bind(&session.ip)
        .bind(&session.user_agent)
        .execute(&self.pool)
        .await?;
        // Expired sessions are of no use to anyone: drop them while here.
        sqlx::query("DELETE FROM sessions WHERE expires_ms < $1")
            .bind(session.at.as_millisecond())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session(&self, hash: &str, now: Timestamp) -> Result<Option<SessionRecord>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, s.csrf, s.created_ms AS session_created_ms, s.expires_ms
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.hash = $1 AND s.expires_ms > $2 AND NOT u.disabled"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hash)
            .bind(now.as_millisecond())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(SessionRecord {
                user: user_from(&row)?,
                csrf: row.try_get("csrf")?,
                created_at: time(row.try_get("session_created_ms")?)?,
                expires_at: time(row.try_get("expires_ms")?)?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE hash = $1")
            .bind(hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn end_sessions(&self, user_id: i64, entry: EntryDraft) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn reserve_login(
        &self,
        attempt: &LoginAttempt,
        limits: &LoginLimits,
    ) -> Result<LoginReservation, StoreError> {
        let mut tx = self.begin_write().await?;
        Backend::take_turn(&mut tx, Turn::Logins).await?;
        let counts = login_counts(&mut tx, attempt, limits).await?;
        let refusal = limits.refusal(&counts, attempt.at);
        let outcome = match refusal {
            Some(_) => LoginOutcome::Throttled.as_str(),
            None => PENDING,
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO login_attempts (at_ms, username, name_key, user_id, ip, user_agent, outcome)
             VALUES ($1, $2, $3, NULL, $4, $5, $6) RETURNING id",
        )
        .bind(attempt.at.as_millisecond())
        .bind(&attempt.username)
        .bind(attempt.username.to_lowercase())
        .bind(&attempt.ip)
        .bind(&attempt.user_agent)
        .bind(outcome)
        .fetch_one(&mut *tx)
        .await?;
        if let Some(wait) = refusal {
            let throttled = LoginAttempt {
                outcome: LoginOutcome::Throttled,
                user_id: None,
                ..attempt.clone()
            };
            events::insert_events(&mut tx, &[NewEvent::new(throttled.event(), "tocsin", attempt.at)]).await?;
            tx.commit().await?;
            return Ok(LoginReservation::Refused(wait));
        }
        tx.commit().await?;
        Ok(LoginReservation::Check(id))
    }

    async fn finish_login(&self, id: i64, attempt: &LoginAttempt) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE login_attempts SET outcome = $1, user_id = $2 WHERE id = $3")
            .bind(attempt.outcome.as_str())
            .bind(attempt.user_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        events::insert_events(&mut tx, &[NewEvent::new(attempt.event(), "tocsin", attempt.at)]).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The outcome of a reserved attempt whose password is being checked. It counts as a
/// failure until it is finished; one never finished (the server stopped) stays one.
const PENDING: &str = "pending";

/// Outcomes that count towards the limits. A throttled attempt does not, so that waiting
/// out the window always works.
const FAILED: &str = "('bad_password', 'unknown_user', 'disabled', 'pending')";

async fn login_counts(tx: &mut Tx, attempt: &LoginAttempt, limits: &LoginLimits) -> Result<LoginCounts, StoreError> {
    let since = attempt
        .at
        .checked_sub(limits.window)
        .unwrap_or(attempt.at)
        .as_millisecond();
    let familiar_since = attempt
        .at
        .checked_sub(limits.familiar_for)
        .unwrap_or(attempt.at)
        .as_millisecond();
    let account = attempt.username.to_lowercase();
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT
            (SELECT COUNT(*) FROM login_attempts
             WHERE ip = $1 AND at_ms >= $3 AND outcome IN {FAILED}) AS from_address,
            (SELECT COUNT(*) FROM login_attempts
             WHERE name_key = $2 AND ip = $1 AND at_ms >= $3 AND outcome IN {FAILED}) AS for_account_from_address,
            (SELECT COUNT(*) FROM login_attempts
             WHERE name_key = $2 AND at_ms >= $3 AND outcome IN {FAILED}) AS for_account,
            (SELECT COUNT(*) FROM login_attempts
             WHERE name_key = $2 AND ip = $1 AND at_ms >= $4 AND outcome = 'success') AS successes,
            (SELECT MAX(at_ms) FROM login_attempts
             WHERE name_key = $2 AND at_ms >= $3 AND outcome <> 'throttled') AS last_checked_ms"
    )))
    .bind(&attempt.ip)
    .bind(account)
    .bind(since)
    .bind(familiar_since)
    .fetch_one(&mut **tx)
    .await?;
    Ok(LoginCounts {
        from_address: uint(row.try_get("from_address")?, "login count")?,
        for_account_from_address: uint(row.try_get("for_account_from_address")?, "login count")?,
        for_account: uint(row.try_get("for_account")?, "login count")?,
        familiar: row.try_get::<i64, _>("successes")? > 0,
        last_checked_on_account: opt_time(row.try_get("last_checked_ms")?)?,
    })
}
