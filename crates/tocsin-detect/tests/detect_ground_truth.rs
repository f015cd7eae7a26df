//! The detectors against the generated log's ground truth.

mod common;

use std::collections::BTreeSet;

use tocsin_detect::detect::auth::{BruteForce, BruteForceConfig, Spray, SprayConfig};

fn flagged(events: &[tocsin_core::event::AuthEvent]) -> BTreeSet<String> {
    let mut detector = BruteForce::new(BruteForceConfig::default());
    let mut findings = Vec::new();
    for event in events {
        detector.event(event, &mut findings);
    }
    findings
        .iter()
        .filter(|f| f.detector == "brute_force")
        .map(|f| f.key.clone())
        .collect()
}

#[test]
fn brute_force_flags_exactly_the_sources_the_ground_truth_flags_from_the_log_and_from_ndjson() {
    let flagged = flagged(&common::attempts());
    assert_eq!(
        flagged,
        self::flagged(&common::ndjson_attempts()),
        "the two forms disagree"
    );
    let truth = common::truth();
    let expected: BTreeSet<String> = truth["ips"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| v["flagged"] == true)
        .map(|(ip, _)| ip.clone())
        .collect();
    assert_eq!(expected.len(), 7);
    assert_eq!(flagged, expected);
    // The boundary shapes: six spread over more than ten minutes, five within, four in a burst.
    for (ip, v) in truth["ips"].as_object().unwrap() {
        if v["label"].as_str().unwrap().starts_with("edge_") {
            assert_eq!(flagged.contains(ip), v["flagged"] == true, "{ip} ({})", v["label"]);
        }
    }
}

#[test]
fn spraying_finds_every_spray_campaign_and_no_benign_noise_or_botnet_source() {
    let mut spray = Spray::new(SprayConfig::default());
    let mut findings = Vec::new();
    for event in common::attempts() {
        spray.event(&event, &mut findings);
    }
    let truth = common::truth();
    let label = |ip: &str| truth["ips"][ip]["label"].as_str().unwrap().to_owned();
    let mut flagged_by_label = std::collections::BTreeMap::<String, usize>::new();
    for f in &findings {
        *flagged_by_label.entry(label(&f.key)).or_default() += 1;
    }
    assert_eq!(flagged_by_label.get("spray"), Some(&4), "{flagged_by_label:?}");
    for innocent in ["benign", "noise", "botnet"] {
        assert_eq!(flagged_by_label.get(innocent), None, "{flagged_by_label:?}");
    }
}
