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
    let inline = s.opt_str("secret", problems);
    let env = s.opt_str("secret_env", problems);
    let file = s.opt_str("secret_file", problems);
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
                Diagnostic::new(env.span, format!("{} names both secret_env and secret_file", s.name))
                    .with_hint("keep one of them"),
            );
            Some(SecretRef::Env(env.value))
        }
        (None, None) => None,
    }
}
