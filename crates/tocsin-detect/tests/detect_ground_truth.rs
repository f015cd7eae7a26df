//! The detectors against the generated log's ground truth.

mod common;

use std::collections::BTreeSet;

use tocsin_detect::detect::auth::{BruteForce, BruteForceConfig};

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
