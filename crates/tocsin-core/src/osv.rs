//! Matching pinned packages against OSV advisories (the Open Source Vulnerabilities schema):
//! which advisories affect a package's version, by the advisory's explicit versions or its
//! ranges, and the version that fixes it. Pure: the caller reads an OSV export or asks the
//! OSV API for the advisories.
//!
//! Versions are compared one way for every ecosystem: numbers as numbers, words as words,
//! a pre-release (`-rc.1`, `a1`, `.dev0`) before its release, build metadata ignored. That
//! is exact for SemVer (crates.io, npm, Go) and right for the versions PyPI and RubyGems
//! packages use in practice; Git ranges are not evaluated (their explicit versions are).

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::Deserialize;

use crate::lockfiles::{Ecosystem, Package};

/// An advisory as OSV writes it, with what matching needs.
#[derive(Clone, Debug, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub severity: Vec<SeverityScore>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
    /// When it was withdrawn: it then affects nothing.
    #[serde(default)]
    pub withdrawn: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct SeverityScore {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Affected {
    pub package: Option<AffectedPackage>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct AffectedPackage {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Event {
    pub introduced: Option<String>,
    pub fixed: Option<String>,
    pub last_affected: Option<String>,
    pub limit: Option<String>,
}

/// A package an advisory affects.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Vulnerable {
    pub package: Package,
    pub advisory: String,
    pub aliases: Vec<String>,
    pub summary: String,
    /// `CRITICAL`, `HIGH`, `MODERATE` or `LOW` when the advisory says, else `UNKNOWN`.
    pub severity: String,
    /// The first version that fixes it, when the advisory names one.
    pub fixed: Option<String>,
}

/// Advisories by the package they name.
#[derive(Clone, Debug, Default)]
pub struct Index {
    by_package: HashMap<(Ecosystem, String), Vec<std::sync::Arc<Advisory>>>,
    /// Advisories held.
    pub advisories: usize,
}

impl Index {
    /// Adds an advisory under each package it names in an ecosystem tocsin reads; one
    /// withdrawn is left out.
    pub fn add(&mut self, advisory: Advisory) {
        if advisory.withdrawn.is_some() {
            return;
        }
        let advisory = std::sync::Arc::new(advisory);
        let mut named = Vec::new();
        for affected in &advisory.affected {
            let Some(p) = &affected.package else { continue };
            // "PyPI", or "Debian:12"-style ecosystems with a suffix, which tocsin skips.
            let Some(ecosystem) = Ecosystem::parse(&p.ecosystem) else {
                continue;
            };
            let key = (ecosystem, normalized(ecosystem, &p.name));
            if !named.contains(&key) {
                named.push(key);
            }
        }
        if named.is_empty() {
            return;
        }
        self.advisories += 1;
        for key in named {
            self.by_package
                .entry(key)
                .or_default()
                .push(std::sync::Arc::clone(&advisory));
        }
    }

    /// The advisories that affect `package`'s version.
    pub fn check(&self, package: &Package) -> Vec<Vulnerable> {
        let key = (package.ecosystem, normalized(package.ecosystem, &package.name));
        let Some(advisories) = self.by_package.get(&key) else {
            return Vec::new();
        };
        advisories.iter().filter_map(|a| affects(a, package)).collect()
    }
}

/// A package's name as its ecosystem compares it: PyPI's normalized, the rest as written.
/// A package's name as its ecosystem compares it (PyPI's are case- and separator-blind).
pub fn normalized(ecosystem: Ecosystem, name: &str) -> String {
    match ecosystem {
        Ecosystem::PyPi => name.to_ascii_lowercase().replace(['_', '.'], "-"),
        _ => name.to_owned(),
    }
}

/// Whether `advisory` affects `package`, and how.
pub fn affects(advisory: &Advisory, package: &Package) -> Option<Vulnerable> {
    let name = normalized(package.ecosystem, &package.name);
    for affected in &advisory.affected {
        let Some(p) = &affected.package else { continue };
        if Ecosystem::parse(&p.ecosystem) != Some(package.ecosystem) || normalized(package.ecosystem, &p.name) != name {
            continue;
        }
        let listed = affected
            .versions
            .iter()
            .any(|v| compare(v, &package.version) == Ordering::Equal);
        let mut fixed = None;
        let in_range = affected.ranges.iter().filter(|r| r.kind != "GIT").any(|range| {
            let (hit, fix) = in_range(range, &package.version);
            if hit {
                fixed = fix;
            }
            hit
        });
        if listed || in_range {
            if fixed.is_none() {
                fixed = affected
                    .ranges
                    .iter()
                    .flat_map(|r| r.events.iter())
                    .filter_map(|e| e.fixed.clone())
                    .filter(|f| compare(f, &package.version) == Ordering::Greater)
                    .min_by(|a, b| compare(a, b));
            }
            return Some(Vulnerable {
                package: package.clone(),
                advisory: advisory.id.clone(),
                aliases: advisory.aliases.clone(),
                summary: advisory.summary.clone().unwrap_or_default(),
                severity: severity(advisory, affected),
                fixed,
            });
        }
    }
    None
}

/// Whether `version` is inside `range`, and the fix that ends the span it is in.
fn in_range(range: &Range, version: &str) -> (bool, Option<String>) {
    let mut events: Vec<(&str, u8)> = range
        .events
        .iter()
        .filter_map(|e| {
            e.introduced
                .as_deref()
                .map(|v| (v, 0))
                .or(e.fixed.as_deref().map(|v| (v, 1)))
                .or(e.last_affected.as_deref().map(|v| (v, 2)))
        })
        .collect();
    events.sort_by(|a, b| compare(a.0, b.0).then(a.1.cmp(&b.1)));
    let mut affected = false;
    let mut fix = None;
    for (at, kind) in events {
        match kind {
            0 if at == "0" || compare(version, at) != Ordering::Less => affected = true,
            1 if compare(version, at) != Ordering::Less => affected = false,
            1 if affected && fix.is_none() => fix = Some(at.to_owned()),
            2 if compare(version, at) == Ordering::Greater => affected = false,
            _ => {}
        }
    }
    (affected, fix.filter(|_| affected))
}

/// The advisory's severity word: its own or its package's `database_specific.severity`
/// (GitHub's words, MODERATE for medium), else the CVSS v3 vector's base score.
fn severity(advisory: &Advisory, affected: &Affected) -> String {
    let word = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .and_then(|d| d.get("severity"))
            .and_then(|s| s.as_str())
            .map(str::to_ascii_uppercase)
    };
    if let Some(w) = word(&affected.database_specific).or_else(|| word(&advisory.database_specific)) {
        return if w == "MEDIUM" { "MODERATE".into() } else { w };
    }
    advisory
        .severity
        .iter()
        .find(|s| s.kind.starts_with("CVSS_V3"))
        .and_then(|s| cvss3_base(&s.score))
        .map_or_else(
            || "UNKNOWN".to_owned(),
            |score| {
                match score {
                    s if s >= 9.0 => "CRITICAL",
                    s if s >= 7.0 => "HIGH",
                    s if s >= 4.0 => "MODERATE",
                    s if s > 0.0 => "LOW",
                    _ => "NONE",
                }
                .to_owned()
            },
        )
}

/// The base score of a CVSS v3.0 or v3.1 vector (FIRST's specification), or `None` when the
/// vector cannot be read.
pub fn cvss3_base(vector: &str) -> Option<f64> {
    let mut metrics = HashMap::new();
    let mut parts = vector.split('/');
    if !parts.next()?.starts_with("CVSS:3") {
        return None;
    }
    for part in parts {
        let (k, v) = part.split_once(':')?;
        metrics.insert(k, v);
    }
    let get = |k: &str| metrics.get(k).copied();
    let changed = get("S")? == "C";
    let av: f64 = match get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        "P" => 0.2,
        _ => return None,
    };
    let ac: f64 = match get("AC")? {
        "L" => 0.77,
        "H" => 0.44,
        _ => return None,
    };
    let pr: f64 = match (get("PR")?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        ("H", false) => 0.27,
        ("H", true) => 0.5,
        _ => return None,
    };
    let ui: f64 = match get("UI")? {
        "N" => 0.85,
        "R" => 0.62,
        _ => return None,
    };
    let cia = |k: &str| -> Option<f64> {
        match get(k) {
            Some("H") => Some(0.56),
            Some("L") => Some(0.22),
            Some("N") => Some(0.0),
            _ => None,
        }
    };
    let iss: f64 = 1.0 - (1.0 - cia("C")?) * (1.0 - cia("I")?) * (1.0 - cia("A")?);
    let impact = if changed {
        7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
    } else {
        6.42 * iss
    };
    let exploitability = 8.22 * av * ac * pr * ui;
    if impact <= 0.0 {
        return Some(0.0);
    }
    let raw = if changed {
        (1.08 * (impact + exploitability)).min(10.0)
    } else {
        (impact + exploitability).min(10.0)
    };
    Some(round_up(raw))
}

