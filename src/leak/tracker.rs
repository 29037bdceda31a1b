//! `Tracker`: the user's `GoroutineTracker`, built on gort's registry.
//!
//! A baseline is taken when the tracker is created; `start()` runs a monitor goroutine that
//! every `check_interval` counts the live goroutines and compares the count with the baseline
//! (fixed, or the moving floor of `baseline.rs`). Over `baseline + leak_threshold` is a
//! warning, over `max_goroutines` critical; tracked regions (`track.rs`) open longer than
//! `tracked_age_limit` are reported too. A report carries the count, the baseline, the
//! largest groups of the goroutine dump (where the leaked goroutines were spawned and what
//! they wait on: the root-cause help the user's document asks for) and, with
//! `stack_trace_on_leak`, the whole dump with spawn backtraces.
//!
//! # The monitor goroutine
//! It parks until its next check or until `stop()` wakes it. `stop` sets `stopping`, then
//! takes the monitor's unparker from `monitor.unparker` under its lock; the monitor stores its
//! unparker under that lock before it first reads `stopping`. Whichever of the two takes the
//! lock second sees the other's write (the mutex orders them), so a stop is never missed.
//! The monitor does not count itself.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::diag::dump::{self, Dump};
use crate::leak::baseline::{Baseline, BaselineState};
use crate::leak::snapshot::snapshot_filtered;
use crate::leak::{track, IgnoreList, TrackedRegion};
use crate::runtime::g::WaitReason;
use crate::runtime::park::{park_until, Unparker};
use crate::runtime::sched::lock;
use crate::JoinHandle;

/// A report callback.
pub type Reporter = Arc<dyn Fn(&Report) + Send + Sync>;

/// How serious a [`Report`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// More goroutines than `baseline + leak_threshold`, or tracked regions open too long.
    Warning,
    /// More goroutines than `max_goroutines`.
    Critical,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        })
    }
}

/// The [`Tracker`]'s settings (the user's `goroutine_tracking` section).
///
/// ```
/// use std::time::Duration;
/// use gort::leak::{Baseline, TrackerConfig};
/// let config = TrackerConfig::new()
///     .check_interval(Duration::from_secs(30))
///     .leak_threshold(100)
///     .max_goroutines(10_000)
///     .stack_trace_on_leak(true)
///     .baseline(Baseline::MovingFloor { window: Duration::from_secs(600) })
///     .on_report(|report| eprintln!("{report}"));
/// ```
#[derive(Clone)]
pub struct TrackerConfig {
    check_interval: Duration,
    leak_threshold: usize,
    max_goroutines: usize,
    stack_trace_on_leak: bool,
    baseline: Baseline,
    tracked_age_limit: Duration,
    top_groups: usize,
    ignore: IgnoreList,
    reporter: Option<Reporter>,
}

