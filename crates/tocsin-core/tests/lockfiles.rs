//! Lockfiles of every kind the dependency check reads, and OSV advisories matched against
//! what they pin: a fixture export directory written for these tests, and tocsin's own
//! Cargo.lock.

use std::path::Path;

use tocsin_core::lockfiles::{Ecosystem, Format, Package, read};
use tocsin_core::osv::{Advisory, Index};

fn fixture(name: &str) -> Vec<Package> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lockfiles")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let format = Format::of_file(name)
        .or(match name {
            "package-lock-v1.json" => Some(Format::PackageLock),
            "pnpm-lock-v5.yaml" => Some(Format::PnpmLock),
            "yarn-berry.lock" => Some(Format::YarnLock),
            _ => None,
        })
        .unwrap();
    read(format, &text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn pinned(packages: &[Package]) -> Vec<(String, String, bool)> {
    packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone(), p.direct))
        .collect()
}

fn owned(list: &[(&str, &str, bool)]) -> Vec<(String, String, bool)> {
    list.iter()
        .map(|(n, v, d)| ((*n).to_owned(), (*v).to_owned(), *d))
        .collect()
}

#[test]
fn each_lockfile_format_gives_its_packages_versions_and_direct_ones() {
    assert_eq!(
        pinned(&fixture("package-lock.json")),
        owned(&[
            ("@acme/ui", "2.1.0", true),
            ("jest", "29.7.0", true),
            ("lodash", "4.17.11", false),
            ("lodash", "4.17.20", true),
        ])
    );
    assert_eq!(
        pinned(&fixture("package-lock-v1.json")),
        owned(&[("deep", "1.0.0", false), ("minimist", "0.0.8", true)])
    );
    assert_eq!(
        pinned(&fixture("pnpm-lock.yaml")),
        owned(&[
            ("@types/node", "20.10.0", true),
            ("axios", "1.6.0", true),
            ("follow-redirects", "1.15.3", false),
            ("react-dom", "18.2.0", false),
        ])
    );
    assert_eq!(
        pinned(&fixture("pnpm-lock-v5.yaml")),
        owned(&[("express", "4.17.1", true), ("qs", "6.7.0", false)])
    );
    assert_eq!(
        pinned(&fixture("yarn.lock")),
        owned(&[("@babel/code-frame", "7.12.13", false), ("minimist", "1.2.5", false)])
    );
    assert_eq!(
        pinned(&fixture("yarn-berry.lock")),
        owned(&[("semver", "7.5.4", false)])
    );
    assert_eq!(
        pinned(&fixture("poetry.lock")),
        owned(&[("jinja2", "3.1.2", false), ("requests", "2.31.0", false)])
    );
    assert_eq!(
        pinned(&fixture("requirements.txt")),
        owned(&[
            ("django", "4.2.1", true),
            ("pillow-simd", "9.0.0.post1", true),
            ("requests", "2.31.0", true),
        ])
    );
    assert_eq!(
        pinned(&fixture("go.sum")),
        owned(&[
            ("github.com/docker/docker", "20.10.7", false),
            ("github.com/gin-gonic/gin", "1.9.0", false),
            ("golang.org/x/net", "0.7.0", false),
        ])
    );
    assert_eq!(
        pinned(&fixture("Gemfile.lock")),
        owned(&[
            ("actionpack", "7.0.4", true),
            ("nokogiri", "1.13.9", true),
            ("racc", "1.6.0", false),
            ("rack", "2.2.4", false),
        ])
    );
}

#[test]
fn tocsins_own_cargo_lock_reads_with_its_direct_dependencies() {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock")).unwrap();
    let packages = read(Format::CargoLock, &text).unwrap();
    assert!(packages.len() > 200, "{}", packages.len());
    assert!(packages.iter().all(|p| p.ecosystem == Ecosystem::Crates));
    assert!(
        !packages.iter().any(|p| p.name.starts_with("tocsin-")),
        "the workspace's own crates are not from the registry"
    );
    let direct = |name: &str| packages.iter().find(|p| p.name == name).map(|p| p.direct);
    assert_eq!(direct("sqlx"), Some(true));
    assert_eq!(direct("jiff"), Some(true));
    assert_eq!(direct("sqlx-core"), Some(false), "only through sqlx");
}

