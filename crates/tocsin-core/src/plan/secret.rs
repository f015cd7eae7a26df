//! Secrets by reference: a section names where its secret is kept, never the secret.

use std::fmt;

use super::read::{Problems, Section};
use crate::diagnostic::Diagnostic;

/// Where a secret is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretRef {
    /// In this environment variable.
    Env(String),
    /// In this file (like a container secret).
    File(String),
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "the environment variable {name}"),
            SecretRef::File(path) => write!(f, "the file {path}"),
        }
    }
}

/// Reads where `s`'s secret is kept, `secret_env` or `secret_file`; a `secret` written
/// in the plan itself is refused.
pub(super) fn secret_reference(s: &mut Section<'_, '_>, problems: &mut Problems) -> Option<SecretRef> {
    secret_reference_named(s, ["secret", "secret_env", "secret_file"], problems)
}

/// Like [`secret_reference`] for a section's second secret, its keys named: the inline
/// one refused, and `_env` and `_file`.
pub(super) fn secret_reference_named(
    s: &mut Section<'_, '_>,
    [inline_key, env_key, file_key]: [&'static str; 3],
    problems: &mut Problems,
) -> Option<SecretRef> {
    let inline = s.opt_str(inline_key, problems);
    let env = s.opt_str(env_key, problems);
    let file = s.opt_str(file_key, problems);
    if let Some(inline) = inline {
        problems.push(
            Diagnostic::new(inline.span, "a secret must not be written in the plan")
                .with_hint("keep it in an environment variable (secret_env) or a file (secret_file)"),
        );
    }
    match (env, file) {
        (Some(env), None) => Some(SecretRef::Env(env.value)),
        (None, Some(file)) => Some(SecretRef::File(file.value)),
        (Some(env), Some(_)) => {
            problems.push(
                Diagnostic::new(env.span, format!("{} names both {env_key} and {file_key}", s.name))
                    .with_hint("keep one of them"),
            );
            Some(SecretRef::Env(env.value))
        }
        (None, None) => None,
    }
}