impl fmt::Debug for TrackerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackerConfig")
            .field("check_interval", &self.check_interval)
            .field("leak_threshold", &self.leak_threshold)
            .field("max_goroutines", &self.max_goroutines)
            .field("stack_trace_on_leak", &self.stack_trace_on_leak)
            .field("baseline", &self.baseline)
            .field("tracked_age_limit", &self.tracked_age_limit)
            .field("top_groups", &self.top_groups)
            .field("ignore", &self.ignore)
            .field("reporter", &self.reporter.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Default for TrackerConfig {
    fn default() -> TrackerConfig {
        TrackerConfig {
            check_interval: Duration::from_secs(30),
            leak_threshold: 100,
            max_goroutines: 10_000,
            stack_trace_on_leak: true,
            baseline: Baseline::default(),
            tracked_age_limit: Duration::from_secs(5 * 60),
            top_groups: 5,
            ignore: IgnoreList::new(),
            reporter: None,
        }
    }
}

impl TrackerConfig {
    /// Defaults: check every 30 s, warn 100 over the baseline, critical over 10,000, full
    /// dump on a leak, a 15-minute moving-floor baseline, tracked regions older than 5
    /// minutes reported, 5 groups in a report, reports to stderr (or `log` with its feature).
    pub fn new() -> TrackerConfig {
        TrackerConfig::default()
    }

    /// How often the monitor checks.
    pub fn check_interval(mut self, d: Duration) -> TrackerConfig {
        self.check_interval = d;
        self
    }

    /// How many goroutines over the baseline make a warning.
    pub fn leak_threshold(mut self, n: usize) -> TrackerConfig {
        self.leak_threshold = n;
        self
    }

    /// Above this many goroutines a report is critical, whatever the baseline.
    pub fn max_goroutines(mut self, n: usize) -> TrackerConfig {
        self.max_goroutines = n;
        self
    }

    /// Whether a report carries the whole goroutine dump (with spawn backtraces when they
    /// are captured: `GORT_TRACEBACK=spawn`) rather than only its largest groups.
    pub fn stack_trace_on_leak(mut self, on: bool) -> TrackerConfig {
        self.stack_trace_on_leak = on;
        self
    }

    /// Fixed or adaptive baseline (see [`Baseline`]).
    pub fn baseline(mut self, baseline: Baseline) -> TrackerConfig {
        self.baseline = baseline;
        self
    }

    /// Tracked regions ([`track`](crate::leak::track)) open longer than this are reported.
    pub fn tracked_age_limit(mut self, d: Duration) -> TrackerConfig {
        self.tracked_age_limit = d;
        self
    }

    /// How many of the dump's largest groups a report shows.
    pub fn top_groups(mut self, n: usize) -> TrackerConfig {
        self.top_groups = n;
        self
    }

    /// Goroutines the tracker does not count.
    pub fn ignore(mut self, ignore: IgnoreList) -> TrackerConfig {
        self.ignore = ignore;
        self
    }

    /// Where reports go (instead of stderr or `log`).
    pub fn on_report(mut self, f: impl Fn(&Report) + Send + Sync + 'static) -> TrackerConfig {
        self.reporter = Some(Arc::new(f));
        self
    }
}

/// What a check found: from [`Tracker::check_now`] and the report callback.
#[derive(Clone, Debug)]
pub struct Report {
    level: Level,
    at: SystemTime,
    count: usize,
    baseline: usize,
    initial_baseline: usize,
    leak_threshold: usize,
    max_goroutines: usize,
    dump: Dump,
    full_dump: bool,
    overdue: Vec<TrackedRegion>,
    tracked_age_limit: Duration,
    hogs: Vec<crate::HogReport>,
}

impl Report {
    /// Warning or critical.
    pub fn level(&self) -> Level {
        self.level
    }

    /// When the check ran.
    pub fn at(&self) -> SystemTime {
        self.at
    }

    /// Live goroutines counted (ignored ones and the monitor excluded).
    pub fn count(&self) -> usize {
        self.count
    }

    /// The baseline the count was judged against.
    pub fn baseline(&self) -> usize {
        self.baseline
    }

    /// The baseline when the tracker was created (shows how far an adaptive one drifted).
    pub fn initial_baseline(&self) -> usize {
        self.initial_baseline
    }

    /// Whether the count is over `baseline + leak_threshold`.
    pub fn is_leak(&self) -> bool {
        self.count > self.baseline + self.leak_threshold
    }

    /// Whether the count is over `max_goroutines`.
    pub fn is_over_max(&self) -> bool {
        self.count > self.max_goroutines
    }

    /// The goroutine dump: its largest groups, or all of it with `stack_trace_on_leak`.
    pub fn dump(&self) -> &Dump {
        &self.dump
    }

    /// Tracked regions open longer than the limit, oldest first.
    pub fn overdue_regions(&self) -> &[TrackedRegion] {
        &self.overdue
    }

    /// Goroutines sysmon caught running over 10 ms without a runtime call since the previous
    /// check (the newest 64 at most; see [`crate::hogs`]). They do not make a report on their
    /// own, but a hog on a P delays every goroutine queued there.
    pub fn hogs(&self) -> &[crate::HogReport] {
        &self.hogs
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gort leak tracker: {}: {} goroutines, baseline {} (threshold {}, max {}, baseline at start {})",
            self.level,
            dump::format_count(self.count),
            dump::format_count(self.baseline),
            dump::format_count(self.leak_threshold),
            dump::format_count(self.max_goroutines),
            dump::format_count(self.initial_baseline),
        )?;
        if self.is_over_max() {
            write!(
                f,
                "\n  over the maximum of {} goroutines",
                dump::format_count(self.max_goroutines)
            )?;
        }
        if self.is_leak() {
            write!(
                f,
                "\n  {} goroutines over the baseline",
                dump::format_count(self.count - self.baseline)
            )?;
        }
        if !self.overdue.is_empty() {
            write!(
                f,
                "\n  tracked regions open longer than {}:",
                dump::format_duration(self.tracked_age_limit)
            )?;
            write_regions(f, &self.overdue)?;
        }
        if !self.hogs.is_empty() {
            f.write_str("\n  hogs since the last check:")?;
            for hog in &self.hogs {
                write!(f, "\n    {}", dump::describe_hog(hog))?;
            }
        }
        if self.is_leak() || self.is_over_max() {
            let what = if self.full_dump {
                "dump"
            } else {
                "largest groups"
            };
            write!(f, "\n{what}:\n{}", self.dump)?;
        }
        Ok(())
    }
}