#[test]
fn a_malformed_lockfile_is_refused_by_name() {
    for (format, text, says) in [
        (Format::CargoLock, "[[package]\nname = ", "Cargo.lock is not TOML"),
        (
            Format::PackageLock,
            "{\"lockfileVersion\": 3",
            "package-lock.json is not JSON",
        ),
        (
            Format::PackageLock,
            "{\"name\": \"x\"}",
            "package-lock.json has neither packages nor dependencies",
        ),
        (
            Format::PnpmLock,
            "packages:\n  x: 1\n",
            "pnpm-lock.yaml has no lockfileVersion",
        ),
        (Format::GoSum, "github.com/x/y v1.0.0\n", "go.sum line 1 is not"),
        (
            Format::GemfileLock,
            "PLATFORMS\n  ruby\n",
            "Gemfile.lock has no GEM section",
        ),
        (
            Format::YarnLock,
            "nonsense without versions\n",
            "yarn.lock has an entry tocsin cannot read",
        ),
        (
            Format::PoetryLock,
            "package = 3\n",
            "poetry.lock's package is not a list of tables",
        ),
    ] {
        let error = read(format, text).unwrap_err();
        assert!(error.message.starts_with(says), "{says}: {error}");
    }
    assert_eq!(Format::of_file("requirements-dev.txt"), Some(Format::Requirements));
    assert_eq!(Format::of_file("notes.txt"), None);
}

fn osv_fixture() -> Index {
    let mut index = Index::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv");
    for dir in ["npm", "other"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let advisory: Advisory = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                index.add(advisory);
            }
        }
    }
    index
}

#[test]
fn advisories_affect_the_versions_in_their_ranges_and_name_the_fix() {
    let index = osv_fixture();
    assert_eq!(index.advisories, 5, "the withdrawn one is left out");
    let mut all: Vec<Package> = Vec::new();
    for name in [
        "package-lock.json",
        "package-lock-v1.json",
        "pnpm-lock.yaml",
        "yarn.lock",
        "requirements.txt",
        "poetry.lock",
        "go.sum",
        "Gemfile.lock",
    ] {
        all.extend(fixture(name));
    }
    let found: Vec<(String, String, String, String, Option<String>)> = all
        .iter()
        .flat_map(|p| index.check(p))
        .map(|v| (v.advisory, v.package.name, v.package.version, v.severity, v.fixed))
        .collect();
    let expected = vec![
        ("TEST-LODASH", "lodash", "4.17.11", "HIGH", Some("4.17.21")),
        ("TEST-LODASH", "lodash", "4.17.20", "HIGH", Some("4.17.21")),
        ("TEST-MINIMIST", "minimist", "0.0.8", "CRITICAL", Some("0.2.4")),
        ("TEST-MINIMIST", "minimist", "1.2.5", "CRITICAL", Some("1.2.6")),
        ("TEST-REQUESTS", "django", "4.2.1", "UNKNOWN", None),
        ("TEST-GIN", "github.com/gin-gonic/gin", "1.9.0", "UNKNOWN", None),
        ("TEST-NOKOGIRI", "nokogiri", "1.13.9", "LOW", Some("1.13.10")),
    ];
    let expected: Vec<(String, String, String, String, Option<String>)> = expected
        .into_iter()
        .map(|(a, n, v, s, f)| (a.into(), n.into(), v.into(), s.into(), f.map(Into::into)))
        .collect();
    assert_eq!(found, expected);
    // requests 2.31.0 is the fix itself; axios's advisory was withdrawn.
    assert!(
        all.iter()
            .filter(|p| p.name == "requests" || p.name == "axios")
            .all(|p| index.check(p).is_empty())
    );
}
