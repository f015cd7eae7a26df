//! Grading a web page's security headers the way Mozilla's HTTP Observatory does: ten tests
//! (CSP, cookies, CORS, redirection, Referrer-Policy, HSTS, Subresource Integrity,
//! X-Content-Type-Options, X-Frame-Options, Cross-Origin-Resource-Policy), each with its
//! result and modifier; a score from 100 with the penalties, and the bonuses only when the
//! penalties leave 90 or more; and its letter grade. Pure: the caller fetches.
//!
//! Left out, and said in each report: the HSTS preload list (no site gets its +5 here), and
//! a `<meta>` CSP or referrer policy in the page (only headers are read).

use serde::Serialize;

/// What was fetched: the final answer, after redirects, and how it was reached.
#[derive(Clone, Debug, Default)]
pub struct Fetched {
    /// The final URL.
    pub url: String,
    pub status: u16,
    /// The final answer's headers, names in lowercase, in their order.
    pub headers: Vec<(String, String)>,
    /// The answer's body when it is HTML (cut to a bound by the caller).
    pub body: Option<String>,
    /// What `Access-Control-Allow-Origin` and `-Credentials` said to a request from a
    /// foreign origin, `FOREIGN_ORIGIN`.
    pub cors: Option<(String, Option<String>)>,
    /// The redirects from `http://` on the same host and path, when that was tried.
    pub redirection: Option<Redirection>,
}

/// The origin the cross-origin request says it comes from.
pub const FOREIGN_ORIGIN: &str = "https://cors-check.tocsin.invalid";

/// How the page's `http://` address answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redirection {
    /// Nothing listens on http.
    NoHttp,
    /// The URLs from the `http://` one to the last, each redirect's target after it.
    Chain(Vec<String>),
    /// A redirect led to a certificate that failed.
    InvalidCertificate,
}

/// One test's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TestResult {
    /// The test, like `content-security-policy`.
    pub test: &'static str,
    /// The Observatory's name for the result, like `csp-not-implemented`.
    pub result: &'static str,
    pub modifier: i32,
    pub pass: bool,
    /// What it found, in a sentence.
    pub reason: &'static str,
}

/// A graded page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grade {
    pub url: String,
    pub score: i32,
    pub grade: &'static str,
    pub tests: Vec<TestResult>,
    /// What this grading does not look at.
    pub not_checked: Vec<&'static str>,
}

impl Grade {
    /// The tests that failed, worst first.
    pub fn failing(&self) -> Vec<&TestResult> {
        let mut failing: Vec<&TestResult> = self.tests.iter().filter(|t| !t.pass).collect();
        failing.sort_by_key(|t| t.modifier);
        failing
    }
}

fn result(test: &'static str, result: &'static str, modifier: i32, pass: bool, reason: &'static str) -> TestResult {
    TestResult {
        test,
        result,
        modifier,
        pass,
        reason,
    }
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn https(&self) -> bool {
        self.url.starts_with("https://")
    }

    fn host(&self) -> &str {
        host_of(&self.url)
    }
}

/// The host of a URL, without its port: "similar origin" and "the same host" compare it.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// Grades `fetched`.
pub fn grade(fetched: &Fetched) -> Grade {
    let csp = parse_csp(&fetched.all("content-security-policy"));
    let hsts = hsts(fetched);
    let tests = vec![
        content_security_policy(fetched, csp.as_ref()),
        cookies(fetched, hsts.pass),
        cors(fetched),
        redirection(fetched),
        referrer_policy(fetched),
        hsts,
        subresource_integrity(fetched),
        x_content_type_options(fetched),
        x_frame_options(fetched, csp.as_ref()),
        cross_origin_resource_policy(fetched),
    ];
    let penalties: i32 = tests.iter().map(|t| t.modifier.min(0)).sum();
    let bonuses: i32 = tests.iter().map(|t| t.modifier.max(0)).sum();
    let mut score = 100 + penalties;
    if score >= 90 {
        score += bonuses;
    }
    let score = score.max(0);
    Grade {
        url: fetched.url.clone(),
        score,
        grade: letter(score),
        tests,
        not_checked: vec![
            "the HSTS preload list (no +5 for preloading)",
            "policies set in <meta> tags (headers only)",
        ],
    }
}