/// What the last check saw, whether or not it reported: from [`Tracker::last_check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckSummary {
    /// When it ran.
    pub at: SystemTime,
    /// Goroutines counted.
    pub count: usize,
    /// The baseline they were judged against.
    pub baseline: usize,
    /// The report's level, if it reported.
    pub level: Option<Level>,
    /// How many checks this tracker has run (this one included).
    pub checks: u64,
}

/// Overdue regions, one per line; regions sharing a label are summarised on one line once
/// there are more than a few.
fn write_regions(f: &mut fmt::Formatter<'_>, regions: &[TrackedRegion]) -> fmt::Result {
    const LISTED: usize = 5;
    if regions.len() <= LISTED {
        for region in regions {
            write!(f, "\n    {region}")?;
        }
        return Ok(());
    }
    // Oldest first (as given); a label's line shows its oldest region and first goroutines.
    let mut labels: Vec<(&str, Vec<&TrackedRegion>)> = Vec::new();
    for region in regions {
        match labels
            .iter_mut()
            .find(|(label, _)| *label == region.label())
        {
            Some((_, members)) => members.push(region),
            None => labels.push((region.label(), vec![region])),
        }
    }
    for (label, members) in labels {
        let ids: Vec<String> = members
            .iter()
            .take(LISTED)
            .map(|r| {
                r.goroutine_id()
                    .map_or("a thread".to_owned(), |id| id.to_string())
            })
            .collect();
        write!(
            f,
            "\n    {} x {label:?}, the oldest open for {} (in goroutines {}{})",
            members.len(),
            dump::format_duration(members[0].age()),
            ids.join(", "),
            if members.len() > LISTED { ", …" } else { "" }
        )?;
    }
    Ok(())
}

/// The result of the most recent check of any tracker, for `/debug/leaks`.
pub(crate) struct LastCheck {
    pub(crate) summary: CheckSummary,
    pub(crate) report: Option<Report>,
}

pub(crate) static LAST_CHECK: Mutex<Option<LastCheck>> = Mutex::new(None);

struct Monitor {
    handle: Option<JoinHandle<()>>,
    unparker: Option<Unparker>,
}

struct Inner {
    config: TrackerConfig,
    baseline: Mutex<BaselineState>,
    last_report: Mutex<Option<Report>>,
    last_check: Mutex<Option<CheckSummary>>,
    stopping: AtomicBool,
    monitor: Mutex<Monitor>,
    /// The monitor goroutine's id while it runs (0: none), so it does not count itself.
    monitor_id: AtomicU64,
    /// `gort::hogs()`'s total at the previous check.
    hogs_seen: AtomicU64,
}

