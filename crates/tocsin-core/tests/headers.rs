//! Security headers graded as the HTTP Observatory grades them: each test's result and
//! modifier, bonuses only above 90, and the letter.

use tocsin_core::headers::{FOREIGN_ORIGIN, Fetched, Redirection, grade, letter};

fn page(url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Fetched {
    Fetched {
        url: url.into(),
        status: 200,
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_owned()))
            .collect(),
        body: body.map(str::to_owned),
        cors: None,
        redirection: Some(Redirection::Chain(vec![
            "http://app.example.com/".into(),
            "https://app.example.com/".into(),
        ])),
    }
}

fn result_of<'a>(graded: &'a tocsin_core::headers::Grade, test: &str) -> (&'a str, i32) {
    let t = graded.tests.iter().find(|t| t.test == test).unwrap();
    (t.result, t.modifier)
}

const STRONG_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[test]
fn a_page_without_security_headers_grades_d() {
    let graded = grade(&page(
        "https://app.example.com/",
        &[("Content-Type", "text/html")],
        Some("<html><script src=\"/app.js\"></script></html>"),
    ));
    assert_eq!(
        result_of(&graded, "content-security-policy"),
        ("csp-not-implemented", -25)
    );
    assert_eq!(
        result_of(&graded, "x-frame-options"),
        ("x-frame-options-not-implemented", -20)
    );
    assert_eq!(
        result_of(&graded, "strict-transport-security"),
        ("hsts-not-implemented", -20)
    );
    assert_eq!(
        result_of(&graded, "x-content-type-options"),
        ("x-content-type-options-not-implemented", -5)
    );
    assert_eq!(
        result_of(&graded, "subresource-integrity"),
        ("sri-not-implemented-but-all-scripts-loaded-from-secure-origin", 0)
    );
    assert_eq!((graded.score, graded.grade), (30, "D"));
    let failing: Vec<&str> = graded.failing().iter().map(|t| t.result).collect();
    assert_eq!(failing[0], "csp-not-implemented", "worst first");
}

#[test]
fn a_strict_page_earns_every_bonus_and_an_a_plus() {
    let graded = grade(&page(
        "https://app.example.com/",
        &[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Security-Policy", STRONG_CSP),
            ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("Cross-Origin-Resource-Policy", "same-origin"),
            (
                "Set-Cookie",
                "app_session=abc; Path=/; Secure; HttpOnly; SameSite=Strict",
            ),
        ],
        Some("<script src='/app.js' integrity='sha384-abc' defer></script>"),
    ));
    for (test, expected) in [
        (
            "content-security-policy",
            ("csp-implemented-with-no-unsafe-default-src-none", 10),
        ),
        ("x-frame-options", ("x-frame-options-implemented-via-csp", 5)),
        ("referrer-policy", ("referrer-policy-private", 5)),
        (
            "cross-origin-resource-policy",
            ("corp-implemented-with-same-origin", 10),
        ),
        ("cookies", ("cookies-secure-with-httponly-sessions-and-samesite", 5)),
        (
            "subresource-integrity",
            ("sri-implemented-and-all-scripts-loaded-securely", 5),
        ),
        ("redirection", ("redirection-to-https", 0)),
        (
            "strict-transport-security",
            ("hsts-implemented-max-age-at-least-six-months", 0),
        ),
    ] {
        assert_eq!(result_of(&graded, test), expected, "{test}");
    }
    assert_eq!((graded.score, graded.grade), (140, "A+"));
    assert!(graded.failing().is_empty());
}

#[test]
fn bonuses_count_only_when_the_penalties_leave_ninety() {
    // +5 for the CSP, but -20 without HSTS: 80, not 85.
    let graded = grade(&page(
        "https://app.example.com/",
        &[
            (
                "Content-Security-Policy",
                "default-src 'self'; frame-ancestors 'self'; object-src 'none'",
            ),
            ("X-Content-Type-Options", "nosniff"),
        ],
        None,
    ));
    assert_eq!(
        result_of(&graded, "content-security-policy"),
        ("csp-implemented-with-no-unsafe", 5)
    );
    assert_eq!((graded.score, graded.grade), (80, "B+"));
}

