//! How the audit chain is sealed: `[audit]`.

use super::build::unknown;
use super::read::{Problems, Section, TableAt};
use crate::diagnostic::Diagnostic;

/// `[audit]`: how the audit chain's signed heads go out. tocsin signs the head after every
/// burst of changes and at least `sign_every`, into its heads file; with `channel`, each
/// signed head is also sent there, a copy that whoever can write the database cannot reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditSeal {
    pub channel: Option<String>,
    pub sign_every_seconds: i64,
}

impl Default for AuditSeal {
    fn default() -> Self {
        AuditSeal {
            channel: None,
            sign_every_seconds: 3600,
        }
    }
}

/// `[audit]`: `channel` (a channel's name) and `sign_every` (an exact span, 1m to 1d).
pub(super) fn audit(table: TableAt<'_, '_>, channels: &[&str], problems: &mut Problems) -> AuditSeal {
    let mut s = Section::new(table, "[audit]");
    let channel = s.opt_str("channel", problems);
    let every = s.opt_duration("sign_every", problems);
    s.finish(problems);
    let mut audit = AuditSeal::default();
    if let Some(channel) = channel {
        if !channels.contains(&channel.value.as_str()) {
            problems.push(unknown(
                &channel,
                format!("[audit] refers to unknown channel \"{}\"", channel.value),
                channels,
                "define it in a [[channel]] table".into(),
            ));
        }
        audit.channel = Some(channel.value);
    }
    if let Some(every) = every {
        match every.value.elapsed_seconds() {
            Some(seconds) if (60..=86_400).contains(&seconds) => audit.sign_every_seconds = seconds,
            _ => problems.push(
                Diagnostic::new(every.span, "sign_every in [audit] must be an exact span from 1m to 1d")
                    .with_hint("write it like \"1h\" or \"15m\""),
            ),
        }
    }
    audit
}
