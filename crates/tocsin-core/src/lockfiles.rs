//! Reading the packages a lockfile pins, for the daily audit's dependency check: Cargo.lock,
//! package-lock.json (versions 1 to 3), pnpm-lock.yaml, yarn.lock (classic and Berry),
//! poetry.lock, requirements.txt, go.sum and Gemfile.lock. Each package with its OSV
//! ecosystem, its version, and whether the project names it directly (when the file says).
//! Pure: text in, packages or a typed refusal out.

use std::collections::{BTreeMap, BTreeSet};

/// An OSV ecosystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Ecosystem {
    #[serde(rename = "crates.io")]
    Crates,
    #[serde(rename = "npm")]
    Npm,
    #[serde(rename = "PyPI")]
    PyPi,
    #[serde(rename = "Go")]
    Go,
    #[serde(rename = "RubyGems")]
    RubyGems,
}

impl Ecosystem {
    /// The name OSV gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Crates => "crates.io",
            Ecosystem::Npm => "npm",
            Ecosystem::PyPi => "PyPI",
            Ecosystem::Go => "Go",
            Ecosystem::RubyGems => "RubyGems",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Ecosystem::Crates,
            Ecosystem::Npm,
            Ecosystem::PyPi,
            Ecosystem::Go,
            Ecosystem::RubyGems,
        ]
        .into_iter()
        .find(|e| e.as_str() == text)
    }
}

/// A package a lockfile pins.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    /// The project names it itself (not only through another package); `false` also when
    /// the file does not say.
    pub direct: bool,
}

/// What a lockfile is, by its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    CargoLock,
    PackageLock,
    PnpmLock,
    YarnLock,
    PoetryLock,
    Requirements,
    GoSum,
    GemfileLock,
}

impl Format {
    /// The format a file's name says, if tocsin reads it.
    pub fn of_file(name: &str) -> Option<Self> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        Some(match base {
            "Cargo.lock" => Format::CargoLock,
            "package-lock.json" | "npm-shrinkwrap.json" => Format::PackageLock,
            "pnpm-lock.yaml" => Format::PnpmLock,
            "yarn.lock" => Format::YarnLock,
            "poetry.lock" => Format::PoetryLock,
            "go.sum" => Format::GoSum,
            "Gemfile.lock" => Format::GemfileLock,
            b if b.ends_with(".txt") && b.contains("requirements") => Format::Requirements,
            _ => return None,
        })
    }
}

/// Why a lockfile cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Unreadable {
    pub message: String,
}

fn unreadable(message: impl Into<String>) -> Unreadable {
    Unreadable {
        message: message.into(),
    }
}

/// The packages `text` pins, read as `format`, sorted and without repeats.
pub fn read(format: Format, text: &str) -> Result<Vec<Package>, Unreadable> {
    let mut packages = match format {
        Format::CargoLock => cargo_lock(text)?,
        Format::PackageLock => package_lock(text)?,
        Format::PnpmLock => pnpm_lock(text)?,
        Format::YarnLock => yarn_lock(text)?,
        Format::PoetryLock => poetry_lock(text)?,
        Format::Requirements => requirements(text)?,
        Format::GoSum => go_sum(text)?,
        Format::GemfileLock => gemfile_lock(text)?,
    };
    packages.sort();
    packages.dedup_by(|a, b| a.ecosystem == b.ecosystem && a.name == b.name && a.version == b.version);
    Ok(packages)
}

fn package(ecosystem: Ecosystem, name: &str, version: &str, direct: bool) -> Package {
    Package {
        ecosystem,
        name: name.to_owned(),
        version: version.to_owned(),
        direct,
    }
}

fn toml_packages(text: &str, what: &str) -> Result<Vec<toml::Table>, Unreadable> {
    let doc: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| unreadable(format!("{what} is not TOML: {}", e.message())))?;
    let Some(list) = doc.get("package") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| unreadable(format!("{what}'s package is not a list of tables")))?;
    list.iter()
        .map(|p| {
            p.as_table()
                .cloned()
                .ok_or_else(|| unreadable(format!("{what} has a package that is not a table")))
        })
        .collect()
}