#[test]
fn the_dangerous_findings_cost_what_the_observatory_says() {
    let https = |headers: &[(&str, &str)], body: Option<&str>| {
        let mut all = vec![("Strict-Transport-Security", "max-age=63072000")];
        all.extend_from_slice(headers);
        grade(&page("https://app.example.com/", &all, body))
    };
    let inline = https(
        &[("Content-Security-Policy", "script-src 'self' 'unsafe-inline'")],
        None,
    );
    assert_eq!(
        result_of(&inline, "content-security-policy"),
        ("csp-implemented-with-unsafe-inline", -20)
    );
    let nonce = https(
        &[(
            "Content-Security-Policy",
            "script-src 'nonce-r4nd' 'unsafe-inline'; style-src 'self'; object-src 'none'",
        )],
        None,
    );
    assert_eq!(
        result_of(&nonce, "content-security-policy").1,
        5,
        "a nonce makes 'unsafe-inline' ignored"
    );
    let eval = https(
        &[(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self' 'unsafe-eval'",
        )],
        None,
    );
    assert_eq!(
        result_of(&eval, "content-security-policy"),
        ("csp-implemented-with-unsafe-eval", -10)
    );
    let mixed = https(
        &[(
            "Content-Security-Policy",
            "default-src 'self'; connect-src http://api.example.com",
        )],
        None,
    );
    assert_eq!(
        result_of(&mixed, "content-security-policy"),
        ("csp-implemented-with-insecure-scheme", -20)
    );
    let bad = https(
        &[("Content-Security-Policy", "default-src 'self'; sc/ript-src x")],
        None,
    );
    assert_eq!(result_of(&bad, "content-security-policy"), ("csp-header-invalid", -25));

    let mut reflected = page("https://app.example.com/", &[], None);
    reflected.cors = Some((FOREIGN_ORIGIN.into(), Some("true".into())));
    assert_eq!(
        result_of(&grade(&reflected), "cross-origin-resource-sharing"),
        ("cross-origin-resource-sharing-implemented-with-universal-access", -50)
    );
    let public = https(&[("Access-Control-Allow-Origin", "*")], None);
    assert_eq!(result_of(&public, "cross-origin-resource-sharing").1, 0);

    let plain_session = grade(&page(
        "https://app.example.com/",
        &[("Set-Cookie", "sessionid=1; HttpOnly")],
        None,
    ));
    assert_eq!(
        result_of(&plain_session, "cookies"),
        ("cookies-session-without-secure-flag", -40)
    );
    let hsts_session = https(&[("Set-Cookie", "sessionid=1; HttpOnly")], None);
    assert_eq!(
        result_of(&hsts_session, "cookies"),
        ("cookies-session-without-secure-flag-but-protected-by-hsts", -10)
    );
    let readable = https(&[("Set-Cookie", "sessionid=1; Secure; SameSite=Lax")], None);
    assert_eq!(
        result_of(&readable, "cookies"),
        ("cookies-session-without-httponly-flag", -30)
    );
    let weird = https(&[("Set-Cookie", "pref=1; Secure; SameSite=Sometimes")], None);
    assert_eq!(result_of(&weird, "cookies"), ("cookies-samesite-flag-invalid", -20));

    let html = [("Content-Type", "text/html")];
    let cdn_http = https(&html, Some(r#"<script src="http://cdn.example.net/lib.js"></script>"#));
    assert_eq!(
        result_of(&cdn_http, "subresource-integrity"),
        ("sri-not-implemented-and-external-scripts-not-loaded-securely", -50)
    );
    let cdn_https = https(&html, Some(r#"<SCRIPT SRC="https://cdn.example.net/lib.js"></SCRIPT>"#));
    assert_eq!(
        result_of(&cdn_https, "subresource-integrity"),
        ("sri-not-implemented-but-external-scripts-loaded-securely", -5)
    );
    let relative_scheme = https(
        &html,
        Some(r#"<script src="//cdn.example.net/lib.js" integrity="sha384-x"></script>"#),
    );
    assert_eq!(
        result_of(&relative_scheme, "subresource-integrity"),
        ("sri-implemented-but-external-scripts-not-loaded-securely", -20)
    );

    let short = grade(&page(
        "https://app.example.com/",
        &[("Strict-Transport-Security", "max-age=86400")],
        None,
    ));
    assert_eq!(result_of(&short, "strict-transport-security").1, -10);
    let plain = grade(&page("http://app.example.com/", &[], None));
    assert_eq!(
        result_of(&plain, "strict-transport-security"),
        ("hsts-not-implemented-no-https", -20)
    );

    let unsafe_referrer = https(&[("Referrer-Policy", "no-referrer, unsafe-url")], None);
    assert_eq!(
        result_of(&unsafe_referrer, "referrer-policy"),
        ("referrer-policy-unsafe", -5)
    );
    let xfo = https(&[("X-Frame-Options", "deny")], None);
    assert_eq!(
        result_of(&xfo, "x-frame-options"),
        ("x-frame-options-sameorigin-or-deny", 0)
    );
    let corp = https(&[("Cross-Origin-Resource-Policy", "nobody")], None);
    assert_eq!(
        result_of(&corp, "cross-origin-resource-policy"),
        ("corp-header-invalid", -5)
    );
}

#[test]
fn redirection_wants_https_on_the_same_host_first() {
    let chain = |urls: &[&str]| {
        let mut p = page("https://www.example.com/", &[], None);
        p.redirection = Some(Redirection::Chain(urls.iter().map(|u| (*u).to_owned()).collect()));
        grade(&p)
    };
    assert_eq!(
        result_of(&chain(&["http://example.com/"]), "redirection"),
        ("redirection-missing", -20)
    );
    assert_eq!(
        result_of(
            &chain(&["http://example.com/", "https://www.example.com/"]),
            "redirection"
        ),
        ("redirection-off-host-from-http", -5)
    );
    assert_eq!(
        result_of(
            &chain(&[
                "http://example.com/",
                "http://www.example.com/",
                "https://www.example.com/"
            ]),
            "redirection"
        ),
        ("redirection-not-to-https-on-initial-redirection", -10)
    );
    assert_eq!(
        result_of(
            &chain(&["http://example.com/", "http://www.example.com/"]),
            "redirection"
        ),
        ("redirection-not-to-https", -20)
    );
    assert_eq!(
        result_of(
            &chain(&["http://example.com:8080/", "https://example.com:8443/"]),
            "redirection"
        ),
        ("redirection-to-https", 0),
        "the host, not the port"
    );
}

#[test]
fn letters_follow_the_chart() {
    let got: Vec<&str> = [
        140, 100, 99, 90, 89, 85, 84, 80, 79, 70, 65, 60, 59, 50, 45, 40, 39, 30, 25, 24, 0,
    ]
    .into_iter()
    .map(letter)
    .collect();
    assert_eq!(
        got,
        [
            "A+", "A+", "A", "A", "A-", "A-", "B+", "B+", "B", "B", "B-", "C+", "C", "C", "C-", "D+", "D", "D", "D-",
            "F", "F"
        ]
    );
}
