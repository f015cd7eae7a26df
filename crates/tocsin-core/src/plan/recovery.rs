//! How long a resolved incident is watched: `[recovery]`.

use super::read::{Problems, Section, TableAt};
use crate::diagnostic::Diagnostic;

/// `[recovery]`: after an incident is resolved, the detectors watch its keys (addresses,
/// accounts, agents, fingerprints) for the attack coming back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recovery {
    /// How long after resolution; `None` when the plan turns the watch off.
    pub watch_seconds: Option<i64>,
    /// How many times more sensitive the detectors are for the watched keys.
    pub sensitivity: u32,
}

impl Default for Recovery {
    /// Both reference plans watch for up to 72 hours; twice as sensitive.
    fn default() -> Self {
        Recovery {
            watch_seconds: Some(72 * 3600),
            sensitivity: 2,
        }
    }
}

/// `[recovery]`: `watch` (an exact span, or "0m" for none) and `sensitivity` (1 to 10).
pub(super) fn recovery(table: TableAt<'_, '_>, problems: &mut Problems) -> Recovery {
    let mut s = Section::new(table, "[recovery]");
    let watch = s.opt_duration("watch", problems);
    let sensitivity = s.opt_uint("sensitivity", 1, 10, problems);
    s.finish(problems);
    let default = Recovery::default();
    let watch_seconds = match watch {
        None => default.watch_seconds,
        Some(w) => match w.value.elapsed_seconds() {
            Some(0) => None,
            Some(seconds) => Some(seconds),
            None => {
                problems.push(
                    Diagnostic::new(w.span, "watch in [recovery] must be an exact span")
                        .with_hint("write it like \"72h\" or \"3d\", or \"0m\" for no watch"),
                );
                default.watch_seconds
            }
        },
    };
    Recovery {
        watch_seconds,
        sensitivity: sensitivity.map_or(default.sensitivity, |s| s.value),
    }
}
