//! Who may do what: users' roles, API tokens' scopes, and the permissions both grant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Something a request needs to be allowed to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read incidents, clocks, the timeline, the plan and verification.
    Read,
    /// Declare and change incidents.
    Respond,
    /// Send events and alerts.
    Ingest,
    /// Manage users and tokens and read the login trail.
    Admin,
}

/// A person's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Responder,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Responder, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Responder => "responder",
            Role::Admin => "admin",
        }
    }

    /// Viewers read; responders also work incidents; admins also manage users, tokens,
    /// integrations and the plan.
    /// People never ingest: that is for senders' tokens.
    pub fn permits(self, permission: Permission) -> bool {
        match permission {
            Permission::Read => true,
            Permission::Respond => self >= Role::Responder,
            Permission::Ingest => false,
            Permission::Admin => self == Role::Admin,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text.trim())
            .ok_or_else(|| format!("unknown role \"{text}\"; choose one of viewer, responder, admin"))
    }
}

/// What an API token may do. Scopes are independent: `admin` does not imply `respond`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Read,
    Respond,
    Ingest,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Respond, Scope::Ingest, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Respond => "respond",
            Scope::Ingest => "ingest",
            Scope::Admin => "admin",
        }
    }

    pub fn grants(self) -> Permission {
        match self {
            Scope::Read => Permission::Read,
            Scope::Respond => Permission::Respond,
            Scope::Ingest => Permission::Ingest,
            Scope::Admin => Permission::Admin,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|s| s.as_str() == text.trim())
            .ok_or_else(|| format!("unknown scope \"{text}\"; choose from read, respond, ingest, admin"))
    }
}

/// A set of scopes, written `read,respond`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Self {
        let mut list: Vec<Scope> = scopes.into_iter().collect();
        list.sort();
        list.dedup();
        Scopes(list)
    }

    pub fn permits(&self, permission: Permission) -> bool {
        self.0.iter().any(|s| s.grants() == permission)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for Scopes {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let scopes = text
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Scope>, _>>()?;
        if scopes.is_empty() {
            return Err("a token needs at least one scope: read, respond, ingest or admin".into());
        }
        Ok(Scopes::new(scopes))
    }
}

/// A login name: 1 to 64 characters of letters, digits and `.`, `_`, `-`, `@`.
/// Kept as written but compared without regard to case.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

/// A text that is no user name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a valid user name: use 1 to 64 letters, digits, '.', '_', '-' or '@'")]
pub struct BadUsername(pub String);

impl Username {
    pub fn parse(text: &str) -> Result<Self, BadUsername> {
        let ok = !text.is_empty()
            && text.chars().count() <= 64
            && text
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
        if !ok {
            return Err(BadUsername(text.to_owned()));
        }
        Ok(Username(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form names are compared in, so `Jo` and `jo` are one account.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Passwords shorter than this are refused.
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Longer ones too: hashing megabytes would be a denial of service.
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// Why a new password is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BadPassword {
    #[error("the password is too short: use at least {PASSWORD_MIN_CHARS} characters")]
    TooShort,
    #[error("the password is too long: use at most {PASSWORD_MAX_BYTES} bytes")]
    TooLong,
}

/// Checks a new password's length; the reason is one line.
pub fn check_new_password(password: &str) -> Result<(), BadPassword> {
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return Err(BadPassword::TooShort);
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(BadPassword::TooLong);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_reads_but_cannot_respond_and_only_admins_administer() {
        assert!(Role::Viewer.permits(Permission::Read));
        assert!(!Role::Viewer.permits(Permission::Respond));
        assert!(Role::Responder.permits(Permission::Respond));
        assert!(!Role::Responder.permits(Permission::Admin));
        assert!(Role::Admin.permits(Permission::Admin));
    }

    #[test]
    fn scopes_grant_only_what_they_name() {
        let scopes: Scopes = "respond, read,read".parse().unwrap();
        assert_eq!(scopes.to_string(), "read,respond");
        assert!(scopes.permits(Permission::Respond));
        assert!(!scopes.permits(Permission::Ingest));
        let admin: Scopes = "admin".parse().unwrap();
        assert!(!admin.permits(Permission::Respond), "admin does not imply respond");
        assert!(
            "read,write"
                .parse::<Scopes>()
                .unwrap_err()
                .contains("unknown scope \"write\"")
        );
        assert!("".parse::<Scopes>().is_err());
    }

    #[test]
    fn user_names_are_checked_and_compared_without_case() {
        assert_eq!(Username::parse("Jo.Doe@x").unwrap().key(), "jo.doe@x");
        assert!(Username::parse("jo doe").is_err());
        assert!(Username::parse("").is_err());
        assert!(
            check_new_password("short")
                .unwrap_err()
                .to_string()
                .contains("at least 12")
        );
        assert!(check_new_password("correct horse battery").is_ok());
    }
}
