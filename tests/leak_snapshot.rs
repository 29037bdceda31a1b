//! Snapshots, the grouped dump, per-site and per-name counts, spawn backtraces.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gort::leak::{self, GoroutineInfo};
use gort::{go, GState, WaitReason};

/// Polls snapshots until `ready` holds for the goroutines `select` picks (yielding between
/// looks; the goroutines are on their way into the awaited state).
fn wait_for(
    select: impl Fn(&GoroutineInfo) -> bool,
    ready: impl Fn(&[&GoroutineInfo]) -> bool,
) -> Vec<GoroutineInfo> {
    loop {
        let snap = leak::snapshot();
        let picked: Vec<&GoroutineInfo> = snap.iter().filter(|g| select(g)).collect();
        if ready(&picked) {
            return picked.into_iter().cloned().collect();
        }
        std::thread::yield_now();
    }
}

fn sleeping(g: &GoroutineInfo) -> bool {
    g.state() == GState::Waiting(WaitReason::Sleep)
}

#[test]
fn a_snapshot_describes_each_goroutine() {
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let (line, parent) = (
        line!(),
        go!(gort::Builder::new().name("parent"), move || {
            let r2 = r.clone();
            let child = go!(gort::Builder::new().name("child"), move || {
                while !r2.load(Ordering::Acquire) {
                    gort::sleep(Duration::from_millis(2));
                }
            });
            (gort::current().unwrap().id(), child.join())
        }),
    );
    let parent_id = parent.id();
    let seen = wait_for(
        |g| g.name() == Some("child") && g.parent_id() == Some(parent_id),
        |gs| gs.len() == 1 && sleeping(gs[0]),
    );
    let child = &seen[0];
    assert_eq!(child.spawn_site().file(), file!());
    assert!(child.spawn_site().line() > line);
    let parent_info = wait_for(
        |g| g.id() == parent_id,
        |gs| gs.len() == 1 && gs[0].state() == GState::Waiting(WaitReason::Join),
    )
    .remove(0);
    assert_eq!(parent_info.name(), Some("parent"));
    assert_eq!(parent_info.spawn_site().line(), line + 1);
    assert_eq!(parent_info.parent_id(), None, "spawned from a plain thread");
    // Age and time in state grow with the coarse clock.
    std::thread::sleep(Duration::from_millis(30));
    let later = leak::snapshot()
        .into_iter()
        .find(|g| g.id() == parent_id)
        .unwrap();
    assert!(later.age() >= Duration::from_millis(20), "{later:?}");
    assert!(
        later.time_in_state() >= Duration::from_millis(20),
        "{later:?}"
    );
    assert!(later.age() >= later.time_in_state());
    release.store(true, Ordering::Release);
    let (id, joined) = parent.join().unwrap();
    assert_eq!(id, parent_id);
    joined.unwrap();
    assert!(!leak::snapshot().iter().any(|g| g.id() == parent_id));
}

