//! The probes as pages: each probe's state, and one probe's latency and availability over
//! the last 48 hours drawn as SVG by the server (no script), with its days below.

use askama::Template;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use tocsin_core::Timestamp;

use super::{Layout, Signed, WebError, page};
use crate::http::auth::NeedRead;
use crate::http::error::ApiError;
use crate::phrases::time;
use crate::services::probes::{ProbeView, RollupView};

/// The chart's size in SVG units, and its plot area's margins.
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
/// Below the plot: the availability strip and the time labels.
const BOTTOM: f64 = 44.0;
const HOURS: usize = 48;

struct Row {
    probe: String,
    name: String,
    kind: String,
    target: String,
    state: String,
    since: String,
    last: String,
    availability: String,
}

fn row(p: &ProbeView, zone: &jiff::tz::TimeZone) -> Row {
    Row {
        probe: p.probe.clone(),
        name: p.name.clone(),
        kind: p.kind.clone(),
        target: p.target.clone(),
        state: p.state.clone(),
        since: p.since.map(|at| time(at, zone)).unwrap_or_default(),
        last: match (&p.last_run, &p.last_error, p.last_latency_ms) {
            (None, _, _) => "not run yet".to_owned(),
            (Some(at), Some(error), _) => format!("{}: {error}", time(*at, zone)),
            (Some(at), None, Some(ms)) => format!(
                "{}: {} in {ms} ms",
                time(*at, zone),
                p.last_detail.clone().unwrap_or_default()
            ),
            (Some(at), None, None) => time(*at, zone),
        },
        availability: p
            .availability_24h
            .map_or_else(|| "-".to_owned(), |a| format!("{:.2}%", a * 100.0)),
    }
}

#[derive(Template)]
#[template(path = "probes.html")]
struct ProbesPage {
    layout: Layout,
    rows: Vec<Row>,
    late_p99_ms: u32,
    runs: u64,
}

pub async fn list(Signed(allowed): Signed<NeedRead>) -> Result<Response, WebError> {
    let probes = allowed.probes().list().await.map_err(ApiError::from)?;
    let schedule = allowed.probes().timeliness();
    let plan = allowed.read().plan();
    let zone = plan.calendar().zone();
    Ok(page(
        StatusCode::OK,
        &ProbesPage {
            layout: Layout::new(&allowed, "Probes", "probes"),
            rows: probes.iter().map(|p| row(p, zone)).collect(),
            late_p99_ms: schedule.late_p99_ms,
            runs: schedule.runs,
        },
    ))
}

/// One hour's strip under the chart: where it is, its colour's class and what it says.
struct Strip {
    x: String,
    width: String,
    class: &'static str,
    title: String,
}

/// A tick on the latency axis.
struct Tick {
    y: String,
    label: String,
}

/// The chart: polylines of the mean and the largest latency per hour, their axis, and the
/// availability of each hour as a strip; only numbers and labels tocsin writes go in.
struct Chart {
    width: f64,
    height: f64,
    mean: String,
    max: String,
    ticks: Vec<Tick>,
    strips: Vec<Strip>,
    plot_left: f64,
    plot_right: f64,
    strip_y: f64,
    label_y: f64,
    summary: String,
}

/// A round top for the latency axis: 1, 2 or 5 times a power of ten, at least `ms`.
fn axis_top(ms: u64) -> u64 {
    let mut step = 1;
    loop {
        for factor in [1, 2, 5] {
            if step * factor >= ms.max(1) {
                return step * factor;
            }
        }
        step *= 10;
    }
}

