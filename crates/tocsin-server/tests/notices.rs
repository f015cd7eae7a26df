//! Notices end to end on both backends: a P1 involving personal data under the four-tier
//! preset, its customer notice drafted from the template, refused while incomplete or
//! unapproved, approved and emailed to 1,000 recipients through a real SMTP server, each
//! once; the authority notice as a document; each meeting its clock.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tocsin_core::identity::Role;
use tocsin_notify::testing::{SmtpSink, smtp_server_available};
use tocsin_server::http::ServerConfig;
use tocsin_server::testing::{PASSWORD, TestServer};
use tocsin_store::testing::TestDb;

fn plan(smtp: &str) -> String {
    let preset = tocsin_core::plan::presets::FOUR_TIER
        .source
        .replace("# channel = \"customer-mail\"", "channel = \"customer-mail\"")
        .replacen("# approve_by = [\"jo\"]", "approve_by = [\"cai\"]", 1)
        // The data subjects' notice is an obligation of its own (GDPR Art. 34).
        .replace(
            "# [[obligation]]\n# id = \"gdpr-art34\"\n# name = \"Notify affected data subjects (GDPR Art. 34)\"\n# from = \"personal-data-awareness\"\n# personal_data = true\n# met_by = \"data-subjects\"",
            "[[obligation]]\nid = \"gdpr-art34\"\nname = \"Notify affected data subjects (GDPR Art. 34)\"\nfrom = \"personal-data-awareness\"\npersonal_data = true\nmet_by = \"data-subjects\"",
        );
    assert!(
        preset.contains("\nid = \"gdpr-art34\""),
        "the preset's Art. 34 obligation moved"
    );
    format!(
        r#"{preset}

[[person]]
id = "cai"
name = "Cai"

[[channel]]
name = "customer-mail"
type = "email"
url = "{smtp}"
tls = "none"
from = "security@example.com"
to = ["security@example.com"]
"#
    )
}

struct Client {
    url: String,
    http: reqwest::Client,
}

