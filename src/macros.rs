//! `go!`: Go's `go` statement.

/// Spawns a goroutine: `go!(closure)` or `go!(builder, closure)`. Returns its
/// [`JoinHandle`](crate::JoinHandle); dropping the handle detaches the goroutine.
///
/// ```
/// use gort::go;
/// let h = go!(|| 1 + 1);
/// let named = go!(gort::Builder::new().name("worker"), || gort::current().unwrap().id());
/// assert_eq!(h.join().unwrap(), 2);
/// assert!(named.join().unwrap() > 0);
/// ```
///
/// Each `go!` call site declares a static live counter (an atomic increment at spawn, a
/// decrement when the goroutine finishes), so [`leak::sites`](crate::leak::sites) reports how
/// many goroutines each site has alive without a hash-map lookup on the spawn path. The
/// function forms ([`spawn`](crate::spawn), [`Builder::spawn`](crate::Builder::spawn)) have
/// no such counter; dumps and snapshots still group their goroutines by spawn site.
///
/// # Panics
/// Panics with the error's message when the goroutine cannot be created (an unusable stack
/// size); use [`Builder::spawn`](crate::Builder::spawn) to get the error instead.
#[macro_export]
macro_rules! go {
    ($builder:expr, $f:expr $(,)?) => {{
        // This call site's live counter (one per `go!` in the source).
        static SITE: $crate::__private::SiteCounter = $crate::__private::SiteCounter::new();
        match $crate::__private::go_counted_with($builder, $f, &SITE) {
            ::core::result::Result::Ok(handle) => handle,
            ::core::result::Result::Err(e) => {
                ::core::panic!("gort: cannot spawn a goroutine: {}", e)
            }
        }
    }};
    ($f:expr $(,)?) => {{
        static SITE: $crate::__private::SiteCounter = $crate::__private::SiteCounter::new();
        $crate::__private::go_counted($f, &SITE)
    }};
}
