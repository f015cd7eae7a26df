//! Who an incident's notices are emailed to.

use super::*;

use crate::recipients::{NewRecipient, NoticeRecipient, RecipientStore};

#[async_trait]
impl RecipientStore for Backend {
    async fn add_recipients(
        &self,
        incident: IncidentNumber,
        recipients: &[NewRecipient],
        at: Timestamp,
        entry: EntryDraft,
    ) -> Result<u64, StoreError> {
        let incident = int(incident.get(), "incident")?;
        let mut tx = self.begin_write().await?;
        let mut new = 0;
        for r in recipients {
            new += sqlx::query(
                "INSERT INTO notice_recipients (incident, email, name, added_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (incident, email) DO NOTHING",
            )
            .bind(incident)
            .bind(&r.email)
            .bind(&r.name)
            .bind(at.as_millisecond())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(new)
    }

    async fn recipients(
        &self,
        incident: IncidentNumber,
        after: i64,
        limit: u32,
    ) -> Result<Vec<NoticeRecipient>, StoreError> {
        let rows = sqlx::query("SELECT * FROM notice_recipients WHERE incident = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(int(incident.get(), "incident")?)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(NoticeRecipient {
                    id: row.try_get("id")?,
                    email: row.try_get("email")?,
                    name: row.try_get("name")?,
                    added: time(row.try_get("added_ms")?)?,
                })
            })
            .collect()
    }

    async fn count_recipients(&self, incident: IncidentNumber) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notice_recipients WHERE incident = $1")
            .bind(int(incident.get(), "incident")?)
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn remove_recipients(
        &self,
        incident: IncidentNumber,
        emails: Option<&[String]>,
        entry: EntryDraft,
    ) -> Result<u64, StoreError> {
        let incident = int(incident.get(), "incident")?;
        let mut tx = self.begin_write().await?;
        let removed = match emails {
            None => sqlx::query("DELETE FROM notice_recipients WHERE incident = $1")
                .bind(incident)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            Some(emails) => {
                let mut removed = 0;
                for email in emails {
                    removed += sqlx::query("DELETE FROM notice_recipients WHERE incident = $1 AND email = $2")
                        .bind(incident)
                        .bind(email)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                }
                removed
            }
        };
        append(&mut tx, vec![entry]).await?;
        tx.commit().await?;
        Ok(removed)
    }
}