/// The goroutine leak tracker (the user's `GoroutineTracker`): a baseline, a monitor
/// goroutine checking at an interval, warnings over a threshold, critical alerts over a
/// maximum, and the goroutine dump in every report. Dropping it stops the monitor.
///
/// ```
/// use gort::leak::{Tracker, TrackerConfig};
/// use std::sync::{Arc, Mutex};
///
/// let reports = Arc::new(Mutex::new(Vec::new()));
/// let sink = reports.clone();
/// let tracker = Tracker::new(
///     TrackerConfig::new()
///         .leak_threshold(5)
///         .on_report(move |r| sink.lock().unwrap().push(r.count())),
/// );
/// // Leak ten goroutines (they sleep for an hour), then check.
/// for _ in 0..10 {
///     gort::go!(|| gort::sleep(std::time::Duration::from_secs(3600)));
/// }
/// let report = tracker.check_now().expect("ten over a baseline with threshold 5");
/// assert!(report.is_leak());
/// assert!(report.dump().total() >= 10);
/// assert_eq!(reports.lock().unwrap().len(), 1);
/// ```
pub struct Tracker {
    inner: Arc<Inner>,
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker")
            .field("config", &self.inner.config)
            .field("running", &self.is_running())
            .finish()
    }
}

impl Tracker {
    /// Creates a tracker and takes its baseline: the goroutines alive now.
    pub fn new(config: TrackerConfig) -> Tracker {
        let initial = count_now(&config.ignore, 0);
        let baseline = BaselineState::new(config.baseline, initial, Instant::now());
        Tracker {
            inner: Arc::new(Inner {
                config,
                baseline: Mutex::new(baseline),
                last_report: Mutex::new(None),
                last_check: Mutex::new(None),
                stopping: AtomicBool::new(false),
                monitor: Mutex::new(Monitor {
                    handle: None,
                    unparker: None,
                }),
                monitor_id: AtomicU64::new(0),
                hogs_seen: AtomicU64::new(crate::hogs().1),
            }),
        }
    }

    /// Starts the monitor goroutine (named `gort-leak-tracker`); does nothing if it runs.
    pub fn start(&self) {
        let mut monitor = lock(&self.inner.monitor);
        if monitor.handle.is_some() {
            return;
        }
        self.inner.stopping.store(false, Ordering::Relaxed);
        let inner = self.inner.clone();
        let handle = crate::Builder::new()
            .name("gort-leak-tracker")
            .spawn(move || monitor_loop(&inner))
            .expect("the default stack size is valid");
        self.inner.monitor_id.store(handle.id(), Ordering::Relaxed);
        monitor.handle = Some(handle);
    }

    /// Stops the monitor goroutine and waits for it to end.
    pub fn stop(&self) {
        self.inner.stopping.store(true, Ordering::Relaxed);
        let (handle, unparker) = {
            let mut monitor = lock(&self.inner.monitor);
            (monitor.handle.take(), monitor.unparker.take())
        };
        if let Some(unparker) = unparker {
            unparker.unpark();
        }
        if let Some(handle) = handle {
            let _ = handle.join();
        }
        self.inner.monitor_id.store(0, Ordering::Relaxed);
    }

    /// Whether the monitor goroutine runs.
    pub fn is_running(&self) -> bool {
        lock(&self.inner.monitor).handle.is_some()
    }

    /// Checks now (on the caller), sends a report to the callback if there is something to
    /// report, and returns it.
    pub fn check_now(&self) -> Option<Report> {
        self.inner.check()
    }

    /// The most recent report (`None` if no check found anything yet).
    pub fn last_report(&self) -> Option<Report> {
        lock(&self.inner.last_report).clone()
    }

