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
/// # Panics
/// Panics with the error's message when the goroutine cannot be created (an unusable stack
/// size); use [`Builder::spawn`](crate::Builder::spawn) to get the error instead.
#[macro_export]
macro_rules! go {
    ($builder:expr, $f:expr $(,)?) => {
        match $crate::Builder::spawn($builder, $f) {
            ::core::result::Result::Ok(handle) => handle,
            ::core::result::Result::Err(e) => {
                ::core::panic!("gort: cannot spawn a goroutine: {}", e)
            }
        }
    };
    ($f:expr $(,)?) => {
        $crate::spawn($f)
    };
}
