//! `tocsin plan check` semantics: every problem of a plan at once, each with its place and a hint.

use tocsin_core::detector::DetectorId;
use tocsin_core::plan::{ChannelKind, Plan, SmtpTls, presets};

const BROKEN: &str = r#"[organization]
name = "Acme"
timezone = "Europe/Berlim"
working_days = ["mon", "tue", "funday"]
holidays = ["2026-12-25", "christmas"]
colour = "red"

[[severity]]
id = "P1"
name = "Critical"
acknowledge_within = "15 mins"
pages = "yes"

[[severity]]
id = "P1"
name = "Also critical"
acknowledge_within = "1h"

[[severity]]
id = "P2"
acknowledge_within = "1h"

[[step]]
id = "identify"
name = "Identify"

[[step]]
id = "contain"
name = "Contain"
checklist = ["Revoke tokens", 3]

[[role]]
id = "incident-commander"
name = "Incident commander"
required_for = ["P9"]

[review]
step = "reviw"
within = "5 buisness days"

[[obligation]]
id = "gdpr-art33"
name = "GDPR"
from = "awareness"
within = "72h"
severities = ["P1"]
met_by = "regulator"

[[obligation]]
id = "final"
name = "Final report"
from = "gdpr-art34"
within = "1 month"
"#;

fn rendered(source: &str) -> Vec<String> {
    let err = Plan::parse(source).expect_err("the plan is broken");
    err.render("tocsin.toml", source).lines().map(str::to_owned).collect()
}

#[test]
fn a_broken_plan_reports_every_problem_with_file_line_column_and_hint() {
    let lines = rendered(BROKEN);
    let expected = [
        "tocsin.toml:3:12: unknown timezone \"Europe/Berlim\"",
        "    hint: did you mean \"Europe/Berlin\"?",
        "tocsin.toml:4:31: unknown working day \"funday\"",
        "    hint: write mon, tue, wed, thu, fri, sat or sun",
        "tocsin.toml:5:27: holiday is not a date",
        "    hint: write dates as 2026-12-25",
        "tocsin.toml:6:1: unknown key \"colour\" in [organization]",
        "    hint: known keys are name, timezone, working_days, holidays, security_contact, privacy_contact",
        "tocsin.toml:11:22: acknowledge_within in severity \"P1\": unknown unit \"mins\" in duration \"15 mins\"",
        "    hint: write \"15m\" or \"15 minutes\"",
        "tocsin.toml:12:9: pages in severity \"P1\" must be true or false, not a string",
        "tocsin.toml:15:6: duplicate severity id \"P1\"",
        "    hint: each severity needs its own id",
        "tocsin.toml:19:1: severity \"P2\" is missing name",
        "    hint: add name = \"Critical\"",
        "tocsin.toml:30:31: each item of checklist in step \"contain\" must be a string, not an integer",
        "tocsin.toml:35:17: role \"incident-commander\" refers to unknown severity \"P9\"",
        "    hint: did you mean \"P1\"?",
        "tocsin.toml:38:8: [review] refers to unknown step \"reviw\"",
        "    hint: the plan's steps are identify, contain",
        "tocsin.toml:39:10: within in [review]: unknown unit \"buisness days\" in duration \"5 buisness days\"",
        "    hint: units are s, m, h, d, w, business days and months; write a number and a unit, like \"15m\", \"1h\", \"72h\", \"5 business days\" or \"1 month\"",
        "tocsin.toml:47:10: obligation \"gdpr-art33\" is met by unknown notice \"regulator\"",
        "    hint: met_by is customers, authority, data-subjects, summary, or an obligation id",
        "tocsin.toml:52:8: obligation \"final\" starts from unknown \"gdpr-art34\"",
        "    hint: did you mean \"gdpr-art33\"?",
    ];
    assert_eq!(lines, expected, "\n{}", lines.join("\n"));
}

#[test]
fn a_toml_syntax_error_is_reported_with_its_place() {
    let lines = rendered("[organization]\nname = \"Acme\ntimezone = \"UTC\"\n");
    assert!(lines[0].starts_with("tocsin.toml:2:"), "{lines:?}");
    assert!(lines[0].contains("TOML syntax"), "{lines:?}");
}

#[test]
fn an_empty_plan_names_each_missing_section() {
    let lines = rendered("");
    assert_eq!(
        lines.iter().filter(|l| !l.starts_with("    hint")).collect::<Vec<_>>(),
        [
            "tocsin.toml:1:1: the plan has no [organization] section",
            "tocsin.toml:1:1: the plan has no [review] section",
            "tocsin.toml:1:1: the plan defines no severity",
            "tocsin.toml:1:1: the plan defines no response step",
        ]
    );
}