    /// What the most recent check saw (`None` before the first).
    pub fn last_check(&self) -> Option<CheckSummary> {
        *lock(&self.inner.last_check)
    }

    /// The baseline at creation.
    pub fn initial_baseline(&self) -> usize {
        lock(&self.inner.baseline).initial()
    }
}

impl Drop for Tracker {
    /// Stops the monitor goroutine (share a tracker with an `Arc` to keep it running).
    fn drop(&mut self) {
        self.stop();
    }
}

/// Live goroutines, minus the ignored ones and the monitor `monitor_id` (0: none running).
fn count_now(ignore: &IgnoreList, monitor_id: u64) -> usize {
    if ignore.is_empty() {
        crate::num_goroutines().saturating_sub(usize::from(monitor_id != 0))
    } else {
        snapshot_filtered(|g| g.id() != monitor_id && !ignore.matches(g)).len()
    }
}

impl Inner {
    fn check(&self) -> Option<Report> {
        let config = &self.config;
        let monitor_id = self.monitor_id.load(Ordering::Relaxed);
        let count = count_now(&config.ignore, monitor_id);
        let at = Instant::now();
        let (baseline, initial) = {
            let mut state = lock(&self.baseline);
            (state.observe(count, at), state.initial())
        };
        let leak = count > baseline + config.leak_threshold;
        let over_max = count > config.max_goroutines;
        let overdue = track::older_than(config.tracked_age_limit);
        let (mut hogs, hogs_total) = crate::hogs();
        let new_hogs =
            hogs_total.saturating_sub(self.hogs_seen.swap(hogs_total, Ordering::Relaxed));
        hogs.drain(..hogs.len().saturating_sub(new_hogs as usize));
        let level = if over_max {
            Some(Level::Critical)
        } else if leak || !overdue.is_empty() {
            Some(Level::Warning)
        } else {
            None
        };
        let report = level.map(|level| {
            let mut dump = if leak || over_max {
                snapshot_filtered(|g| g.id() != monitor_id && !config.ignore.matches(g)).dump()
            } else {
                Dump::default()
            };
            if !config.stack_trace_on_leak {
                dump.truncate(config.top_groups);
            }
            Report {
                level,
                at: SystemTime::now(),
                count,
                baseline,
                initial_baseline: initial,
                leak_threshold: config.leak_threshold,
                max_goroutines: config.max_goroutines,
                dump,
                full_dump: config.stack_trace_on_leak,
                overdue,
                tracked_age_limit: config.tracked_age_limit,
                hogs,
            }
        });
        let summary = {
            let mut last = lock(&self.last_check);
            let summary = CheckSummary {
                at: SystemTime::now(),
                count,
                baseline,
                level,
                checks: last.map_or(0, |s| s.checks) + 1,
            };
            *last = Some(summary);
            summary
        };
        *lock(&LAST_CHECK) = Some(LastCheck {
            summary,
            report: report.clone(),
        });
        if let Some(report) = &report {
            *lock(&self.last_report) = Some(report.clone());
            match &config.reporter {
                Some(reporter) => reporter(report),
                None => default_reporter(report),
            }
        }
        report
    }
}

fn monitor_loop(inner: &Arc<Inner>) {
    lock(&inner.monitor).unparker = Some(Unparker::current());
    loop {
        let deadline = Instant::now() + inner.config.check_interval;
        while !inner.stopping.load(Ordering::Relaxed) && Instant::now() < deadline {
            park_until(WaitReason::Sleep, deadline);
        }
        if inner.stopping.load(Ordering::Relaxed) {
            return;
        }
        inner.check();
    }
}

/// Reports to `log` (warn or error) with the `log` feature, to stderr otherwise.
fn default_reporter(report: &Report) {
    #[cfg(feature = "log")]
    match report.level() {
        Level::Warning => log::warn!(target: "gort::leak", "{report}"),
        Level::Critical => log::error!(target: "gort::leak", "{report}"),
    }
    #[cfg(not(feature = "log"))]
    eprintln!("{report}");
}
