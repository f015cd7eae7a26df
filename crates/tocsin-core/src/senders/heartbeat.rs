//! Heartbeat pushes, as Uptime Kuma and Gatus push monitors send them: optionally a
//! `status` (`up` or `down`) and a `msg`, in the query, or in a form or JSON body.

use std::collections::BTreeMap;

use super::{Unreadable, json};

/// The most of a message kept, in characters.
pub const MSG_MAX: usize = 1_000;

/// What a push said.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Said {
    /// Whether the push says the job failed.
    pub down: bool,
    /// What it said, cut to [`MSG_MAX`] characters.
    pub msg: Option<String>,
}

/// Reads `status` and `msg` from the query, then from the body: JSON when the sender
/// said `application/json` (`is_json`), a form otherwise. The query wins.
pub fn said(query: Option<&str>, is_json: bool, body: &[u8]) -> Result<Said, Unreadable> {
    let mut fields: BTreeMap<String, String> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if is_json && !body.is_empty() {
        let value: serde_json::Value =
            json(body).map_err(|e| Unreadable::Invalid(format!("the body is not JSON: {e}")))?;
        for name in ["status", "msg"] {
            if let Some(text) = value.get(name).and_then(|v| v.as_str()) {
                fields.entry(name.to_owned()).or_insert_with(|| text.to_owned());
            }
        }
    } else if !body.is_empty() {
        for (k, v) in form_urlencoded::parse(body) {
            fields.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
    }
    let down = match fields.get("status").map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "up" | "ok" | "success") => false,
        Some("down" | "error" | "fail" | "failure") => true,
        Some(other) => {
            return Err(Unreadable::Invalid(format!(
                "status \"{other}\" is neither up nor down"
            )));
        }
    };
    let msg = fields
        .remove("msg")
        .map(|m| m.trim().chars().take(MSG_MAX).collect::<String>())
        .filter(|m| !m.is_empty());
    Ok(Said { down, msg })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_say_up_or_down_in_the_query_or_the_body() {
        assert_eq!(said(None, false, b"").unwrap(), Said::default());
        let down = said(Some("status=down&msg=disk%20full"), false, b"").unwrap();
        assert_eq!((down.down, down.msg.as_deref()), (true, Some("disk full")));
        assert!(said(None, false, b"status=error").unwrap().down);
        assert!(said(None, true, br#"{"status":"down"}"#).unwrap().down);
        assert!(said(None, true, b"{bad").unwrap_err().to_string().contains("not JSON"));
        assert!(
            said(Some("status=maybe"), false, b"")
                .unwrap_err()
                .to_string()
                .contains("\"maybe\"")
        );
    }
}