fn text_of<'t>(table: &'t toml::Table, key: &str, what: &str) -> Result<&'t str, Unreadable> {
    table
        .get(key)
        .and_then(toml::Value::as_str)
        .ok_or_else(|| unreadable(format!("{what} has a package without a {key}")))
}

/// Cargo.lock: registry packages; the direct ones are what the workspace's own packages
/// (those without a source) depend on.
fn cargo_lock(text: &str) -> Result<Vec<Package>, Unreadable> {
    let tables = toml_packages(text, "Cargo.lock")?;
    let mut direct = BTreeSet::new();
    for t in tables.iter().filter(|t| !t.contains_key("source")) {
        for dep in t
            .get("dependencies")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = dep.as_str().and_then(|d| d.split(' ').next()) {
                direct.insert(name.to_owned());
            }
        }
    }
    let mut out = Vec::new();
    for t in &tables {
        let source = t.get("source").and_then(toml::Value::as_str).unwrap_or("");
        if !source.starts_with("registry+") && !source.starts_with("sparse+") {
            continue;
        }
        let name = text_of(t, "name", "Cargo.lock")?;
        let version = text_of(t, "version", "Cargo.lock")?;
        out.push(package(Ecosystem::Crates, name, version, direct.contains(name)));
    }
    Ok(out)
}

/// poetry.lock: every package; which are direct is in pyproject.toml, not here.
fn poetry_lock(text: &str) -> Result<Vec<Package>, Unreadable> {
    toml_packages(text, "poetry.lock")?
        .iter()
        .map(|t| {
            Ok(package(
                Ecosystem::PyPi,
                &pep503(text_of(t, "name", "poetry.lock")?),
                text_of(t, "version", "poetry.lock")?,
                false,
            ))
        })
        .collect()
}

/// A Python package's name as PyPI and OSV compare it.
fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.push(c.to_ascii_lowercase());
            dash = false;
        }
    }
    out
}

