//! The detectors against the generated log's ground truth.

mod common;

use std::collections::BTreeSet;

use tocsin_detect::detect::auth::{BruteForce, BruteForceConfig};

#[test]
fn brute_force_flags_exactly_the_sources_the_ground_truth_flags() {
    let mut detector = BruteForce::new(BruteForceConfig::default());
    let mut findings = Vec::new();
    for event in common::attempts() {
        detector.event(&event, &mut findings);
    }
    let flagged: BTreeSet<String> = findings
        .iter()
        .filter(|f| f.detector == "brute_force")
        .map(|f| f.key.clone())
        .collect();
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