/// The grades, best first.
pub const GRADES: [&str; 13] = ["A+", "A", "A-", "B+", "B", "B-", "C+", "C", "C-", "D+", "D", "D-", "F"];

/// Whether `grade` is `least` or better.
pub fn at_least(grade: &str, least: &str) -> bool {
    let rank = |g: &str| GRADES.iter().position(|x| *x == g).unwrap_or(GRADES.len());
    rank(grade) <= rank(least)
}

/// The letter of a score: its multiple of five below, capped at 100.
pub fn letter(score: i32) -> &'static str {
    match (score - score.rem_euclid(5)).min(100) {
        100 => "A+",
        90 | 95 => "A",
        85 => "A-",
        80 => "B+",
        70 | 75 => "B",
        65 => "B-",
        60 => "C+",
        50 | 55 => "C",
        45 => "C-",
        40 => "D+",
        30 | 35 => "D",
        25 => "D-",
        _ => "F",
    }
}

/// A policy: each directive's sources, in lowercase. `None` when there is no policy; an
/// empty map when one cannot be read.
type Csp = std::collections::BTreeMap<String, Vec<String>>;

fn parse_csp(values: &[&str]) -> Option<Result<Csp, ()>> {
    let policies: Vec<&str> = values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if policies.is_empty() {
        return None;
    }
    let mut csp = Csp::new();
    for policy in policies {
        for directive in policy.split(';').map(str::trim).filter(|d| !d.is_empty()) {
            let mut words = directive.split_ascii_whitespace();
            let name = words.next().unwrap_or("").to_ascii_lowercase();
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Some(Err(()));
            }
            let sources: Vec<String> = words.map(str::to_ascii_lowercase).collect();
            // Of several policies the strictest applies; tocsin keeps the first of each
            // directive, as a browser enforcing one policy would.
            csp.entry(name).or_insert(sources);
        }
    }
    Some(Ok(csp))
}

const BROAD: [&str; 8] = [
    "ftp:",
    "http:",
    "https:",
    "*",
    "http://*",
    "http://*.*",
    "https://*",
    "https://*.*",
];

fn broad(source: &str) -> bool {
    BROAD.contains(&source)
}

fn unsafe_inline(source: &str) -> bool {
    source == "'unsafe-inline'" || source == "data:"
}

fn nonce_or_hash(sources: &[String]) -> bool {
    sources.iter().any(|s| {
        ["'sha256-", "'sha384-", "'sha512-", "'nonce-"]
            .iter()
            .any(|p| s.starts_with(p))
    })
}

const CSP: &str = "content-security-policy";