#[test]
fn the_dump_groups_by_site_name_and_state_largest_first() {
    let release = Arc::new(AtomicBool::new(false));
    let mut line = 0;
    let mut handles = Vec::new();
    for i in 0..120 {
        let r = release.clone();
        let body = move || {
            while !r.load(Ordering::Acquire) {
                gort::sleep(Duration::from_millis(50));
            }
        };
        let name = if i < 100 {
            "pool-worker"
        } else {
            "other-worker"
        };
        let builder = gort::Builder::new().name(name);
        let (at, h) = (line!(), go!(builder, body));
        line = at;
        handles.push(h);
    }
    wait_for(
        |g| matches!(g.name(), Some("pool-worker" | "other-worker")),
        |gs| gs.len() == 120 && gs.iter().all(|g| sleeping(g)),
    );
    let mut dump = leak::dump();
    let mine: Vec<_> = dump
        .groups()
        .iter()
        .filter(|g| g.spawn_site().file() == file!() && g.spawn_site().line() == line)
        .cloned()
        .collect();
    assert_eq!(mine.len(), 2, "{dump}");
    assert_eq!(mine[0].count(), 100);
    assert_eq!(mine[0].name(), Some("pool-worker"));
    assert_eq!(mine[0].state(), GState::Waiting(WaitReason::Sleep));
    assert_eq!(mine[0].ids().len(), 8);
    assert_eq!(mine[1].count(), 20);
    let text = dump.to_string();
    let expected = format!("100 goroutines @ {}:{line}:", file!());
    assert!(text.contains(&expected), "{text}");
    assert!(
        text.contains("(pool-worker), waiting on sleep for"),
        "{text}"
    );
    assert!(text.contains("… (92 more)"), "{text}");
    // Largest groups first, whatever else the process runs.
    let counts: Vec<usize> = dump.groups().iter().map(|g| g.count()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    dump.truncate(1);
    assert_eq!(dump.groups().len(), 1);
    assert!(dump.to_string().contains("more groups"));
    release.store(true, Ordering::Release);
    handles.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn per_site_counts_follow_spawns_and_finishes() {
    let release = Arc::new(AtomicBool::new(false));
    let mut line = 0;
    let mut handles = Vec::new();
    for _ in 0..5 {
        let r = release.clone();
        let body = move || {
            while !r.load(Ordering::Acquire) {
                gort::sleep(Duration::from_millis(1));
            }
        };
        let (at, h) = (line!(), go!(body));
        line = at;
        handles.push(h);
    }
    assert_eq!(leak::live_at(file!(), line), 5);
    let site = leak::sites()
        .into_iter()
        .find(|s| s.location.file() == file!() && s.location.line() == line)
        .unwrap();
    assert_eq!(site.live, 5);
    release.store(true, Ordering::Release);
    handles.into_iter().for_each(|h| h.join().unwrap());
    // Exact once `join` has returned.
    assert_eq!(leak::live_at(file!(), line), 0);
    // The function forms have no per-site counter, but snapshots still group them.
    let nap = || gort::sleep(Duration::from_millis(200));
    let (fline, h) = (line!(), gort::spawn(nap));
    assert_eq!(leak::live_at(file!(), fline), 0);
    let snap = leak::snapshot();
    assert!(snap
        .count_by_site()
        .iter()
        .any(|(site, n)| site.line() == fline && *n >= 1));
    h.join().unwrap();
}

#[test]
fn counts_by_name() {
    let release = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..7)
        .map(|_| {
            let r = release.clone();
            go!(gort::Builder::new().name("by-name-probe"), move || {
                while !r.load(Ordering::Acquire) {
                    gort::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();
    let counts = leak::snapshot().count_by_name();
    let probe = counts
        .iter()
        .find(|(name, _)| name.as_deref() == Some("by-name-probe"))
        .unwrap();
    assert_eq!(probe.1, 7);
    release.store(true, Ordering::Release);
    handles.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn spawn_backtraces_show_who_spawned() {
    leak::capture_spawn_backtraces(true);
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let h = spawned_by_a_recognisable_function(r);
    leak::capture_spawn_backtraces(false);
    let seen = wait_for(|g| g.id() == h.id(), |gs| gs.len() == 1);
    let backtrace = seen[0].spawn_backtrace().expect("captured").to_string();
    assert!(
        backtrace.contains("spawned_by_a_recognisable_function"),
        "{backtrace}"
    );
    let text = leak::dump().to_string();
    assert!(text.contains("spawned from (goroutine"), "{text}");
    release.store(true, Ordering::Release);
    h.join().unwrap();
}

#[inline(never)]
fn spawned_by_a_recognisable_function(release: Arc<AtomicBool>) -> gort::JoinHandle<()> {
    go!(gort::Builder::new().name("traced"), move || {
        while !release.load(Ordering::Acquire) {
            gort::sleep(Duration::from_millis(1));
        }
    })
}

#[test]
fn snapshot_of_many_goroutines_is_complete() {
    // Every goroutine of a burst is seen exactly once (ids unique, sorted).
    let release = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..5_000)
        .map(|_| {
            let r = release.clone();
            go!(gort::Builder::new().name("burst"), move || {
                while !r.load(Ordering::Acquire) {
                    gort::sleep(Duration::from_millis(5));
                }
            })
        })
        .collect();
    let snap = leak::snapshot();
    let ids: Vec<u64> = snap.iter().map(|g| g.id()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    for h in &handles {
        assert!(ids.binary_search(&h.id()).is_ok());
    }
    release.store(true, Ordering::Release);
    handles.into_iter().for_each(|h| h.join().unwrap());
}
