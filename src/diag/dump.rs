//! The goroutine dump: live goroutines grouped like Go's goroutine profile.
//!
//! Go groups goroutines by identical stack; gort has no stack walk of a parked coroutine, so
//! it groups by what the G header knows: spawn site, name and state (with the wait reason).
//! That is the question a leak hunt asks — "1,000 goroutines @ src/server.rs:42:9 (worker),
//! waiting on chan receive for 5m3s" — and it costs one pass over a snapshot. Largest groups
//! come first; a group shows the spawn backtrace of its longest-waiting member when spawn
//! backtraces were captured (`GORT_TRACEBACK=spawn`).

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::panic::Location;
use std::time::Duration;

use crate::leak::GoroutineInfo;
use crate::runtime::g::GState;

/// How many ids a group lists before "… (n more)".
const IDS_SHOWN: usize = 8;

/// Goroutines that share a spawn site, a name and a state: one line of a [`Dump`].
#[derive(Clone, Debug)]
pub struct DumpGroup {
    count: usize,
    state: GState,
    longest_in_state: Duration,
    shortest_in_state: Duration,
    oldest: Duration,
    ids: Vec<u64>,
    /// The member that has been in the state longest.
    sample: GoroutineInfo,
}

impl DumpGroup {
    fn new(g: &GoroutineInfo) -> DumpGroup {
        DumpGroup {
            count: 0,
            state: g.state(),
            longest_in_state: g.time_in_state(),
            shortest_in_state: g.time_in_state(),
            oldest: g.age(),
            ids: Vec::new(),
            sample: g.clone(),
        }
    }

    fn add(&mut self, g: &GoroutineInfo) {
        self.count += 1;
        if g.time_in_state() > self.longest_in_state {
            self.longest_in_state = g.time_in_state();
            self.sample = g.clone();
        }
        self.shortest_in_state = self.shortest_in_state.min(g.time_in_state());
        self.oldest = self.oldest.max(g.age());
        if self.ids.len() < IDS_SHOWN {
            self.ids.push(g.id());
        }
    }

    /// How many goroutines are in the group.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Where they were spawned.
    pub fn spawn_site(&self) -> &'static Location<'static> {
        self.sample.spawn_site()
    }

    /// Their name (`None`: unnamed).
    pub fn name(&self) -> Option<&str> {
        self.sample.name()
    }

    /// Their state (with the wait reason).
    pub fn state(&self) -> GState {
        self.state
    }

    /// The longest time a member has been in the state.
    pub fn longest_in_state(&self) -> Duration {
        self.longest_in_state
    }

    /// The shortest time a member has been in the state.
    pub fn shortest_in_state(&self) -> Duration {
        self.shortest_in_state
    }

    /// The age of the oldest member.
    pub fn oldest(&self) -> Duration {
        self.oldest
    }

    /// The ids of the first few members (ascending).
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// The member that has been in the state longest (with its spawn backtrace, if any).
    pub fn sample(&self) -> &GoroutineInfo {
        &self.sample
    }
}

impl fmt::Display for DumpGroup {
    /// One line: `1,000 goroutines @ src/server.rs:42:9 (worker), waiting on chan receive
    /// for 5m3s`, then the first ids, then the spawn backtrace when captured.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = if self.count == 1 {
            "goroutine"
        } else {
            "goroutines"
        };
        write!(
            f,
            "{} {noun} @ {}",
            format_count(self.count),
            self.spawn_site()
        )?;
        if let Some(name) = self.name() {
            write!(f, " ({name})")?;
        }
        write!(f, ", {}", describe_state(self.state))?;
        if matches!(self.state, GState::Waiting(_) | GState::Syscall) {
            let longest = format_duration(self.longest_in_state);
            let shortest = format_duration(self.shortest_in_state);
            if longest == shortest {
                write!(f, " for {longest}")?;
            } else {
                write!(f, " for {shortest} to {longest}")?;
            }
        }
        f.write_str("\n    ids:")?;
        for id in &self.ids {
            write!(f, " {id}")?;
        }
        if self.count > self.ids.len() {
            write!(f, " … ({} more)", format_count(self.count - self.ids.len()))?;
        }
        if let Some(backtrace) = self.sample.spawn_backtrace() {
            write!(
                f,
                "\n    spawned from (goroutine {}):\n{}",
                self.sample.id(),
                indent_backtrace(&backtrace.to_string(), 6)
            )?;
        }
        Ok(())
    }
}