fn chart(hours: &[RollupView], now: Timestamp) -> Chart {
    use tocsin_store::probes::Span;
    let first = Span::Hour.start_of(now) - jiff::SignedDuration::from_hours(HOURS as i64 - 1);
    let slot = |at: Timestamp| (at.duration_since(first).as_secs() / 3600) as usize;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let top = axis_top(hours.iter().map(|h| h.latency_max_ms).max().unwrap_or(0));
    let x = |i: usize| LEFT + plot_w * (i as f64 + 0.5) / HOURS as f64;
    let y = |ms: u64| TOP + plot_h * (1.0 - ms as f64 / top as f64);
    let mut in_range: Vec<(usize, &RollupView)> = hours
        .iter()
        .filter(|h| h.start >= first)
        .map(|h| (slot(h.start), h))
        .filter(|(i, _)| *i < HOURS)
        .collect();
    in_range.sort_by_key(|(i, _)| *i);
    let line = |pick: fn(&RollupView) -> u64| {
        in_range
            .iter()
            .map(|(i, h)| format!("{:.1},{:.1}", x(*i), y(pick(h))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let strip_y = HEIGHT - BOTTOM + 6.0;
    let strips = (0..HOURS)
        .map(|i| {
            let hour = in_range.iter().find(|(j, _)| *j == i).map(|(_, h)| *h);
            let start = first + jiff::SignedDuration::from_hours(i as i64);
            let (class, title) = match hour {
                None => ("none", format!("{}: no runs", start.strftime("%Y-%m-%d %H:00 UTC"))),
                Some(h) => (
                    if h.ok == h.runs {
                        "good"
                    } else if h.ok == 0 {
                        "bad"
                    } else {
                        "warn"
                    },
                    format!(
                        "{}: {} of {} runs passed ({:.2}%), mean {} ms, max {} ms",
                        start.strftime("%Y-%m-%d %H:00 UTC"),
                        h.ok,
                        h.runs,
                        h.availability * 100.0,
                        h.latency_mean_ms,
                        h.latency_max_ms
                    ),
                ),
            };
            Strip {
                x: format!("{:.1}", LEFT + plot_w * i as f64 / HOURS as f64),
                width: format!("{:.1}", plot_w / HOURS as f64 - 1.0),
                class,
                title,
            }
        })
        .collect();
    let ticks = [0, top / 2, top]
        .into_iter()
        .map(|ms| Tick {
            y: format!("{:.1}", y(ms)),
            label: format!("{ms} ms"),
        })
        .collect();
    let (runs, ok) = in_range.iter().fold((0, 0), |(r, o), (_, h)| (r + h.runs, o + h.ok));
    let summary = if runs == 0 {
        "No runs in the last 48 hours.".to_owned()
    } else {
        format!(
            "Last 48 hours: {ok} of {runs} runs passed ({:.2}%); the slowest hour's largest latency was {} ms.",
            ok as f64 * 100.0 / runs as f64,
            in_range.iter().map(|(_, h)| h.latency_max_ms).max().unwrap_or(0)
        )
    };
    Chart {
        width: WIDTH,
        height: HEIGHT,
        mean: line(|h| h.latency_mean_ms),
        max: line(|h| h.latency_max_ms),
        ticks,
        strips,
        plot_left: LEFT,
        plot_right: WIDTH - RIGHT,
        strip_y,
        label_y: HEIGHT - 8.0,
        summary,
    }
}

struct Day {
    day: String,
    runs: u64,
    ok: u64,
    availability: String,
    mean: u64,
    max: u64,
}

#[derive(Template)]
#[template(path = "probe.html")]
struct ProbePage {
    layout: Layout,
    probe: Row,
    interval: String,
    chart: Chart,
    days: Vec<Day>,
}

pub async fn show(Signed(allowed): Signed<NeedRead>, Path(id): Path<String>) -> Result<Response, WebError> {
    let Some(history) = allowed.probes().history(&id).await.map_err(ApiError::from)? else {
        return Err(ApiError::not_found(format!("the plan in force has no probe \"{id}\"")).into());
    };
    let plan = allowed.read().plan();
    let zone = plan.calendar().zone();
    let days = history
        .days
        .iter()
        .rev()
        .map(|d| Day {
            day: d.start.strftime("%Y-%m-%d").to_string(),
            runs: d.runs,
            ok: d.ok,
            availability: format!("{:.2}%", d.availability * 100.0),
            mean: d.latency_mean_ms,
            max: d.latency_max_ms,
        })
        .collect();
    Ok(page(
        StatusCode::OK,
        &ProbePage {
            layout: Layout::new(&allowed, format!("Probe {}", history.probe.name), "probes"),
            interval: format!("every {} s", history.probe.interval_seconds),
            probe: row(&history.probe, zone),
            chart: chart(&history.hours, Timestamp::now()),
            days,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latency_axis_ends_on_a_round_number() {
        assert_eq!(
            [0, 1, 3, 7, 12, 180, 201, 4_999].map(axis_top),
            [1, 1, 5, 10, 20, 200, 500, 5_000]
        );
    }
}