fn content_security_policy(fetched: &Fetched, csp: Option<&Result<Csp, ()>>) -> TestResult {
    let csp = match csp {
        None => {
            return result(
                CSP,
                "csp-not-implemented",
                -25,
                false,
                "No Content-Security-Policy header.",
            );
        }
        Some(Err(())) => {
            return result(
                CSP,
                "csp-header-invalid",
                -25,
                false,
                "The Content-Security-Policy header cannot be read.",
            );
        }
        Some(Ok(csp)) => csp,
    };
    let any = || vec!["*".to_owned()];
    let fallback = |name: &str| {
        csp.get(name)
            .or_else(|| csp.get("default-src"))
            .cloned()
            .unwrap_or_else(any)
    };
    let mut script = fallback("script-src");
    let mut style = fallback("style-src");
    let object = fallback("object-src");
    for list in [&mut script, &mut style] {
        if nonce_or_hash(list) {
            list.retain(|s| s != "'unsafe-inline'");
        }
    }
    if script.iter().any(|s| s == "'strict-dynamic'") {
        if !nonce_or_hash(&script) {
            return result(
                CSP,
                "csp-header-invalid",
                -25,
                false,
                "'strict-dynamic' without a nonce or a hash.",
            );
        }
        script.retain(|s| !(BROAD.iter().any(|b| s.starts_with(b)) || s == "'self'" || s == "'unsafe-inline'"));
    }
    let https = fetched.https();
    let insecure = |s: &String| s.starts_with("http:") || s.starts_with("ftp:");
    let active: Vec<&String> = csp
        .iter()
        .filter(|(name, _)| !matches!(name.as_str(), "img-src" | "media-src" | "script-src"))
        .flat_map(|(_, sources)| sources)
        .chain(script.iter())
        .collect();
    let passive: Vec<String> = ["img-src", "media-src"]
        .iter()
        .flat_map(|d| {
            csp.get(*d)
                .or_else(|| csp.get("default-src"))
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    if script.iter().any(|s| broad(s) || unsafe_inline(s)) || object.iter().any(|s| broad(s)) {
        return result(
            CSP,
            "csp-implemented-with-unsafe-inline",
            -20,
            false,
            "The policy allows inline scripts, data: or any source in script-src or object-src, or does not restrict them.",
        );
    }
    if https && active.iter().any(|s| insecure(s)) {
        return result(
            CSP,
            "csp-implemented-with-insecure-scheme",
            -20,
            false,
            "The policy lets an https page load resources over http.",
        );
    }
    if script.iter().chain(&style).any(|s| s == "'unsafe-eval'") {
        return result(
            CSP,
            "csp-implemented-with-unsafe-eval",
            -10,
            false,
            "The policy allows 'unsafe-eval'.",
        );
    }
    if https && passive.iter().any(insecure) {
        return result(
            CSP,
            "csp-implemented-with-insecure-scheme-in-passive-content-only",
            -10,
            true,
            "The policy lets an https page load images or media over http.",
        );
    }
    if style.iter().any(|s| broad(s) || unsafe_inline(s)) {
        return result(
            CSP,
            "csp-implemented-with-unsafe-inline-in-style-src-only",
            0,
            true,
            "The policy allows inline styles, data: or broad sources in style-src only.",
        );
    }
    if csp.get("default-src").is_some_and(|d| d.len() == 1 && d[0] == "'none'") {
        return result(
            CSP,
            "csp-implemented-with-no-unsafe-default-src-none",
            10,
            true,
            "The policy starts from default-src 'none' and allows nothing unsafe.",
        );
    }
    result(
        CSP,
        "csp-implemented-with-no-unsafe",
        5,
        true,
        "The policy allows nothing unsafe.",
    )
}

struct Cookie {
    name: String,
    secure: bool,
    http_only: bool,
    same_site: Option<String>,
}

fn parse_cookie(header: &str) -> Option<Cookie> {
    let mut parts = header.split(';');
    let (name, _) = parts.next()?.split_once('=')?;
    let mut cookie = Cookie {
        name: name.trim().to_ascii_lowercase(),
        secure: false,
        http_only: false,
        same_site: None,
    };
    for attribute in parts {
        let (key, value) = attribute.split_once('=').unwrap_or((attribute, ""));
        match key.trim().to_ascii_lowercase().as_str() {
            "secure" => cookie.secure = true,
            "httponly" => cookie.http_only = true,
            "samesite" => cookie.same_site = Some(value.trim().to_ascii_lowercase()),
            _ => {}
        }
    }
    Some(cookie)
}

const COOKIES: &str = "cookies";

fn cookies(fetched: &Fetched, hsts: bool) -> TestResult {
    let cookies: Vec<Cookie> = fetched.all("set-cookie").into_iter().filter_map(parse_cookie).collect();
    if cookies.is_empty() {
        return result(COOKIES, "cookies-not-found", 0, true, "No cookies are set.");
    }
    let session = |c: &Cookie| c.name.contains("sess") || c.name.contains("login");
    let csrf = |c: &Cookie| c.name.contains("csrf");
    let https = fetched.https();
    let mut worst = result(
        COOKIES,
        "cookies-secure-with-httponly-sessions-and-samesite",
        5,
        true,
        "Every cookie is Secure with SameSite, and session cookies are HttpOnly.",
    );
    let mut keep = |candidate: TestResult| {
        if candidate.modifier < worst.modifier {
            worst = candidate;
        }
    };
    for cookie in &cookies {
        if cookie
            .same_site
            .as_deref()
            .is_some_and(|s| !matches!(s, "strict" | "lax" | "none"))
        {
            keep(result(
                COOKIES,
                "cookies-samesite-flag-invalid",
                -20,
                false,
                "A cookie's SameSite is not Strict, Lax or None.",
            ));
        }
        if cookie.same_site.is_none() {
            if csrf(cookie) {
                keep(result(
                    COOKIES,
                    "cookies-anticsrf-without-samesite-flag",
                    -20,
                    false,
                    "An anti-CSRF cookie has no SameSite.",
                ));
            }
            keep(result(
                COOKIES,
                "cookies-secure-with-httponly-sessions",
                0,
                true,
                "Every cookie is Secure and session cookies are HttpOnly, but not every cookie has SameSite.",
            ));
        }
        if session(cookie) && !cookie.http_only {
            keep(result(
                COOKIES,
                "cookies-session-without-httponly-flag",
                -30,
                false,
                "A session cookie is not HttpOnly.",
            ));
        }
        if !cookie.secure || !https {
            let c = match (session(cookie), hsts) {
                (true, true) => result(
                    COOKIES,
                    "cookies-session-without-secure-flag-but-protected-by-hsts",
                    -10,
                    false,
                    "A session cookie is not Secure, though HSTS keeps it off http.",
                ),
                (true, false) => result(
                    COOKIES,
                    "cookies-session-without-secure-flag",
                    -40,
                    false,
                    "A session cookie is not Secure, or is set over http.",
                ),
                (false, true) => result(
                    COOKIES,
                    "cookies-without-secure-flag-but-protected-by-hsts",
                    -5,
                    false,
                    "A cookie is not Secure, though HSTS keeps it off http.",
                ),
                (false, false) => result(
                    COOKIES,
                    "cookies-without-secure-flag",
                    -20,
                    false,
                    "A cookie is not Secure, or is set over http.",
                ),
            };
            keep(c);
        }
    }
    worst
}

const CORS: &str = "cross-origin-resource-sharing";

fn cors(fetched: &Fetched) -> TestResult {
    let acao = fetched
        .cors
        .as_ref()
        .map(|(origin, _)| origin.trim())
        .or_else(|| fetched.header("access-control-allow-origin").map(str::trim));
    let credentials = fetched
        .cors
        .as_ref()
        .and_then(|(_, c)| c.as_deref())
        .is_some_and(|c| c.trim().eq_ignore_ascii_case("true"));
    match acao {
        None | Some("") => result(
            CORS,
            "cross-origin-resource-sharing-not-implemented",
            0,
            true,
            "The content is not shared with other origins.",
        ),
        Some("*") => result(
            CORS,
            "cross-origin-resource-sharing-implemented-with-public-access",
            0,
            true,
            "Public content is shared with any origin, without credentials.",
        ),
        Some(origin) if origin == FOREIGN_ORIGIN && credentials => result(
            CORS,
            "cross-origin-resource-sharing-implemented-with-universal-access",
            -50,
            false,
            "Any origin is let in with credentials: the page's Origin is reflected with Allow-Credentials.",
        ),
        Some(_) => result(
            CORS,
            "cross-origin-resource-sharing-implemented-with-restricted-access",
            0,
            true,
            "The content is shared with specific origins only.",
        ),
    }
}

const REDIRECTION: &str = "redirection";

fn redirection(fetched: &Fetched) -> TestResult {
    let chain = match &fetched.redirection {
        None => {
            return result(
                REDIRECTION,
                "redirection-not-checked",
                0,
                true,
                "The http address was not tried.",
            );
        }
        Some(Redirection::NoHttp) => {
            return result(
                REDIRECTION,
                "redirection-not-needed-no-http",
                0,
                true,
                "Nothing answers on http.",
            );
        }
        Some(Redirection::InvalidCertificate) => {
            return result(
                REDIRECTION,
                "redirection-invalid-cert",
                -20,
                false,
                "A redirect leads to an invalid certificate.",
            );
        }
        Some(Redirection::Chain(chain)) => chain,
    };
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        return result(
            REDIRECTION,
            "redirection-missing",
            -20,
            false,
            "http does not redirect to https.",
        );
    };
    if chain.len() < 2 {
        return result(
            REDIRECTION,
            "redirection-missing",
            -20,
            false,
            "http does not redirect to https.",
        );
    }
    if !last.starts_with("https://") {
        return result(
            REDIRECTION,
            "redirection-not-to-https",
            -20,
            false,
            "http redirects, but not to https in the end.",
        );
    }
    let second = &chain[1];
    if !second.starts_with("https://") {
        return result(
            REDIRECTION,
            "redirection-not-to-https-on-initial-redirection",
            -10,
            false,
            "http redirects to https in the end, but first to another http address.",
        );
    }
    if host_of(second) != host_of(first) {
        return result(
            REDIRECTION,
            "redirection-off-host-from-http",
            -5,
            false,
            "http redirects to https on another host first, so the host's HSTS is never set.",
        );
    }
    result(
        REDIRECTION,
        "redirection-to-https",
        0,
        true,
        "http redirects to https on the same host first.",
    )
}

const REFERRER: &str = "referrer-policy";

fn referrer_policy(fetched: &Fetched) -> TestResult {
    let Some(value) = fetched.header("referrer-policy") else {
        return result(
            REFERRER,
            "referrer-policy-not-implemented",
            0,
            true,
            "No Referrer-Policy header.",
        );
    };
    // A list: the last policy the browser knows applies.
    const PRIVATE: [&str; 4] = [
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    ];
    const UNSAFE: [&str; 4] = [
        "origin",
        "origin-when-cross-origin",
        "unsafe-url",
        "no-referrer-when-downgrade",
    ];
    let last = value
        .split(',')
        .map(|p| p.trim().to_ascii_lowercase())
        .rfind(|p| PRIVATE.contains(&p.as_str()) || UNSAFE.contains(&p.as_str()));
    match last.as_deref() {
        Some(p) if PRIVATE.contains(&p) => result(
            REFERRER,
            "referrer-policy-private",
            5,
            true,
            "Referrer-Policy keeps the address from other sites.",
        ),
        Some(_) => result(
            REFERRER,
            "referrer-policy-unsafe",
            -5,
            false,
            "Referrer-Policy sends the address to other sites.",
        ),
        None => result(
            REFERRER,
            "referrer-policy-header-invalid",
            -5,
            false,
            "Referrer-Policy cannot be recognized.",
        ),
    }
}

const HSTS: &str = "strict-transport-security";

fn hsts(fetched: &Fetched) -> TestResult {
    if !fetched.https() {
        return result(
            HSTS,
            "hsts-not-implemented-no-https",
            -20,
            false,
            "The page is not served over https, so HSTS cannot be set.",
        );
    }
    let Some(value) = fetched.header("strict-transport-security") else {
        return result(
            HSTS,
            "hsts-not-implemented",
            -20,
            false,
            "No Strict-Transport-Security header.",
        );
    };
    let max_age = value
        .split(';')
        .filter_map(|d| d.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("max-age"))
        .and_then(|(_, v)| v.trim().trim_matches('"').parse::<u64>().ok());
    match max_age {
        None => result(
            HSTS,
            "hsts-header-invalid",
            -20,
            false,
            "Strict-Transport-Security cannot be recognized.",
        ),
        Some(age) if age < 15_768_000 => result(
            HSTS,
            "hsts-implemented-max-age-less-than-six-months",
            -10,
            false,
            "Strict-Transport-Security lasts less than six months.",
        ),
        Some(_) => result(
            HSTS,
            "hsts-implemented-max-age-at-least-six-months",
            0,
            true,
            "Strict-Transport-Security lasts six months or more.",
        ),
    }
}

const SRI: &str = "subresource-integrity";

/// The `src` and whether `integrity` is set, of each `<script>` tag with a source.
fn scripts(html: &str) -> Vec<(String, bool)> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = lower[from..].find("<script") {
        let start = from + start;
        let Some(end) = lower[start..].find('>') else { break };
        let tag = &html[start..start + end];
        from = start + end;
        let attribute = |name: &str| -> Option<String> {
            let lower_tag = tag.to_ascii_lowercase();
            let mut at = 0;
            while let Some(found) = lower_tag[at..].find(name) {
                let i = at + found;
                at = i + name.len();
                let before = lower_tag[..i].chars().last();
                if !before.is_some_and(char::is_whitespace) {
                    continue;
                }
                let rest = tag[at..].trim_start();
                let Some(rest) = rest.strip_prefix('=') else {
                    return Some(String::new());
                };
                let rest = rest.trim_start();
                let value = match rest.chars().next() {
                    Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
                    _ => rest.split(|c: char| c.is_whitespace() || c == '>').next().unwrap_or(""),
                };
                return Some(value.to_owned());
            }
            None
        };
        if let Some(src) = attribute("src") {
            out.push((src, attribute("integrity").is_some_and(|i| !i.is_empty())));
        }
    }
    out
}