/// Live goroutines grouped by spawn site, name and state, largest group first (Go's
/// goroutine profile). From [`leak::dump`](crate::leak::dump) or
/// [`Snapshot::dump`](crate::leak::Snapshot::dump); `Display` prints it.
///
/// ```
/// let h = gort::go!(|| gort::sleep(std::time::Duration::from_millis(100)));
/// let text = gort::leak::dump().to_string();
/// assert!(text.starts_with("goroutine profile: total "), "{text}");
/// assert!(text.contains(&format!("@ {}:", file!())), "{text}");
/// h.join().unwrap();
/// ```
#[derive(Clone, Debug, Default)]
pub struct Dump {
    groups: Vec<DumpGroup>,
    total: usize,
    omitted_groups: usize,
    omitted_goroutines: usize,
}

impl Dump {
    /// Groups `goroutines`.
    pub(crate) fn from_goroutines(goroutines: &[GoroutineInfo]) -> Dump {
        type Key<'a> = (&'static str, u32, u32, Option<&'a str>, GState);
        let mut index: HashMap<Key<'_>, usize> = HashMap::new();
        let mut groups: Vec<DumpGroup> = Vec::new();
        for g in goroutines {
            let site = g.spawn_site();
            let key = (site.file(), site.line(), site.column(), g.name(), g.state());
            let at = *index.entry(key).or_insert_with(|| {
                groups.push(DumpGroup::new(g));
                groups.len() - 1
            });
            groups[at].add(g);
        }
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| b.longest_in_state.cmp(&a.longest_in_state))
                .then_with(|| a.ids.first().cmp(&b.ids.first()))
        });
        Dump {
            total: goroutines.len(),
            groups,
            omitted_groups: 0,
            omitted_goroutines: 0,
        }
    }

    /// The groups, largest first.
    pub fn groups(&self) -> &[DumpGroup] {
        &self.groups
    }

    /// How many goroutines the dump covers (omitted groups included).
    pub fn total(&self) -> usize {
        self.total
    }

    /// Keeps only the `n` largest groups; the text then ends with how much was left out.
    pub fn truncate(&mut self, n: usize) {
        if self.groups.len() > n {
            let dropped = self.groups.split_off(n);
            self.omitted_groups += dropped.len();
            self.omitted_goroutines += dropped.iter().map(|g| g.count).sum::<usize>();
        }
    }

    /// The `n` largest groups (see [`truncate`](Self::truncate)).
    pub fn top(mut self, n: usize) -> Dump {
        self.truncate(n);
        self
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "goroutine profile: total {}", format_count(self.total))?;
        for group in &self.groups {
            write!(f, "\n{group}")?;
        }
        if self.omitted_groups > 0 {
            write!(
                f,
                "\n… and {} more groups ({} goroutines)",
                format_count(self.omitted_groups),
                format_count(self.omitted_goroutines)
            )?;
        }
        Ok(())
    }
}

/// Every goroutine on its own, Go's `debug=2` form:
/// `goroutine 17 "worker" [chan receive, 5m3s]:` then where and by whom it was spawned and
/// the spawn backtrace when captured.
pub(crate) fn write_each(out: &mut String, goroutines: &[GoroutineInfo]) {
    for (i, g) in goroutines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(out, "goroutine {}", g.id());
        if let Some(name) = g.name() {
            let _ = write!(out, " {name:?}");
        }
        let _ = write!(out, " [{}", short_state(g.state()));
        if matches!(g.state(), GState::Waiting(_) | GState::Syscall) {
            let _ = write!(out, ", {}", format_duration(g.time_in_state()));
        }
        let _ = write!(
            out,
            "]:\n    spawned at {} by {}, {} ago\n",
            g.spawn_site(),
            match g.parent_id() {
                Some(id) => format!("goroutine {id}"),
                None => "a thread".to_owned(),
            },
            format_duration(g.age())
        );
        if let Some(backtrace) = g.spawn_backtrace() {
            out.push_str("    spawned from:\n");
            out.push_str(&indent_backtrace(&backtrace.to_string(), 6));
            out.push('\n');
        }
    }
}