/// CVSS v3.1's round-up to one decimal, free of floating-point surprises.
fn round_up(value: f64) -> f64 {
    let int = (value * 100_000.0).round() as i64;
    if int % 10_000 == 0 {
        int as f64 / 100_000.0
    } else {
        ((int / 10_000) + 1) as f64 / 10.0
    }
}

/// A token of a version: a number or a word.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Number(u64),
    Word(&'a str),
}

fn tokens(version: &str) -> (Vec<Token<'_>>, bool) {
    let version = version.trim().trim_start_matches(['v', 'V']);
    let version = version.split('+').next().unwrap_or(version);
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = version.as_bytes();
    while start < bytes.len() {
        if !bytes[start].is_ascii_alphanumeric() {
            start += 1;
            continue;
        }
        let digit = bytes[start].is_ascii_digit();
        let mut end = start;
        while end < bytes.len() && bytes[end].is_ascii_alphanumeric() && bytes[end].is_ascii_digit() == digit {
            end += 1;
        }
        let text = &version[start..end];
        out.push(if digit {
            Token::Number(text.parse().unwrap_or(u64::MAX))
        } else {
            Token::Word(text)
        });
        start = end;
    }
    // A SemVer pre-release: a hyphen before the first word.
    let prerelease = version.contains('-');
    (out, prerelease)
}

