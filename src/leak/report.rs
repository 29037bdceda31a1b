//! A tracker's findings: [`Report`] (what a check found), its [`Level`], and the
//! [`CheckSummary`] of every check; `LAST_CHECK` keeps the latest for `/debug/leaks`.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use crate::diag::dump::{self, Dump};
use crate::leak::TrackedRegion;

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

/// What a check found: from [`Tracker::check_now`](crate::leak::Tracker::check_now) and the report callback.
#[derive(Clone, Debug)]
pub struct Report {
    pub(crate) level: Level,
    pub(crate) at: SystemTime,
    pub(crate) count: usize,
    pub(crate) baseline: usize,
    pub(crate) initial_baseline: usize,
    pub(crate) leak_threshold: usize,
    pub(crate) max_goroutines: usize,
    pub(crate) dump: Dump,
    pub(crate) full_dump: bool,
    pub(crate) overdue: Vec<TrackedRegion>,
    pub(crate) tracked_age_limit: Duration,
    pub(crate) hogs: Vec<crate::HogReport>,
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

/// What the last check saw, whether or not it reported: from [`Tracker::last_check`](crate::leak::Tracker::last_check).
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