/// package-lock.json: `packages` (lockfile versions 2 and 3), else the nested
/// `dependencies` of version 1.
fn package_lock(text: &str) -> Result<Vec<Package>, Unreadable> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| unreadable(format!("package-lock.json is not JSON: {e}")))?;
    let mut out = Vec::new();
    if let Some(packages) = doc.get("packages").and_then(|p| p.as_object()) {
        let root = packages.get("");
        let named = |key: &str| {
            root.and_then(|r| r.get(key))
                .and_then(|d| d.as_object())
                .map(|d| d.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let direct: BTreeSet<String> = [
            "dependencies",
            "devDependencies",
            "optionalDependencies",
            "peerDependencies",
        ]
        .iter()
        .flat_map(|k| named(k))
        .collect();
        for (path, entry) in packages {
            let Some(at) = path.rfind("node_modules/") else {
                continue;
            };
            if entry.get("link").and_then(serde_json::Value::as_bool) == Some(true) {
                continue;
            }
            let name = entry
                .get("name")
                .and_then(|n| n.as_str())
                .unwrap_or(&path[at + "node_modules/".len()..]);
            let Some(version) = entry.get("version").and_then(|v| v.as_str()) else {
                continue;
            };
            let top = path.matches("node_modules/").count() == 1;
            out.push(package(Ecosystem::Npm, name, version, top && direct.contains(name)));
        }
        return Ok(out);
    }
    fn walk(deps: &serde_json::Map<String, serde_json::Value>, top: bool, out: &mut Vec<Package>) {
        for (name, entry) in deps {
            if let Some(version) = entry.get("version").and_then(|v| v.as_str())
                && !version.starts_with("file:")
            {
                out.push(package(Ecosystem::Npm, name, version, top));
            }
            if let Some(nested) = entry.get("dependencies").and_then(|d| d.as_object()) {
                walk(nested, false, out);
            }
        }
    }
    match doc.get("dependencies").and_then(|d| d.as_object()) {
        Some(deps) => {
            walk(deps, true, &mut out);
            Ok(out)
        }
        None => Err(unreadable("package-lock.json has neither packages nor dependencies")),
    }
}

/// `name@version` as lockfiles write it, scoped names included (`@scope/name@1.2.3`), with
/// any peer suffix (`(react@18.2.0)` or `_react@18.2.0`) left off.
fn name_at_version(key: &str) -> Option<(&str, &str)> {
    let key = key.trim().trim_matches(['"', '\'']).trim_start_matches('/');
    let key = key.split('(').next().unwrap_or(key);
    let split = key[1..].find('@')? + 1;
    let (name, version) = (&key[..split], &key[split + 1..]);
    let version = version.split('_').next().unwrap_or(version);
    (!name.is_empty() && !version.is_empty()).then_some((name, version))
}

/// The indentation of a YAML line, and its text.
fn indented(line: &str) -> (usize, &str) {
    let text = line.trim_start_matches(' ');
    (line.len() - text.len(), text.trim_end())
}

/// pnpm-lock.yaml (lockfile versions 5 to 9): the keys of `packages`; the direct ones are
/// under `importers` (or, before version 6, the top-level `dependencies`).
fn pnpm_lock(text: &str) -> Result<Vec<Package>, Unreadable> {
    if !text.lines().any(|l| l.starts_with("lockfileVersion:")) {
        return Err(unreadable("pnpm-lock.yaml has no lockfileVersion"));
    }
    let mut section = "";
    let mut in_deps = false;
    let mut direct = BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (indent, body) = indented(line);
        if indent == 0 {
            section = body.trim_end_matches(':');
            in_deps = matches!(section, "dependencies" | "devDependencies" | "optionalDependencies");
            continue;
        }
        match section {
            "importers" => {
                if indent == 4 {
                    in_deps = matches!(
                        body.trim_end_matches(':'),
                        "dependencies" | "devDependencies" | "optionalDependencies"
                    );
                } else if indent == 6 && in_deps {
                    let name = body.split(':').next().unwrap_or("").trim().trim_matches(['"', '\'']);
                    direct.insert(name.to_owned());
                }
            }
            "dependencies" | "devDependencies" | "optionalDependencies" if indent == 2 && in_deps => {
                let name = body.split(':').next().unwrap_or("").trim().trim_matches(['"', '\'']);
                direct.insert(name.to_owned());
            }
            "packages" if indent == 2 && body.ends_with(':') => {
                let key = body.trim_end_matches(':');
                // Version 5 wrote `/name/1.2.3`.
                let parsed = name_at_version(key).or_else(|| {
                    let key = key.trim_matches(['"', '\'']).trim_start_matches('/');
                    let (name, version) = key.rsplit_once('/')?;
                    Some((name, version.split('_').next().unwrap_or(version)))
                });
                match parsed {
                    Some((name, version)) => out.push(package(Ecosystem::Npm, name, version, false)),
                    None => {
                        return Err(unreadable(format!(
                            "pnpm-lock.yaml has a package key tocsin cannot read: {key}"
                        )));
                    }
                }
            }
            _ => {}
        }
    }
    for p in &mut out {
        p.direct = direct.contains(&p.name);
    }
    Ok(out)
}