fn subresource_integrity(fetched: &Fetched) -> TestResult {
    let html = fetched
        .header("content-type")
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
    let Some(body) = fetched.body.as_deref().filter(|_| html) else {
        return result(
            SRI,
            "sri-not-implemented-response-not-html",
            0,
            true,
            "The answer is not HTML.",
        );
    };
    let scripts = scripts(body);
    if scripts.is_empty() {
        return result(
            SRI,
            "sri-not-implemented-but-no-scripts-loaded",
            0,
            true,
            "The page loads no scripts.",
        );
    }
    let host = fetched.host();
    let https = fetched.https();
    let mut all_integrity = true;
    let mut external = false;
    let mut external_insecure = false;
    for (src, integrity) in &scripts {
        all_integrity &= *integrity;
        let absolute = src.contains("://") || src.starts_with("//");
        let same = !absolute || (src.contains("://") && host_of(src) == host);
        let secure = if src.starts_with("//") {
            false
        } else if absolute {
            src.starts_with("https://")
        } else {
            https
        };
        if !same {
            external = true;
            if !secure {
                external_insecure = true;
            }
        }
    }
    match (all_integrity, external, external_insecure) {
        (true, false, _) => result(
            SRI,
            "sri-implemented-and-all-scripts-loaded-securely",
            5,
            true,
            "Every script carries its hash and comes from the page's origin.",
        ),
        (true, true, false) => result(
            SRI,
            "sri-implemented-and-external-scripts-loaded-securely",
            5,
            true,
            "Every script carries its hash and comes over https.",
        ),
        (true, true, true) => result(
            SRI,
            "sri-implemented-but-external-scripts-not-loaded-securely",
            -20,
            false,
            "Scripts carry their hash, but some come from other sites over http.",
        ),
        (false, false, _) => result(
            SRI,
            "sri-not-implemented-but-all-scripts-loaded-from-secure-origin",
            0,
            true,
            "Scripts carry no hash, but all come from the page's origin.",
        ),
        (false, true, false) => result(
            SRI,
            "sri-not-implemented-but-external-scripts-loaded-securely",
            -5,
            false,
            "Scripts from other sites come over https without their hash.",
        ),
        (false, true, true) => result(
            SRI,
            "sri-not-implemented-and-external-scripts-not-loaded-securely",
            -50,
            false,
            "Scripts from other sites come over http without their hash.",
        ),
    }
}