#[test]
fn obligations_may_not_start_from_each_other_in_a_loop() {
    let source = format!(
        "{}\n[[obligation]]\nid = \"a\"\nname = \"A\"\nfrom = \"b\"\n\n[[obligation]]\nid = \"b\"\nname = \"B\"\nfrom = \"a\"\n",
        presets::FOUR_TIER.source
    );
    let lines = rendered(&source);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].ends_with("obligation \"a\" starts from itself through a loop of obligations"));
    assert!(lines[1].ends_with("obligation \"b\" starts from itself through a loop of obligations"));
}

#[test]
fn the_plan_digest_changes_with_its_text() {
    let a = Plan::parse(presets::FOUR_TIER.source).unwrap();
    let b = Plan::parse(&format!("{}\n# edited\n", presets::FOUR_TIER.source)).unwrap();
    assert_eq!(a.digest().len(), 64);
    assert_ne!(a.digest(), b.digest());
}

#[test]
fn rate_limit_policies_come_from_the_plan_and_the_defaults_fill_in_the_rest() {
    let plan = Plan::parse(&format!(
        "{}\n[[rate_limit]]\npolicy = \"login\"\nlimit = 10\nper = \"1h\"\n\n[[rate_limit]]\npolicy = \"export\"\nlimit = 2\nper = \"1d\"\n",
        presets::FOUR_TIER.source
    ))
    .unwrap();
    let login = plan.rate_limit("login").unwrap();
    assert_eq!((login.limit, login.per_ms), (10, 3_600_000));
    assert_eq!(plan.rate_limit("export").unwrap().per_ms, 86_400_000);
    assert_eq!(plan.rate_limit("password_reset").unwrap().limit, 3, "a default");
    assert!(plan.rate_limit("nope").is_none());

    let broken = format!(
        "{}\n[[rate_limit]]\npolicy = \"login\"\nlimit = 0\nper = \"2 business days\"\n\n[[rate_limit]]\npolicy = \"login\"\nlimit = \"five\"\nper = \"1h\"\n",
        presets::FOUR_TIER.source
    );
    let lines = rendered(&broken);
    let problems: Vec<&String> = lines.iter().filter(|l| !l.starts_with("    hint")).collect();
    assert_eq!(problems.len(), 3, "{lines:#?}");
    assert!(
        problems[0].ends_with("limit in [[rate_limit]] must be from 1 to 1000000"),
        "{lines:#?}"
    );
    assert!(
        problems[1].ends_with("per in [[rate_limit]] must be an exact span"),
        "{lines:#?}"
    );
    assert!(
        problems[2].ends_with("limit in [[rate_limit]] must be a whole number, not a string"),
        "{lines:#?}"
    );
    let twice = format!(
        "{}\n[[rate_limit]]\npolicy = \"login\"\nlimit = 1\nper = \"1h\"\n\n[[rate_limit]]\npolicy = \"login\"\nper = \"1h\"\nlimit = 2\n",
        presets::FOUR_TIER.source
    );
    let lines = rendered(&twice);
    assert!(lines[0].ends_with("duplicate rate_limit id \"login\""), "{lines:#?}");
}