/// A pre-release word's rank (dev before alpha before beta before rc), or `None` for a
/// word that is not one.
fn prerelease_rank(word: &str) -> Option<u8> {
    Some(match word.to_ascii_lowercase().as_str() {
        "dev" | "snapshot" => 0,
        "a" | "alpha" | "m" | "milestone" => 1,
        "b" | "beta" => 2,
        "c" | "rc" | "pre" | "preview" => 3,
        _ => return None,
    })
}

fn is_prerelease_word(word: &str) -> bool {
    prerelease_rank(word).is_some()
}

/// Compares two versions (see the module's note).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ta, _) = tokens(a);
    let (tb, _) = tokens(b);
    let mut i = 0;
    loop {
        match (ta.get(i), tb.get(i)) {
            (None, None) => return Ordering::Equal,
            // Only one goes on: a pre-release word makes it the smaller.
            (None, Some(Token::Word(w))) => {
                return if is_prerelease_word(w) {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            (Some(Token::Word(w)), None) => {
                return if is_prerelease_word(w) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            (None, Some(Token::Number(n))) => {
                // 1.0 and 1.0.0 are the same.
                if *n == 0 && tb[i + 1..].iter().all(|t| *t == Token::Number(0)) {
                    return Ordering::Equal;
                }
                return Ordering::Less;
            }
            (Some(Token::Number(n)), None) => {
                if *n == 0 && ta[i + 1..].iter().all(|t| *t == Token::Number(0)) {
                    return Ordering::Equal;
                }
                return Ordering::Greater;
            }
            (Some(Token::Number(x)), Some(Token::Number(y))) => {
                if x != y {
                    return x.cmp(y);
                }
            }
            (Some(Token::Number(_)), Some(Token::Word(w))) => {
                return if is_prerelease_word(w) {
                    Ordering::Greater
                } else {
                    Ordering::Less
                };
            }
            (Some(Token::Word(w)), Some(Token::Number(_))) => {
                return if is_prerelease_word(w) {
                    Ordering::Less
                } else {
                    Ordering::Greater
                };
            }
            (Some(Token::Word(x)), Some(Token::Word(y))) => {
                let order = match (prerelease_rank(x), prerelease_rank(y)) {
                    (Some(a), Some(b)) => a.cmp(&b),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase()),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_as_their_ecosystems_do() {
        for (a, b) in [
            ("1.2.3", "1.10.0"),
            ("1.0.0-alpha", "1.0.0"),
            ("1.0.0-alpha.1", "1.0.0-beta"),
            ("1.0.0-rc.1", "1.0.0"),
            ("2.0rc1", "2.0"),
            ("2.0.dev0", "2.0a1"),
            ("0.9.9", "v1.0.0"),
            ("4.17.20", "4.17.21"),
            ("1.0", "1.0.post1"),
        ] {
            assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
            assert_eq!(compare(b, a), Ordering::Greater, "{b} > {a}");
        }
        assert_eq!(compare("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(compare("1.2.3+build.5", "1.2.3"), Ordering::Equal);
    }

    #[test]
    fn cvss_vectors_score_as_first_specifies() {
        for (vector, score) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
            ("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5),
            ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:L", 3.7),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ] {
            assert_eq!(cvss3_base(vector), Some(score), "{vector}");
        }
        assert_eq!(cvss3_base("CVSS:2.0/AV:N"), None);
        assert_eq!(cvss3_base("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), None);
    }
}
