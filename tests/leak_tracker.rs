//! The leak tracker (the user's `GoroutineTracker`): thresholds, the adaptive baseline, the
//! monitor goroutine, tracked regions, ignore lists and report contents.
//!
//! The tracker counts every goroutine of the process, so these tests run one at a time
//! (`support::serial`) and each frees the goroutines it leaks before it ends.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use gort::leak::{self, Baseline, IgnoreList, Level, Report, Tracker, TrackerConfig};
use gort::{go, JoinHandle};

/// `n` goroutines named `name` that live until `release` is set.
fn leak_n(n: usize, name: &str, release: &Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let r = release.clone();
            go!(gort::Builder::new().name(name), move || {
                while !r.load(Ordering::Acquire) {
                    gort::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect()
}

fn free(release: &Arc<AtomicBool>, handles: Vec<JoinHandle<()>>) {
    release.store(true, Ordering::Release);
    handles.into_iter().for_each(|h| h.join().unwrap());
}

/// A config whose reports are collected instead of printed.
fn collecting(config: TrackerConfig) -> (TrackerConfig, Arc<Mutex<Vec<Report>>>) {
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = reports.clone();
    (
        config.on_report(move |r| sink.lock().unwrap().push(r.clone())),
        reports,
    )
}

#[test]
fn a_leak_over_the_threshold_is_a_warning_with_the_dump() {
    let _serial = support::serial();
    let (config, reports) = collecting(
        TrackerConfig::new()
            .leak_threshold(10)
            .baseline(Baseline::Fixed),
    );
    let tracker = Tracker::new(config);
    let baseline = tracker.initial_baseline();
    assert_eq!(tracker.check_now().map(|r| r.level()), None);
    let release = Arc::new(AtomicBool::new(false));
    let leaked = leak_n(20, "leaky-worker", &release);
    let report = tracker.check_now().expect("20 over a threshold of 10");
    assert_eq!(report.level(), Level::Warning);
    assert!(report.is_leak() && !report.is_over_max());
    assert_eq!(report.count(), baseline + 20);
    assert_eq!(report.baseline(), baseline);
    let group = report
        .dump()
        .groups()
        .iter()
        .filter(|g| g.name() == Some("leaky-worker"))
        .map(|g| g.count())
        .sum::<usize>();
    assert_eq!(group, 20);
    let text = report.to_string();
    assert!(
        text.contains("WARNING") && text.contains("20 goroutines over the baseline"),
        "{text}"
    );
    assert!(text.contains("(leaky-worker)"), "{text}");
    assert_eq!(reports.lock().unwrap().len(), 1);
    assert_eq!(tracker.last_report().unwrap().count(), report.count());
    free(&release, leaked);
    assert!(tracker.check_now().is_none());
    assert_eq!(tracker.last_check().unwrap().count, baseline);
}

#[test]
fn over_max_goroutines_is_critical() {
    let _serial = support::serial();
    let probe = Tracker::new(TrackerConfig::new());
    let now = probe.initial_baseline();
    let (config, reports) = collecting(
        TrackerConfig::new()
            .leak_threshold(1_000)
            .max_goroutines(now + 5),
    );
    let tracker = Tracker::new(config);
    let release = Arc::new(AtomicBool::new(false));
    let leaked = leak_n(10, "too-many", &release);
    let report = tracker.check_now().unwrap();
    assert_eq!(report.level(), Level::Critical);
    assert!(report.is_over_max() && !report.is_leak());
    assert!(report.to_string().contains("CRITICAL"));
    assert_eq!(reports.lock().unwrap()[0].level(), Level::Critical);
    free(&release, leaked);
}

#[test]
fn the_moving_floor_adopts_a_new_normal_and_a_fixed_baseline_does_not() {
    let _serial = support::serial();
    let window = Duration::from_millis(150);
    let adaptive = Tracker::new(
        collecting(
            TrackerConfig::new()
                .leak_threshold(10)
                .baseline(Baseline::MovingFloor { window }),
        )
        .0,
    );
    let fixed = Tracker::new(
        collecting(
            TrackerConfig::new()
                .leak_threshold(10)
                .baseline(Baseline::Fixed),
        )
        .0,
    );
    let start = adaptive.initial_baseline();
    let release = Arc::new(AtomicBool::new(false));
    let level = leak_n(20, "new-normal", &release);
    // At first both see 20 over the baseline.
    assert!(adaptive.check_now().unwrap().is_leak());
    assert!(fixed.check_now().unwrap().is_leak());
    // Held for longer than the window (the coarse clock and this sleep are the subject of
    // the test: the floor moves with time), the new level becomes the moving baseline.
    std::thread::sleep(window + Duration::from_millis(50));
    assert!(adaptive.check_now().is_none());
    assert_eq!(adaptive.last_check().unwrap().baseline, start + 20);
    assert!(fixed.check_now().unwrap().is_leak());
    // A drop is adopted at once.
    free(&release, level);
    assert!(adaptive.check_now().is_none());
    assert_eq!(adaptive.last_check().unwrap().baseline, start);
}

#[test]
fn the_monitor_goroutine_reports_and_stops() {
    let _serial = support::serial();
    let (tx, rx) = mpsc::channel::<Report>();
    let tx = Mutex::new(tx);
    let tracker = Tracker::new(
        TrackerConfig::new()
            .check_interval(Duration::from_millis(10))
            .leak_threshold(5)
            .on_report(move |r| {
                let _ = tx.lock().unwrap().send(r.clone());
            }),
    );
    tracker.start();
    tracker.start(); // idempotent
    assert!(tracker.is_running());
    let release = Arc::new(AtomicBool::new(false));
    let leaked = leak_n(10, "found-by-monitor", &release);
    let report = rx.recv_timeout(Duration::from_secs(10)).expect("a report");
    assert!(report.is_leak());
    assert_eq!(
        report.count(),
        tracker.initial_baseline() + 10,
        "the monitor does not count itself"
    );
    tracker.stop();
    assert!(!tracker.is_running());
    assert!(!leak::snapshot()
        .iter()
        .any(|g| g.name() == Some("gort-leak-tracker")));
    free(&release, leaked);
}

#[test]
fn the_monitor_does_not_count_itself() {
    let _serial = support::serial();
    let tracker = Tracker::new(
        TrackerConfig::new()
            .check_interval(Duration::from_millis(2))
            .leak_threshold(0),
    );
    tracker.start();
    while tracker.last_check().map_or(0, |c| c.checks) < 5 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let last = tracker.last_check().unwrap();
    assert_eq!(last.count, tracker.initial_baseline());
    assert_eq!(last.level, None);
    assert!(tracker.last_report().is_none());
}

#[test]
fn tracked_regions_open_too_long_are_named() {
    let _serial = support::serial();
    let (config, _reports) = collecting(
        TrackerConfig::new()
            .leak_threshold(1_000)
            .tracked_age_limit(Duration::from_millis(20)),
    );
    let tracker = Tracker::new(config);
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let (opened_tx, opened_rx) = mpsc::channel();
    let syncer = go!(gort::Builder::new().name("syncer"), move || {
        let _region = leak::track("nightly-sync");
        opened_tx.send(()).unwrap();
        while !r.load(Ordering::Acquire) {
            gort::sleep(Duration::from_millis(2));
        }
    });
    opened_rx.recv().unwrap();
    // Younger than the limit: nothing to say.
    assert!(
        tracker.check_now().is_none() || tracker.check_now().unwrap().overdue_regions().is_empty()
    );
    std::thread::sleep(Duration::from_millis(40));
    let report = tracker.check_now().expect("an overdue region");
    assert_eq!(report.level(), Level::Warning);
    assert!(!report.is_leak());
    let region = report
        .overdue_regions()
        .iter()
        .find(|r| r.label() == "nightly-sync")
        .unwrap();
    assert_eq!(region.goroutine_id(), Some(syncer.id()));
    assert_eq!(region.goroutine_name(), Some("syncer"));
    assert!(region.age() >= Duration::from_millis(20));
    assert!(report.to_string().contains("\"nightly-sync\" in goroutine"));
    free(&release, vec![syncer]);
    assert!(tracker.check_now().is_none());
}

#[test]
fn ignored_goroutines_are_not_counted() {
    let _serial = support::serial();
    let tracker = Tracker::new(
        collecting(
            TrackerConfig::new()
                .leak_threshold(3)
                .ignore(IgnoreList::new().name("cache-*")),
        )
        .0,
    );
    let release = Arc::new(AtomicBool::new(false));
    let leaked = leak_n(10, "cache-refresher", &release);
    assert!(tracker.check_now().is_none());
    free(&release, leaked);
}

#[test]
fn without_stack_traces_a_report_keeps_the_largest_groups() {
    let _serial = support::serial();
    let tracker = Tracker::new(
        collecting(
            TrackerConfig::new()
                .leak_threshold(5)
                .stack_trace_on_leak(false)
                .top_groups(1),
        )
        .0,
    );
    let release = Arc::new(AtomicBool::new(false));
    let mut leaked = leak_n(12, "big-group", &release);
    leaked.extend(leak_n(3, "small-group", &release));
    let report = tracker.check_now().unwrap();
    assert_eq!(report.dump().groups().len(), 1);
    assert_eq!(report.dump().groups()[0].name(), Some("big-group"));
    assert!(report.to_string().contains("more groups"), "{report}");
    free(&release, leaked);
}

#[test]
fn many_overdue_regions_with_one_label_are_summarised() {
    let _serial = support::serial();
    let tracker = Tracker::new(
        collecting(
            TrackerConfig::new()
                .leak_threshold(1_000)
                .tracked_age_limit(Duration::from_millis(5)),
        )
        .0,
    );
    let regions: Vec<_> = (0..7).map(|_| leak::track("batch-import")).collect();
    std::thread::sleep(Duration::from_millis(20));
    let text = tracker.check_now().unwrap().to_string();
    assert!(
        text.contains("7 x \"batch-import\", the oldest open for"),
        "{text}"
    );
    assert!(text.contains("(in goroutines a thread, a thread"), "{text}");
    drop(regions);
}