/// yarn.lock, classic (`version "1.2.3"`) and Berry (`version: 1.2.3`): each entry's name
/// from its first key, and its version.
fn yarn_lock(text: &str) -> Result<Vec<Package>, Unreadable> {
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (indent, body) = indented(line);
        if indent == 0 {
            if body == "__metadata:" {
                name = None;
                continue;
            }
            let first = body.trim_end_matches(':').split(", ").next().unwrap_or("");
            let first = first.trim_matches('"');
            let at = first[1.min(first.len())..].find('@').map(|i| i + 1);
            name = at.map(|i| first[..i].to_owned());
            if name.is_none() {
                return Err(unreadable(format!("yarn.lock has an entry tocsin cannot read: {body}")));
            }
            // Workspace packages and links are the project's own.
            if first.contains("@workspace:") || first.contains("@link:") || first.contains("@portal:") {
                name = None;
            }
            continue;
        }
        if indent == 2
            && let Some(rest) = body.strip_prefix("version")
            && let Some(n) = &name
        {
            let version = rest.trim_start_matches(':').trim().trim_matches('"');
            out.push(package(Ecosystem::Npm, n, version, false));
        }
    }
    if out.is_empty() && text.lines().any(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        return Err(unreadable("yarn.lock holds no package version tocsin can read"));
    }
    Ok(out)
}

/// requirements.txt: pinned requirements (`name==version`), all direct; options, comments,
/// URLs and unpinned lines are skipped.
fn requirements(text: &str) -> Result<Vec<Package>, Unreadable> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split(" #").next().unwrap_or(line).trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') || line.contains("://") {
            continue;
        }
        let line = line.split(';').next().unwrap_or(line).trim();
        if let Some((name, version)) = line.split_once("==") {
            let name = name.split('[').next().unwrap_or(name).trim();
            let version = version
                .split(|c: char| c.is_whitespace() || c == ',')
                .next()
                .unwrap_or("")
                .trim();
            if name.is_empty() || version.is_empty() {
                return Err(unreadable(format!(
                    "requirements line \"{line}\" pins nothing tocsin can read"
                )));
            }
            out.push(package(Ecosystem::PyPi, &pep503(name), version, true));
        }
    }
    Ok(out)
}

/// go.sum: each module and version (its `/go.mod` lines name the same), without the `v`.
fn go_sum(text: &str) -> Result<Vec<Package>, Unreadable> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(module), Some(version), Some(_hash)) = (words.next(), words.next(), words.next()) else {
            return Err(unreadable(format!(
                "go.sum line {} is not \"module version hash\"",
                n + 1
            )));
        };
        let version = version.trim_end_matches("/go.mod");
        let version = version.strip_prefix('v').unwrap_or(version);
        let version = version.trim_end_matches("+incompatible");
        out.push(package(Ecosystem::Go, module, version, false));
    }
    Ok(out)
}

/// Gemfile.lock: the specs of its GEM sections; the direct ones are under DEPENDENCIES.
fn gemfile_lock(text: &str) -> Result<Vec<Package>, Unreadable> {
    let mut section = "";
    let mut in_specs = false;
    let mut direct = BTreeSet::new();
    let mut out = Vec::new();
    for line in text.lines() {
        let (indent, body) = indented(line);
        if body.is_empty() {
            continue;
        }
        if indent == 0 {
            section = body;
            in_specs = false;
            continue;
        }
        match (section, indent) {
            ("GEM", 2) => in_specs = body == "specs:",
            ("GEM", 4) if in_specs => {
                let Some((name, rest)) = body.split_once(" (") else {
                    return Err(unreadable(format!(
                        "Gemfile.lock has a spec tocsin cannot read: {body}"
                    )));
                };
                let version = rest.trim_end_matches(')');
                // A platform suffix (`-x86_64-linux`) is not the version.
                let version = version.split('-').next().unwrap_or(version);
                out.push(package(Ecosystem::RubyGems, name, version, false));
            }
            ("DEPENDENCIES", 2) => {
                let name = body.split([' ', '!']).next().unwrap_or(body);
                direct.insert(name.to_owned());
            }
            _ => {}
        }
    }
    if !text.contains("GEM") {
        return Err(unreadable("Gemfile.lock has no GEM section"));
    }
    for p in &mut out {
        p.direct = direct.contains(&p.name);
    }
    Ok(out)
}

/// How many packages per ecosystem, for a report's summary.
pub fn counts(packages: &[Package]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for p in packages {
        *counts.entry(p.ecosystem.as_str()).or_default() += 1;
    }
    counts
}