/// `goroutine 12 (crunch) @ src/main.rs:9:5 ran 35ms without a runtime call`.
pub(crate) fn describe_hog(hog: &crate::HogReport) -> String {
    let mut out = format!("goroutine {}", hog.id);
    if let Some(name) = &hog.name {
        let _ = write!(out, " ({name})");
    }
    if let Some(site) = hog.spawn_site {
        let _ = write!(out, " @ {site}");
    }
    let _ = write!(
        out,
        " ran {}{} without a runtime call",
        if hog.switched_out { "" } else { "at least " },
        format_duration(hog.ran_for)
    );
    out
}

/// `waiting on chan receive`, `runnable`, …
pub(crate) fn describe_state(state: GState) -> String {
    match state {
        GState::Waiting(reason) => format!("waiting on {reason}"),
        GState::Runnable => "runnable".to_owned(),
        GState::Running => "running".to_owned(),
        GState::Syscall => "in a syscall".to_owned(),
        GState::Dead => "finished".to_owned(),
    }
}

/// Go's bracketed state: `chan receive`, `runnable`, `syscall`.
pub(crate) fn short_state(state: GState) -> &'static str {
    match state {
        GState::Waiting(reason) => reason.as_str(),
        GState::Runnable => "runnable",
        GState::Running => "running",
        GState::Syscall => "syscall",
        GState::Dead => "dead",
    }
}

/// `1,234,567`.
pub(crate) fn format_count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Go-like durations at the coarse clock's resolution: `350ms`, `12.3s`, `5m3s`, `2h5m`.
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{}.{}s", ms / 1_000, (ms % 1_000) / 100)
    } else if ms < 3_600_000 {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1_000)
    } else {
        format!("{}h{}m", ms / 3_600_000, (ms % 3_600_000) / 60_000)
    }
}

/// A backtrace's text without the frames of gort's own spawn path, indented by `by` spaces.
pub(crate) fn indent_backtrace(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    // A frame starts with `<n>: symbol`; lines after it (`at file:line`) belong to it.
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let starts_frame = trimmed
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if starts_frame || frames.is_empty() {
            frames.push(vec![line]);
        } else if let Some(frame) = frames.last_mut() {
            frame.push(line);
        }
    }
    let internal = |frame: &Vec<&str>| {
        let symbol = frame[0].trim_start();
        let symbol = symbol.split_once(": ").map_or(symbol, |(_, s)| s);
        symbol.starts_with("std::backtrace")
            || symbol.starts_with("gort::leak::backtrace")
            || symbol.starts_with("gort::runtime::spawn")
            || symbol.starts_with("<std::backtrace")
    };
    let skip = frames.iter().take_while(|f| internal(f)).count();
    let mut out = String::new();
    for line in frames.iter().skip(skip).flatten() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(line.trim_start());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_durations_read_like_go() {
        assert_eq!(format_count(0), "0");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_000), "1,000");
        assert_eq!(format_count(1_234_567), "1,234,567");
        assert_eq!(format_duration(Duration::from_millis(350)), "350ms");
        assert_eq!(format_duration(Duration::from_millis(12_345)), "12.3s");
        assert_eq!(format_duration(Duration::from_secs(303)), "5m3s");
        assert_eq!(format_duration(Duration::from_secs(7_500)), "2h5m");
    }

    #[test]
    fn backtrace_frames_of_the_spawn_path_are_dropped() {
        let text = "   0: std::backtrace::Backtrace::force_capture\n             at /rustc/x/backtrace.rs:1:1\n   1: gort::runtime::spawn::spawn_at_site\n             at ./src/runtime/spawn.rs:2:2\n   2: my_app::start_workers\n             at ./src/main.rs:3:3";
        let out = indent_backtrace(text, 2);
        assert_eq!(out, "  2: my_app::start_workers\n  at ./src/main.rs:3:3");
    }
}
