//! Identifiers that a plan gives its severities, steps, roles and obligations.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text is not an identifier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{text}\" is not a valid id: use 1 to 40 letters, digits, '-' or '_', starting with a letter or digit")]
pub struct IdError {
    pub text: String,
}

fn check(text: &str) -> Result<(), IdError> {
    let mut chars = text.chars();
    let valid = text.len() <= 40
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(IdError { text: text.to_owned() })
    }
}

macro_rules! plan_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, IdError> {
                check(text).map(|()| Self(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

plan_id!(
    /// A severity's id, such as `P1`.
    SeverityId
);
plan_id!(
    /// A response step's id, such as `contain`.
    StepId
);
plan_id!(
    /// A role's id, such as `incident-commander`.
    RoleId
);
plan_id!(
    /// An obligation's id, such as `gdpr-art33`.
    ObligationId
);
plan_id!(
    /// An action's id, such as `block-address`.
    ActionId
);
plan_id!(
    /// A service's id, such as `api`: what maintenance mode is turned on for.
    ServiceId
);
plan_id!(
    /// A probe's id, such as `api-health`.
    ProbeId
);

/// The closest of `candidates` to `wrong`, if it is close enough to be a likely typo.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wrong_lower = wrong.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&wrong_lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count().max(wrong.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1).min(row[j] + 1).min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_short_words_of_letters_digits_and_dashes() {
        assert!(SeverityId::parse("P1").is_ok());
        assert!(StepId::parse("post-incident_review2").is_ok());
        for bad in ["", "-x", "a b", "é", &"x".repeat(41)] {
            assert!(StepId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_typo_suggests_the_intended_word() {
        let steps = ["identify", "contain", "eradicate"];
        assert_eq!(closest("contian", steps), Some("contain"));
        assert_eq!(closest("Identify", steps), Some("identify"));
        assert_eq!(closest("banana", steps), None);
    }
}