const XCTO: &str = "x-content-type-options";

fn x_content_type_options(fetched: &Fetched) -> TestResult {
    match fetched.header("x-content-type-options").map(str::trim) {
        None => result(
            XCTO,
            "x-content-type-options-not-implemented",
            -5,
            false,
            "No X-Content-Type-Options header.",
        ),
        Some(v) if v.eq_ignore_ascii_case("nosniff") => result(
            XCTO,
            "x-content-type-options-nosniff",
            0,
            true,
            "X-Content-Type-Options is nosniff.",
        ),
        Some(_) => result(
            XCTO,
            "x-content-type-options-header-invalid",
            -5,
            false,
            "X-Content-Type-Options cannot be recognized.",
        ),
    }
}

const XFO: &str = "x-frame-options";

fn x_frame_options(fetched: &Fetched, csp: Option<&Result<Csp, ()>>) -> TestResult {
    if let Some(Ok(csp)) = csp
        && let Some(ancestors) = csp.get("frame-ancestors")
        && !ancestors.iter().any(|s| broad(s))
    {
        return result(
            XFO,
            "x-frame-options-implemented-via-csp",
            5,
            true,
            "Framing is restricted by the CSP's frame-ancestors.",
        );
    }
    let Some(value) = fetched.header("x-frame-options").map(|v| v.trim().to_ascii_uppercase()) else {
        return result(
            XFO,
            "x-frame-options-not-implemented",
            -20,
            false,
            "Neither X-Frame-Options nor CSP frame-ancestors restrict framing.",
        );
    };
    if value == "DENY" || value == "SAMEORIGIN" {
        result(
            XFO,
            "x-frame-options-sameorigin-or-deny",
            0,
            true,
            "X-Frame-Options is DENY or SAMEORIGIN.",
        )
    } else if value.starts_with("ALLOW-FROM") {
        result(
            XFO,
            "x-frame-options-allow-from-origin",
            0,
            true,
            "X-Frame-Options allows one origin.",
        )
    } else {
        result(
            XFO,
            "x-frame-options-header-invalid",
            -20,
            false,
            "X-Frame-Options cannot be recognized.",
        )
    }
}

const CORP: &str = "cross-origin-resource-policy";

fn cross_origin_resource_policy(fetched: &Fetched) -> TestResult {
    match fetched
        .header("cross-origin-resource-policy")
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None => result(
            CORP,
            "corp-not-implemented",
            0,
            true,
            "No Cross-Origin-Resource-Policy header.",
        ),
        Some("same-origin") => result(
            CORP,
            "corp-implemented-with-same-origin",
            10,
            true,
            "Cross-Origin-Resource-Policy keeps the answer from other origins.",
        ),
        Some("same-site") => result(
            CORP,
            "corp-implemented-with-same-site",
            10,
            true,
            "Cross-Origin-Resource-Policy keeps the answer from other sites.",
        ),
        Some("cross-origin") => result(
            CORP,
            "corp-implemented-with-cross-origin",
            0,
            true,
            "Cross-Origin-Resource-Policy lets any origin embed the answer.",
        ),
        Some(_) => result(
            CORP,
            "corp-header-invalid",
            -5,
            false,
            "Cross-Origin-Resource-Policy cannot be recognized.",
        ),
    }
}
