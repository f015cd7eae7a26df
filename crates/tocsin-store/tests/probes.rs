//! The probes' status and rollups: status replaced per probe, runs added to the hour and
//! the day they fall in, old rollups and dropped probes expired; on both backends.

use jiff::{SignedDuration, Timestamp};
use tocsin_core::probe::Standing;
use tocsin_store::probes::{LastRun, ProbeStatus, Rollup, Span};
use tocsin_store::testing::TestDb;

fn status(probe: &str, up: bool, at: Timestamp, latency_ms: u64) -> ProbeStatus {
    ProbeStatus {
        probe: probe.into(),
        standing: Standing {
            up,
            since: Some(at),
            fails: u32::from(!up),
            oks: u32::from(up),
        },
        last: LastRun {
            at,
            ok: up,
            latency_ms,
            detail: "HTTP 200".into(),
            error: (!up).then(|| "HTTP 503 is not an expected status".to_owned()),
        },
    }
}

fn rollup(probe: &str, span: Span, at: Timestamp, runs: u64, ok: u64, latency: u64) -> Rollup {
    Rollup {
        probe: probe.into(),
        span,
        start: span.start_of(at),
        runs,
        ok,
        latency_sum_ms: latency * runs,
        latency_max_ms: latency,
    }
}

#[tokio::test]
async fn runs_add_up_by_the_hour_and_the_day_and_status_is_replaced() {
    for db in TestDb::all().await {
        let store = db.open().await;
        let t0: Timestamp = "2026-12-04T10:20:00Z".parse().unwrap();
        store
            .save_probe_runs(
                &[status("api", true, t0, 12), status("db", true, t0, 3)],
                &[
                    rollup("api", Span::Hour, t0, 2, 2, 12),
                    rollup("api", Span::Day, t0, 2, 2, 12),
                ],
            )
            .await
            .unwrap();
        let t1 = t0 + SignedDuration::from_mins(50);
        store
            .save_probe_runs(
                &[status("api", false, t1, 40)],
                &[
                    rollup("api", Span::Hour, t1, 2, 1, 40),
                    rollup("api", Span::Day, t1, 2, 1, 40),
                ],
            )
            .await
            .unwrap();
        let all = store.probe_status().await.unwrap();
        assert_eq!(all.len(), 2, "{}", db.backend);
        assert_eq!(all[0], status("api", false, t1, 40), "{}", db.backend);
        let hours = store
            .probe_rollups("api", Span::Hour, t0 - SignedDuration::from_hours(48))
            .await
            .unwrap();
        assert_eq!(hours.len(), 2, "10:00 and 11:00: {hours:?}");
        assert_eq!((hours[0].runs, hours[0].ok), (2, 2));
        assert_eq!((hours[1].runs, hours[1].ok, hours[1].latency_max_ms), (2, 1, 40));
        let days = store
            .probe_rollups("api", Span::Day, t0 - SignedDuration::from_hours(48))
            .await
            .unwrap();
        assert_eq!(days.len(), 1);
        let day = &days[0];
        assert_eq!(
            (day.runs, day.ok, day.latency_sum_ms, day.latency_max_ms, day.start),
            (4, 3, 104, 40, "2026-12-04T00:00:00Z".parse().unwrap())
        );
        assert_eq!(day.availability(), 0.75);
        assert_eq!(day.latency_mean_ms(), 26);

        let totals = store
            .probe_totals(Span::Hour, t0 - SignedDuration::from_hours(24))
            .await
            .unwrap();
        assert_eq!(totals, [("api".to_owned(), 4, 3, 104)], "{}", db.backend);

        // The hours before 11:00 go; "db" left the plan.
        let gone = store
            .expire_probe_data(Span::Hour, "2026-12-04T11:00:00Z".parse().unwrap(), &["api".to_owned()])
            .await
            .unwrap();
        assert_eq!(gone, 2, "{}", db.backend);
        let all = store.probe_status().await.unwrap();
        assert_eq!(all.iter().map(|s| s.probe.as_str()).collect::<Vec<_>>(), ["api"]);
        let hours = store
            .probe_rollups("api", Span::Hour, t0 - SignedDuration::from_hours(48))
            .await
            .unwrap();
        assert_eq!(hours.len(), 1);
    }
}