impl Client {
    async fn call(
        &self,
        method: Method,
        path: &str,
        auth: &[(&str, String)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        for (name, value) in auth {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

/// Fills every `[[ blank ]]` of a draft in.
fn filled(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some(start) = rest.find("[[") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("]]").unwrap() + start + 2;
        out.push_str("Written by a person.");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn a_customer_notice_reaches_a_thousand_recipients_once_and_the_authority_notice_is_a_document() {
    if !smtp_server_available() {
        return;
    }
    for db in TestDb::all().await {
        let sink = SmtpSink::start(&[]);
        let server = TestServer::start_with_plan(db, ServerConfig::default(), &plan(&sink.url())).await;
        let backend = server.backend();
        let client = Client {
            url: server.url.clone(),
            http: reqwest::Client::new(),
        };
        let token = vec![(
            "authorization",
            format!("Bearer {}", server.token_secret("read,respond").await),
        )];
        server.user("cai", Role::Responder).await;
        let (secret, session) = server
            .identity
            .login("cai", PASSWORD, "127.0.0.1", "tests", jiff::Timestamp::now())
            .await
            .unwrap();
        let cai = vec![
            (
                "cookie",
                format!("{}={}", tocsin_server::http::SESSION_COOKIE, secret.expose()),
            ),
            ("x-csrf-token", session.csrf),
        ];

        let (status, declared) = client
            .call(
                Method::POST,
                "/api/v1/incidents",
                &token,
                Some(
                    json!({"title": "Customer records exposed", "severity": "P1", "personal_data": true,
                    "summary": "An export of customer records was readable without a login."}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{declared}");
        let id = declared["incident"]["id"].as_str().unwrap().to_owned();
        let base = format!("/api/v1/incidents/{id}");

        // A recipient list with a bad line is refused, naming the line, and adds nothing.
        let csv_call = |csv: String| {
            client
                .http
                .post(format!("{}{base}/recipients", client.url))
                .header("authorization", &token[0].1)
                .header("content-type", "text/csv")
                .body(csv)
        };
        let bad = csv_call("email,name\ncustomer1@example.com,One\nnot-an-address,Two\n".into())
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let text = bad.text().await.unwrap();
        assert!(
            text.contains("line 3 of the recipient list: \\\"not-an-address\\\" is not an email address"),
            "{text}"
        );
        let mut csv = String::from("email,name\n");
        for n in 0..1_000 {
            csv.push_str(&format!("customer{n}@example.com,\"Customer {n}, Ltd\"\n"));
        }
        // Twice: an address already on the list is kept once.
        for expected in [1_000, 0] {
            let added: Value = csv_call(csv.clone()).send().await.unwrap().json().await.unwrap();
            assert_eq!(
                (added["added"].as_u64(), added["total"].as_u64()),
                (Some(expected), Some(1_000)),
                "{backend}"
            );
        }

        // The draft comes from the template with the incident's facts; it cannot go with its
        // blanks, nor unapproved.
        let (status, draft) = client
            .call(
                Method::POST,
                &format!("{base}/notices"),
                &token,
                Some(json!({"kind": "customers"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{draft}");
        let body = draft["body"].as_str().unwrap();
        assert!(
            body.contains("An export of customer records was readable without a login."),
            "{body}"
        );
        assert_eq!(
            draft["subject"],
            "Security incident at Example Ltd: Customer records exposed"
        );
        assert!(
            draft["incomplete"]
                .as_str()
                .unwrap()
                .contains("blank to fill in in section \"What data was affected\""),
            "{draft}"
        );
        let (status, refused) = client
            .call(Method::POST, &format!("{base}/notices/1/send"), &token, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert!(
            refused["error"]["message"].as_str().unwrap().contains("[["),
            "{refused}"
        );
        let (status, revised) = client
            .call(
                Method::POST,
                &format!("{base}/notices/1/revise"),
                &token,
                Some(json!({"subject": draft["subject"], "body": filled(body)})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{revised}");
        assert_eq!(
            (revised["version"].as_u64(), &revised["incomplete"]),
            (Some(2), &Value::Null)
        );
        let (status, refused) = client
            .call(Method::POST, &format!("{base}/notices/1/send"), &token, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{refused}");
        assert_eq!(
            refused["error"]["message"],
            "version 2 of notice 1 is not approved; the plan wants cai to approve customers notices"
        );
        let (status, _) = client
            .call(Method::POST, &format!("{base}/notices/1/approve"), &token, None)
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a token is no person");
        let (status, approved) = client
            .call(Method::POST, &format!("{base}/notices/1/approve"), &cai, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{approved}");
        assert!(sink.messages().is_empty(), "nothing went before sending");

        let (status, sent) = client
            .call(Method::POST, &format!("{base}/notices/1/send"), &token, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        assert_eq!(sent["sent"]["recipients"], 1_000);

        // Each recipient gets it once, as the notice says it.
        let started = Instant::now();
        let mails = sink.wait_for(1_000, Some(Duration::from_secs(120))).await;
        let took = started.elapsed();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mails = if sink.messages().len() > mails.len() {
            sink.messages()
        } else {
            mails
        };
        let mut to: Vec<String> = mails
            .iter()
            .map(|m| m["rcpt_tos"][0].as_str().unwrap().to_owned())
            .collect();
        to.sort();
        to.dedup();
        assert_eq!((mails.len(), to.len()), (1_000, 1_000), "{backend}: each once");
        let first = &mails[0];
        assert!(
            first["data"]
                .as_str()
                .unwrap()
                .contains("Subject: Security incident at Example Ltd")
        );
        let text = first["text"].as_str().unwrap().replace("\r\n", "\n");
        assert!(text.contains("## What you should do\n\nWritten by a person."), "{text}");
        eprintln!("{backend}: 1,000 notice emails delivered in {took:?}");
        let doc = tocsin_server::testing::eventually("the deliveries to be counted", || async {
            let (_, doc) = client
                .call(Method::GET, &format!("{base}/notices/1"), &token, None)
                .await;
            (doc["deliveries"]["sent"] == 1_000).then_some(doc)
        })
        .await;
        assert_eq!(doc["deliveries"]["dead"], 0);

        // The authority notice has no channel: it is a document, filed by hand.
        let (_, authority) = client
            .call(
                Method::POST,
                &format!("{base}/notices"),
                &token,
                Some(json!({"kind": "authority"})),
            )
            .await;
        let (status, _) = client
            .call(
                Method::POST,
                &format!("{base}/notices/2/revise"),
                &token,
                Some(json!({"subject": authority["subject"], "body": filled(authority["body"].as_str().unwrap())})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let page = client
            .http
            .get(format!("{}{base}/notices/2/document?format=html", client.url))
            .header("authorization", &token[0].1)
            .send()
            .await
            .unwrap();
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let page = page.text().await.unwrap();
        for heading in [
            "Nature of the breach",
            "Contact point",
            "Likely consequences",
            "Measures taken or proposed",
        ] {
            assert!(page.contains(&format!("<h2>{heading}</h2>")), "{page}");
        }
        let (status, filed) = client
            .call(Method::POST, &format!("{base}/notices/2/send"), &token, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::OK, "{filed}");
        assert_eq!(
            (filed["sent"]["recipients"].as_u64(), &filed["deliveries"]),
            (Some(0), &Value::Null)
        );

        // The data subjects' notice goes to the same recipients (here, the customers' list).
        let (_, subjects) = client
            .call(
                Method::POST,
                &format!("{base}/notices"),
                &token,
                Some(json!({"kind": "data-subjects"})),
            )
            .await;
        assert!(
            subjects["body"]
                .as_str()
                .unwrap()
                .contains("## What this may mean for you"),
            "{subjects}"
        );
        let (status, _) = client
            .call(
                Method::POST,
                &format!("{base}/notices/3/revise"),
                &token,
                Some(json!({"subject": subjects["subject"], "body": filled(subjects["body"].as_str().unwrap())})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let (status, sent) = client
            .call(Method::POST, &format!("{base}/notices/3/send"), &token, Some(json!({})))
            .await;
        assert_eq!(status, StatusCode::OK, "{sent}");
        sink.wait_for(2_000, Some(Duration::from_secs(120))).await;

        // All meet their clocks, and the chain holds each version.
        let (_, clocks) = client.call(Method::GET, &format!("{base}/clocks"), &token, None).await;
        for clock in ["customer-notice", "gdpr-art33", "gdpr-art34"] {
            let c = clocks
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["clock"] == clock)
                .unwrap_or_else(|| panic!("{clock}: {clocks}"));
            assert_eq!(c["state"], "met", "{backend}: {c}");
        }
        let (_, timeline) = client
            .call(Method::GET, &format!("{base}/timeline"), &token, None)
            .await;
        let actions: Vec<&str> = timeline["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .filter(|a| a.starts_with("notice_"))
            .collect();
        assert_eq!(
            actions,
            [
                "notice_drafted",
                "notice_revised",
                "notice_approved",
                "notice_sent",
                "notice_drafted",
                "notice_revised",
                "notice_sent",
                "notice_drafted",
                "notice_revised",
                "notice_sent"
            ]
        );
        // The breach register says who was told and when.
        let (status, register) = client.call(Method::GET, "/api/v1/breaches", &token, None).await;
        assert_eq!(status, StatusCode::OK, "{register}");
        assert_eq!(register.as_array().unwrap().len(), 1, "{register}");
        let entry = &register[0];
        assert_eq!(
            (entry["incident"].as_str(), entry["authority"]["state"].as_str()),
            (Some(id.as_str()), Some("told"))
        );
        assert_eq!(entry["customers_told"]["state"], "told");
        assert_eq!(entry["data_subjects_told"]["state"], "told");
        // The list is erased once the notices went; the chain says how many, not who.
        let (status, refused) = client
            .call(
                Method::POST,
                &format!("{base}/recipients/remove"),
                &token,
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        let (status, removed) = client
            .call(
                Method::POST,
                &format!("{base}/recipients/remove"),
                &token,
                Some(json!({"emails": ["Customer7@example.com"]})),
            )
            .await;
        assert_eq!(
            (status, removed["removed"].as_u64(), removed["total"].as_u64()),
            (StatusCode::OK, Some(1), Some(999))
        );
        let (_, erased) = client
            .call(
                Method::POST,
                &format!("{base}/recipients/remove"),
                &token,
                Some(json!({"all": true})),
            )
            .await;
        assert_eq!(
            (erased["removed"].as_u64(), erased["total"].as_u64()),
            (Some(999), Some(0)),
            "{backend}"
        );
        let (status, verified) = client.call(Method::GET, "/api/v1/verify", &token, None).await;
        assert_eq!(status, StatusCode::OK, "{verified}");
        assert_eq!(
            (&verified["intact"], &verified["broken"]),
            (&json!(true), &Value::Null),
            "{verified}"
        );
        server.stop().await;
    }
}

/// A status update written as a notice goes to the incident's routes, its text in the news.
#[tokio::test]
async fn a_status_update_sent_as_a_notice_goes_to_the_routes() {
    if !smtp_server_available() {
        return;
    }
    let sink = SmtpSink::start(&[]);
    let plan = format!(
        r#"{}
[[channel]]
name = "team-mail"
type = "email"
url = "{}"
tls = "none"
from = "tocsin@example.com"
to = ["team@example.com"]

[[route]]
channels = ["team-mail"]
events = ["status_update"]
"#,
        tocsin_core::plan::presets::FOUR_TIER.source,
        sink.url()
    );
    let server = TestServer::start_with_plan(TestDb::sqlite(), ServerConfig::default(), &plan).await;
    let client = Client {
        url: server.url.clone(),
        http: reqwest::Client::new(),
    };
    let token = vec![(
        "authorization",
        format!("Bearer {}", server.token_secret("read,respond").await),
    )];
    let (_, declared) = client
        .call(
            Method::POST,
            "/api/v1/incidents",
            &token,
            Some(json!({"title": "Checkout errors", "severity": "P2"})),
        )
        .await;
    let base = format!("/api/v1/incidents/{}", declared["incident"]["id"].as_str().unwrap());
    let (status, _) = client
        .call(
            Method::POST,
            &format!("{base}/notices"),
            &token,
            Some(json!({"kind": "status-update"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = client
        .call(
            Method::POST,
            &format!("{base}/notices/1/revise"),
            &token,
            Some(json!({"subject": "Update 1", "body": "The payment provider's API is failing; retries are on."})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, sent) = client
        .call(Method::POST, &format!("{base}/notices/1/send"), &token, Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK, "{sent}");
    let mails = sink.wait_for(1, Some(Duration::from_secs(15))).await;
    let text = mails[0]["text"].as_str().unwrap();
    assert!(
        text.contains("Status update from token:") && text.contains("The payment provider's API is failing"),
        "{text}"
    );
    assert_eq!(mails[0]["rcpt_tos"][0], "team@example.com");
    server.stop().await;
}