#[test]
fn rules_say_what_a_detector_s_signals_lead_to_and_detection_settings_change_the_detectors() {
    use tocsin_core::signal::{Disposition, rule_for};
    let plan = Plan::parse(&format!(
        "{}\n[[rule]]\ndetector = \"brute_force\"\naction = \"record\"\ngroup = \"detector\"\n\n[[rule]]\ndetector = \"stale_agent\"\naction = \"open\"\nseverity = \"P1\"\n\n[detection]\nbrute_force_threshold = 10\nbrute_force_window = \"30m\"\nstale_agent_after = \"1h\"\nworking_hours = \"08:30-18:00\"\n",
        presets::FOUR_TIER.source
    ))
    .unwrap();
    assert_eq!(
        rule_for(&plan, DetectorId::BruteForce),
        (Disposition::Record, "P2".to_owned())
    );
    assert_eq!(plan.rules()[0].one_incident, Some(true));
    assert_eq!(plan.rules()[1].one_incident, None);
    assert_eq!(
        rule_for(&plan, DetectorId::StaleAgent),
        (Disposition::Open, "P1".to_owned())
    );
    assert_eq!(
        rule_for(&plan, DetectorId::Compromise),
        (Disposition::Open, "P1".to_owned()),
        "the default"
    );
    assert_eq!(
        rule_for(&plan, DetectorId::NewError),
        (Disposition::Record, "P4".to_owned())
    );
    let d = plan.detection();
    assert_eq!(
        (
            d.brute_force_threshold,
            d.brute_force_window_seconds,
            d.stale_agent_after_seconds,
            d.spray_accounts
        ),
        (Some(10), Some(1800), Some(3600), None)
    );
    assert_eq!(d.working_hours, Some((510, 1080)));

    let broken = format!(
        "{}\n[[rule]]\ndetector = \"brute_forse\"\naction = \"open\"\n\n[[rule]]\ndetector = \"compromise\"\naction = \"page\"\ngroup = \"ip\"\n\n[[rule]]\ndetector = \"compromise\"\naction = \"open\"\nseverity = \"P0\"\n\n[detection]\nbrute_force_window = \"2 business days\"\nsprays = 3\nworking_hours = \"18:00-08:00\"\n",
        presets::FOUR_TIER.source
    );
    let lines = rendered(&broken);
    let text = lines.join("\n");
    for expected in [
        "unknown detector \"brute_forse\"",
        "hint: did you mean \"brute_force\"?",
        "unknown action \"page\" in [[rule]]",
        "hint: write open, join or record",
        "unknown group \"ip\" in [[rule]]",
        "[[rule]] refers to unknown severity \"P0\"",
        "brute_force_window in [detection] must be an exact span",
        "unknown key \"sprays\" in [detection]",
        "working_hours \"18:00-08:00\" in [detection] is not a span of the day",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}

#[test]
fn suppressions_keep_signals_on_record_by_key_network_or_prefix_until_they_lapse() {
    let at = |text: &str| text.parse::<tocsin_core::Timestamp>().unwrap();
    let plan = Plan::parse(&format!(
        "{}\n[[suppress]]\nkey = \"10.0.0.0/8\"\nreason = \"our own scanners\"\n\n[[suppress]]\ndetector = \"brute_force\"\nkey = \"203.0.113.7\"\nuntil = \"2026-12-31\"\nreason = \"the yearly penetration test\"\n\n[[suppress]]\ndetector = \"stale_agent\"\nkey = \"lab-*\"\nreason = \"lab machines come and go\"\n\n[[suppress]]\nkey = \"2001:db8::/32\"\nreason = \"the test network\"\n",
        presets::FOUR_TIER.source
    ))
    .unwrap();
    let reason = |detector: &str, key: &str, when: &str| {
        plan.suppression(DetectorId::parse(detector).unwrap(), key, at(when))
            .map(|s| s.reason.as_str())
    };
    assert_eq!(
        reason("brute_force", "10.20.30.40", "2026-06-01T00:00:00Z"),
        Some("our own scanners")
    );
    assert_eq!(
        reason("compromise", "10.0.0.1", "2026-06-01T00:00:00Z"),
        Some("our own scanners")
    );
    assert_eq!(reason("brute_force", "11.0.0.1", "2026-06-01T00:00:00Z"), None);
    assert_eq!(
        reason("brute_force", "2001:db8::5", "2026-06-01T00:00:00Z"),
        Some("the test network")
    );
    assert_eq!(reason("brute_force", "2001:db9::5", "2026-06-01T00:00:00Z"), None);
    // Only for its detector, and until the end of its day in the plan's time zone.
    let pentest = Some("the yearly penetration test");
    assert_eq!(reason("brute_force", "203.0.113.7", "2026-12-31T12:00:00Z"), pentest);
    assert_eq!(reason("compromise", "203.0.113.7", "2026-12-31T12:00:00Z"), None);
    assert_eq!(reason("brute_force", "203.0.113.7", "2027-01-02T00:00:00Z"), None);
    assert_eq!(
        reason("stale_agent", "lab-7", "2026-06-01T00:00:00Z"),
        Some("lab machines come and go")
    );
    assert_eq!(reason("stale_agent", "prod-7", "2026-06-01T00:00:00Z"), None);

    let broken = format!(
        "{}\n[[suppress]]\nkey = \"10.0.0.0/40\"\nreason = \"x\"\n\n[[suppress]]\ndetector = \"brute_forse\"\nkey = \"a\"\nuntil = \"next week\"\n\n[[suppress]]\nkey = \"300.1.1.1/8\"\nreason = \"y\"\n",
        presets::FOUR_TIER.source
    );
    let text = rendered(&broken).join("\n");
    for expected in [
        "key \"10.0.0.0/40\" in [[suppress]]: /40 is not a prefix length of an IPv4 network (0 to 32)",
        "key \"300.1.1.1/8\" in [[suppress]]: \"300.1.1.1\" is not an IP address",
        "unknown detector \"brute_forse\"",
        "until \"next week\" in [[suppress]] is not a date or a time",
        "[[suppress]] is missing reason",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}

#[test]
fn channels_name_where_messages_go_and_where_their_secret_is_kept_never_the_secret() {
    use tocsin_core::plan::{ChannelKind, SecretRef};
    let plan = Plan::parse(&format!(
        "{}\n[[channel]]\nname = \"ops-webhook\"\ntype = \"webhook\"\nurl = \"https://hooks.example.com/tocsin\"\nsecret_env = \"TOCSIN_OPS_SECRET\"\n\n[[channel]]\nname = \"audit\"\ntype = \"webhook\"\nurl = \"http://127.0.0.1:9000/in\"\nsecret_file = \"/run/secrets/audit\"\n",
        presets::FOUR_TIER.source
    ))
    .unwrap();
    let ops = plan.channel("ops-webhook").unwrap();
    assert_eq!(ops.kind, ChannelKind::Webhook);
    assert_eq!(ops.url.as_deref(), Some("https://hooks.example.com/tocsin"));
    assert_eq!(ops.secret, Some(SecretRef::Env("TOCSIN_OPS_SECRET".into())));
    assert_eq!(
        plan.channel("audit").unwrap().secret,
        Some(SecretRef::File("/run/secrets/audit".into()))
    );
    assert_eq!(plan.channels().len(), 2);
    let slack = Plan::parse(&format!(
        "{}\n[[channel]]\nname = \"chat\"\ntype = \"slack\"\nsecret_env = \"TOCSIN_SLACK_WEBHOOK\"\n",
        presets::FOUR_TIER.source
    ))
    .unwrap();
    let chat = slack.channel("chat").unwrap();
    assert_eq!((chat.kind, chat.url.as_deref()), (ChannelKind::Slack, None));
    let text = rendered(&format!(
        "{}\n[[channel]]\nname = \"chat\"\ntype = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/X\"\nsecret_env = \"S\"\n\n[[channel]]\nname = \"bare\"\ntype = \"slack\"\n\n[[channel]]\nname = \"nourl\"\ntype = \"webhook\"\nsecret_env = \"S\"\n",
        presets::FOUR_TIER.source
    ))
    .join("\n");
    for expected in [
        "a Slack webhook's address is its secret: it must not be written in the plan",
        "a slack [[channel]] needs its webhook address as a secret",
        "a webhook [[channel]] needs a url",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }

    let broken = format!(
        "{}\n[[channel]]\nname = \"a\"\ntype = \"webhok\"\nurl = \"https://x.example\"\nsecret_env = \"S\"\n\n[[channel]]\nname = \"b\"\ntype = \"webhook\"\nurl = \"hooks.example.com\"\nsecret = \"hunter2\"\n\n[[channel]]\nname = \"b\"\ntype = \"webhook\"\nurl = \"https://x.example\"\n\n[[channel]]\nname = \"Ops Team\"\ntype = \"webhook\"\nurl = \"https://x.example\"\nsecret_env = \"S\"\nsecret_file = \"/f\"\n",
        presets::FOUR_TIER.source
    );
    let text = rendered(&broken).join("\n");
    for expected in [
        "unknown channel type \"webhok\"",
        "hint: did you mean \"webhook\"?",
        "url \"hooks.example.com\" in [[channel]] is not an http or https URL",
        "a secret must not be written in the plan",
        "a webhook [[channel]] needs a signing secret",
        "duplicate channel id \"b\"",
        "channel name \"Ops Team\" is not a name",
        "[[channel]] names both secret_env and secret_file",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}

#[test]
fn routes_send_news_by_kind_and_severity_to_channels_and_hold_it_through_quiet_hours() {
    let channel = "\n[[channel]]\nname = \"ops\"\ntype = \"webhook\"\nurl = \"https://x.example/h\"\nsecret_env = \"S\"\n\n[[channel]]\nname = \"low\"\ntype = \"webhook\"\nurl = \"https://x.example/l\"\nsecret_env = \"S\"\n";
    let plan = Plan::parse(&format!(
        "{}{channel}\n[[route]]\nchannels = [\"ops\"]\nseverities = [\"P1\", \"P2\"]\n\n[[route]]\nchannels = [\"low\"]\nevents = [\"declared\", \"resolved\"]\nseverities = [\"P3\", \"P4\"]\nquiet_hours = \"22:00-07:00\"\n",
        presets::FOUR_TIER.source
    ))
    .unwrap();
    let to = |kind: &str, severity: &str| -> Vec<String> {
        plan.routes_for(kind, Some(severity))
            .flat_map(|r| r.channels.clone())
            .collect()
    };
    assert_eq!(to("declared", "P1"), ["ops"]);
    assert_eq!(to("clock_warning", "P2"), ["ops"]);
    assert_eq!(to("declared", "P4"), ["low"]);
    assert!(to("acknowledged", "P4").is_empty());
    // Quiet from 22:00 to 07:00 in the plan's zone: news at 23:30 goes out at 07:00.
    let zone = plan.calendar().zone();
    let low = &plan.routes()[1];
    let local = |text: &str| {
        text.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(zone.clone())
            .unwrap()
            .timestamp()
    };
    assert_eq!(low.send_at(local("2026-03-02T23:30"), zone), local("2026-03-03T07:00"));
    assert_eq!(low.send_at(local("2026-03-03T03:00"), zone), local("2026-03-03T07:00"));
    assert_eq!(low.send_at(local("2026-03-03T12:00"), zone), local("2026-03-03T12:00"));
    assert_eq!(
        plan.routes()[0].send_at(local("2026-03-02T23:30"), zone),
        local("2026-03-02T23:30")
    );

    let broken = format!(
        "{}{channel}\n[[route]]\nchannels = [\"opz\"]\nevents = [\"declard\"]\nseverities = [\"P9\"]\nquiet_hours = \"late\"\n\n[[route]]\nevents = [\"resolved\"]\n",
        presets::FOUR_TIER.source
    );
    let text = rendered(&broken).join("\n");
    for expected in [
        "[[route]] refers to unknown channel \"opz\"",
        "hint: did you mean \"ops\"?",
        "unknown event \"declard\" in [[route]]",
        "hint: did you mean \"declared\"?",
        "[[route]] refers to unknown severity \"P9\"",
        "quiet_hours \"late\" in [[route]] is not a span of the day",
        "[[route]] names no channel",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}

#[test]
fn telegram_and_email_channels_take_their_own_settings_and_name_what_is_wrong() {
    let good = format!(
        r#"{}
[[channel]]
name = "oncall"
type = "telegram"
chat = -1001234567890
users = [4242, 5353]
secret_env = "TOCSIN_TELEGRAM_TOKEN"

[[channel]]
name = "mail"
type = "email"
url = "smtps://mail.example.com"
from = "tocsin@example.com"
to = ["security@example.com", "cto@example.com"]
username = "tocsin"
secret_file = "/run/secrets/smtp"
"#,
        presets::FOUR_TIER.source
    );
    let plan = Plan::parse(&good).unwrap();
    let telegram = plan.channel("oncall").unwrap();
    assert_eq!(telegram.kind, ChannelKind::Telegram);
    assert_eq!(telegram.chat.as_deref(), Some("-1001234567890"));
    assert_eq!(telegram.users, [4242, 5353]);
    assert_eq!(telegram.url, None);
    let mail = plan.channel("mail").unwrap();
    assert_eq!(mail.tls, SmtpTls::Implicit);
    assert_eq!(mail.to, ["security@example.com", "cto@example.com"]);

    let broken = format!(
        r#"{}
[[channel]]
name = "tg"
type = "telegram"
chat = "ops room"

[[channel]]
name = "hook"
type = "webhook"
url = "https://x.example"
secret_env = "S"
chat = 5
to = ["a@example.com"]

[[channel]]
name = "mail"
type = "email"
url = "https://mail.example.com"
to = ["not an address"]
username = "tocsin"
tls = "sometimes"

[[channel]]
name = "mail2"
type = "email"
url = "smtps://mail.example.com"
from = "tocsin@example.com"
to = ["a@example.com"]
tls = "starttls"
"#,
        presets::FOUR_TIER.source
    );
    let text = rendered(&broken).join("\n");
    for expected in [
        "\"ops room\" is not a Telegram chat: use its numeric id (like -1001234567890) or @channelname",
        "a telegram [[channel]] needs the bot's token as a secret",
        "chat is for telegram channels, not webhook ones",
        "to is for email channels, not webhook ones",
        "url \"https://mail.example.com\" in [[channel]] is not an smtp or smtps URL",
        "an email [[channel]] needs a from address",
        "\"not an address\" is not an email address",
        "an email [[channel]] needs the password of its username as a secret",
        "unknown tls \"sometimes\" in [[channel]]",
        "an smtps:// url is TLS from the start; tls \"starttls\" contradicts it",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}

#[test]
fn people_and_an_escalation_say_who_is_called_and_when() {
    let base = format!(
        r#"{}
[[channel]]
name = "pager"
type = "webhook"
url = "https://x.example/p"
secret_env = "S"

[[person]]
id = "jo"
name = "Jo Smith"
email = "jo@example.com"
telegram = 4242

[[person]]
id = "ann"
name = "Ann"
"#,
        presets::FOUR_TIER.source
    );
    let good = format!(
        "{base}\n[escalation]\nchannels = [\"pager\"]\nrepeat = \"15m\"\n[[escalation.level]]\nafter = \"0m\"\nnotify = [\"owner\"]\n[[escalation.level]]\nafter = \"10m\"\nnotify = [\"jo\", \"ann\"]\n"
    );
    let plan = Plan::parse(&good).unwrap();
    let escalation = plan.escalation().unwrap();
    // By default the severities that page: P1 in this preset.
    let severities: Vec<&str> = escalation
        .severities
        .iter()
        .map(tocsin_core::id::SeverityId::as_str)
        .collect();
    assert_eq!(severities, ["P1"]);
    assert_eq!(escalation.levels[1].after, std::time::Duration::from_secs(600));
    assert_eq!(escalation.repeat, Some(std::time::Duration::from_secs(900)));
    assert_eq!(plan.person("jo").unwrap().telegram, Some(4242));

    let broken = format!(
        "{base}\n[[person]]\nid = \"jo\"\nname = \"Again\"\ntelegram = -5\nemail = \"nope\"\n\n[escalation]\nchannels = [\"pagr\"]\nseverities = [\"P9\"]\nrepeat = \"2 business days\"\n[[escalation.level]]\nafter = \"30m\"\nnotify = [\"jo\"]\n[[escalation.level]]\nafter = \"10m\"\nnotify = [\"joe\"]\n[[escalation.level]]\nafter = \"1h\"\nnotify = []\n"
    );
    let text = rendered(&broken).join("\n");
    for expected in [
        "duplicate person id \"jo\"",
        "telegram is a person's user id, a positive number",
        "\"nope\" is not an email address",
        "[escalation] refers to unknown channel \"pagr\"",
        "hint: did you mean \"pager\"?",
        "[escalation] refers to unknown severity \"P9\"",
        "repeat in [escalation] must be a time like \"15m\", not business days",
        "escalation levels must come in order, each later than the one before",
        "escalation level #2 notifies unknown \"joe\"",
        "an escalation level notifies nobody",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}

#[test]
fn the_recovery_watch_and_the_quiet_period_are_settings_of_the_plan() {
    let preset = presets::THREE_TIER.source;
    let plan = Plan::parse(preset).unwrap();
    assert_eq!(plan.recovery().watch_seconds, Some(72 * 3600));
    assert_eq!(plan.recovery().sensitivity, 2);
    let shorter = preset
        .replace("watch = \"72h\"", "watch = \"48h\"")
        .replace("sensitivity = 2", "sensitivity = 4");
    let plan = Plan::parse(&format!("{shorter}\n[detection]\nquiet_period = \"10m\"\n")).unwrap();
    assert_eq!(plan.recovery().watch_seconds, Some(48 * 3600));
    assert_eq!(plan.recovery().sensitivity, 4);
    assert_eq!(plan.detection().quiet_period_seconds, Some(600));
    let bad = preset
        .replace("watch = \"72h\"", "watch = \"2 business days\"")
        .replace("sensitivity = 2", "sensitivity = 50");
    let e = Plan::parse(&bad).unwrap_err();
    let messages: Vec<&str> = e.problems.iter().map(|p| p.message.as_str()).collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("watch in [recovery] must be an exact span")),
        "{messages:?}"
    );
    assert!(messages.iter().any(|m| m.contains("sensitivity")), "{messages:?}");
}

const ACTIONS: &str = r#"
[[action]]
id = "block-source"
name = "Block an address"
kind = "block"
step = "contain"
[action.approval]
needs = 1
valid_for = "30m"
except_rules = true

[[action]]
id = "revoke-token"
name = "Revoke a leaked API token"
kind = "http"
method = "delete"
url = "https://api.example.com/v1/tokens/{{ input.token }}"
headers = { Authorization = "Bearer {{ secret }}" }
secret_env = "EXAMPLE_API_TOKEN"
success = ["2xx", "404"]
capture = { revoked = "/id" }
idempotent = true
retries = 2
timeout = "15s"
step = "contain"
item = 1
[[action.input]]
name = "token"
type = "string"
description = "the token's id"
[action.approval]
needs = 2
two_people = true

[[action]]
id = "pause-app-agent"
name = "Pause an agent in the app"
kind = "webhook"
url = "https://app.example.com/hooks/tocsin"
secret_file = "/run/secrets/app-hook"
undo = "resume-app-agent"
undo_on_close = true
[[action.input]]
name = "agent"
type = "account"

[[action]]
id = "resume-app-agent"
name = "Resume an agent in the app"
kind = "webhook"
url = "https://app.example.com/hooks/tocsin"
secret_file = "/run/secrets/app-hook"
body = { action = "resume", agent = "{{ input.agent }}" }
[[action.input]]
name = "agent"
type = "account"

[[action]]
id = "rotate-keys"
name = "Rotate the vault keys"
kind = "command"
program = "/usr/local/bin/rotate-keys"
args = ["--reason", "{{ incident.id }}"]
"#;

#[test]
fn actions_are_read_with_their_inputs_approval_and_undo() {
    use tocsin_core::action::{ActionKind, Approver, InputKind, Undo};
    let plan = Plan::parse(&format!("{}\n{ACTIONS}", presets::FOUR_TIER.source)).unwrap();
    assert_eq!(plan.actions().len(), 11, "the preset's six and these five");
    let block = plan.action("block-source").unwrap();
    assert_eq!(block.kind.name(), "block");
    assert_eq!(
        block.inputs.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["address", "for", "reason"]
    );
    assert_eq!(block.undo, Some(Undo::Builtin));
    let approval = block.approval.as_ref().unwrap();
    assert!(approval.except_rules && approval.by.is_empty() && approval.valid_for_seconds == 1800);
    let revoke = plan.action("revoke-token").unwrap();
    let ActionKind::Http(call) = &revoke.kind else {
        panic!("http")
    };
    assert_eq!(call.method, "DELETE");
    assert_eq!(call.capture, [("revoked".to_owned(), "/id".to_owned())]);
    assert_eq!(
        revoke.step.as_ref().map(|(s, i)| (s.as_str(), *i)),
        Some(("contain", Some(1)))
    );
    assert_eq!((revoke.retries, revoke.timeout_seconds), (2, 15));
    assert!(revoke.approval.as_ref().unwrap().two_people);
    assert_eq!(revoke.inputs[0].kind, InputKind::String);
    let pause = plan.action("pause-app-agent").unwrap();
    assert!(pause.undo_on_close);
    assert!(matches!(&pause.undo, Some(Undo::Action(id)) if id.as_str() == "resume-app-agent"));
    assert!(matches!(
        plan.action("rotate-keys").unwrap().kind,
        ActionKind::Command(_)
    ));
    let _ = Approver::Person("jo".into());
}

#[test]
fn a_broken_action_is_refused_naming_each_problem() {
    let broken = format!(
        "{}\n{}",
        presets::FOUR_TIER.source,
        r#"
[[action]]
id = "a"
name = "A"
kind = "htp"

[[action]]
id = "b"
name = "B"
kind = "http"
url = "ftp://x/{{ input.tokn }}"
retries = 3
undo = "c"
step = "contian"
secret = "hunter2"
[[action.input]]
name = "token"
type = "strin"
[action.approval]
by = ["nobody"]

[[action]]
id = "w"
name = "W"
kind = "webhook"
url = "https://x"
"#
    );
    let text = rendered(&broken).join("\n");
    for says in [
        "unknown kind \"htp\" in action \"a\"",
        "did you mean \"http\"?",
        "url must start with https:// or http://",
        "uses {{ input.tokn }}, which it does not take",
        "is retried but not idempotent",
        "undo names no action \"c\"",
        "step \"contian\" of action \"b\" is not a step of the plan",
        "did you mean \"contain\"?",
        "a secret must not be written in the plan",
        "unknown input type \"strin\"",
        "\"nobody\" in the approval of action \"b\" is neither a role nor a person",
        "action \"w\" is a webhook, which is signed: it needs a secret",
    ] {
        assert!(text.contains(says), "missing {says:?} in:\n{text}");
    }
}

#[test]
fn a_rule_runs_an_action_of_the_plan_with_inputs_it_takes_and_the_signal_s_facts() {
    let source = format!(
        "{}\n{}",
        presets::FOUR_TIER.source,
        r#"
[[action]]
id = "block-source"
name = "Block"
kind = "block"

[[rule]]
detector = "brute_force"
action = "open"
run = [
  { action = "block-sourc", inputs = { address = "{{ signal.key }}" } },
  { action = "block-source", inputs = { adress = "{{ signal.key }}", for = "{{ signal.ip }}" } },
]
"#
    );
    let text = rendered(&source).join("\n");
    for says in [
        "runs \"block-sourc\", which is no action of the plan",
        "did you mean \"block-source\"?",
        "action block-source has no input \"adress\"",
        "did you mean \"address\"?",
        "unknown placeholder {{ signal.ip }}",
    ] {
        assert!(text.contains(says), "missing {says:?} in:\n{text}");
    }
    let good = Plan::parse(
        &source
            .replace("\"block-sourc\"", "\"block-source\"")
            .replace("adress =", "reason =")
            .replace("signal.ip", "signal.detector"),
    )
    .unwrap();
    let rule = good.rules().iter().find(|r| r.runs.len() == 2).unwrap();
    let signal = tocsin_core::signal::Signal {
        detector: DetectorId::BruteForce,
        key: "203.0.113.5".into(),
        at: jiff::Timestamp::UNIX_EPOCH,
        count: 6,
        first_at: jiff::Timestamp::UNIX_EPOCH,
        last_at: jiff::Timestamp::UNIX_EPOCH,
        samples: vec![],
        sources: vec![],
        accounts: vec![],
        summary: String::new(),
    };
    assert_eq!(rule.runs[0].inputs_for(&signal)["address"], "203.0.113.5");
    assert_eq!(rule.runs[1].inputs_for(&signal)["for"], "brute_force");
}

#[test]
fn a_notice_template_naming_an_unknown_field_or_missing_a_section_is_named() {
    let source = format!(
        r#"{}
[[channel]]
name = "ops-hook"
type = "webhook"
url = "https://hooks.example.com/x"
secret_env = "X"

[[notice]]
kind = "customers"
channel = "ops-hook"
approve_by = ["nobody"]
template = """
## What happened
{{{{ incident.sumary }}}}
"""

[[notice]]
kind = "authority"
template = """
## Nature of the breach
x
"""

[[notice]]
kind = "regulator"
template = "x"
"#,
        presets::FOUR_TIER
            .source
            .split("\n[[notice]]")
            .next()
            .unwrap()
            .rsplit_once("\n# Notices:")
            .unwrap()
            .0
    );
    let text = rendered(&source).join("\n");
    for says in [
        "\"nobody\" in approve_by of the notice customers is neither a role nor a person of the plan",
        "the notice customers goes to recipients by email, but channel \"ops-hook\" is a webhook channel",
        "the template of the notice customers: the template names an unknown field {{ incident.sumary }}; did you mean {{ incident.summary }}?",
        "the template of the notice authority has no section \"Contact point\", which the notice must have",
        "unknown notice kind \"regulator\"",
    ] {
        assert!(text.contains(says), "{says}\n{text}");
    }
}

#[test]
fn a_fallback_to_an_unknown_channel_or_to_itself_is_named() {
    let source = format!(
        r#"{}
[[channel]]
name = "oncall"
type = "webhook"
url = "https://hooks.example.com/x"
secret_env = "X"
fallback = "security-mial"
fallback_after = "0s"

[[channel]]
name = "security-mail"
type = "webhook"
url = "https://hooks.example.com/y"
secret_env = "Y"
fallback = "security-mail"
"#,
        presets::FOUR_TIER.source
    );
    let text = rendered(&source).join("\n");
    for says in [
        "channel \"oncall\" falls back to unknown channel \"security-mial\"",
        "did you mean \"security-mail\"?",
        "fallback_after in [[channel]]: duration \"0s\" must be longer than zero",
        "channel \"security-mail\" cannot fall back to itself",
    ] {
        assert!(text.contains(says), "{says}\n{text}");
    }
}

#[test]
fn a_slack_app_without_its_signing_secret_or_with_a_bad_channel_id_is_named() {
    let source = format!(
        r##"{}
[[channel]]
name = "incident-room"
type = "slack-app"
chat = "#incidents"
secret_env = "TOCSIN_SLACK_BOT_TOKEN"

[[channel]]
name = "hook"
type = "webhook"
url = "https://hooks.example.com/x"
secret_env = "X"
signing_secret_env = "Y"
"##,
        presets::FOUR_TIER.source
    );
    let text = rendered(&source).join("\n");
    for says in [
        "\"#incidents\" is not a Slack channel id",
        "a slack-app [[channel]] needs its signing secret",
        "a signing secret is for slack-app channels, not webhook ones",
    ] {
        assert!(text.contains(says), "{says}\n{text}");
    }
}

#[test]
fn probes_of_every_kind_are_read_and_their_mistakes_named() {
    let good = format!(
        r#"{}
[[probe]]
id = "api-health"
name = "API health"
kind = "http"
url = "https://api.example.com/health"
status = ["200", "204"]
json_pointer = "/status"
json_equals = "ok"
max_latency = "2s"
cert_days = 14
interval = "60s"
down_after = 3

[[probe]]
id = "db-port"
name = "Database port"
kind = "tcp"
target = "db.example.com:5432"
severity = "P1"

[[probe]]
id = "db"
name = "Database"
kind = "postgres"
secret_env = "TOCSIN_PROBE_DATABASE_URL"

[[probe]]
id = "dns"
name = "API address"
kind = "dns"
record_name = "api.example.com"
record = "aaaa"
expect = ["2001:db8::7"]
"#,
        presets::FOUR_TIER.source
    );
    let plan = Plan::parse(&good).unwrap_or_else(|e| panic!("{}", e.render("tocsin.toml", &good)));
    let probes = plan.probes();
    assert_eq!(probes.len(), 4);
    assert_eq!(
        (
            probes[0].interval_seconds,
            probes[0].down_after,
            probes[0].up_after,
            probes[0].max_latency_ms
        ),
        (60, 3, 1, Some(2000))
    );
    assert_eq!(
        probes[1].interval_seconds, 900,
        "15 minutes by default, as the four-tier plan says"
    );
    assert!(matches!(&probes[3].kind, tocsin_core::plan::ProbeKind::Dns { record, .. } if record == "AAAA"));
    assert_eq!(
        probes[1].severity.as_ref().map(tocsin_core::id::SeverityId::as_str),
        Some("P1")
    );
    assert_eq!(probes[0].severity, None, "the rule for probe, or tocsin's default");

    let bad = format!(
        r#"{}
[[probe]]
id = "a"
name = "A"
kind = "http"
url = "ftp://x"
status = ["2x"]
json_pointer = "status"
json_equals = "ok"
interval = "5s"

[[probe]]
id = "b"
name = "B"
kind = "tcp"
target = "db.example.com"

[[probe]]
id = "c"
name = "C"
kind = "postgres"
ca = "/etc/ssl/private-ca.pem"
severity = "P9"

[[probe]]
id = "d"
name = "D"
kind = "ping"
service = "nowhere"

[[probe]]
id = "e"
name = "E"
kind = "dns"
record_name = "example.com"
server = "dns.example.com"
"#,
        presets::FOUR_TIER.source
    );
    let text = rendered(&bad).join("\n");
    for says in [
        "url \"ftp://x\" of probe a is not http or https",
        "\"2x\" is not a status or a class like 2xx",
        "json_pointer \"status\" of probe a does not start with /",
        "interval of probe a must be an exact span of 10 seconds or more",
        "target \"db.example.com\" of probe b is not host:port",
        "probe c (postgres) needs its connection URL as a secret",
        "unknown probe kind \"ping\"",
        "probe d watches unknown service \"nowhere\"",
        "probe c is a postgres probe: only http and tls probes take ca",
        "probe c refers to unknown severity \"P9\"",
        "server \"dns.example.com\" of probe e is not ip:port",
    ] {
        assert!(text.contains(says), "{says}\n{text}");
    }
}
