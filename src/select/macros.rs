//! `select!`: sugar that parses the arms and expands to a call of `run` (in `run.rs`).
//!
//! The parser is a token muncher that normalises each arm to
//! `[arm source (channel) Constructor (finish) (pattern) body]`; the expansion declares one
//! arm object per arm, calls `run`, and dispatches on whichever arm object fired. Each step
//! of the muncher mints its own `__arm`/`__source` identifiers; macro hygiene keeps those of
//! different steps distinct, so no counting or index literals are needed.

/// Waits on several channel operations at once and runs the arm of the one that proceeds:
/// Go's `select`.
///
/// ```text
/// gort::select! {
///     recv(rx) -> msg => ..,          // msg: Result<T, RecvError>
///     send(tx, value) -> res => ..,   // res: Result<(), SendError<T>>
///     default => ..,                  // or `default(timeout) => ..`, at most one
/// }
/// ```
///
/// - When several arms are ready, one is chosen **uniformly at random** (Go's rule). Start
///   with `biased;` to choose the first ready arm in written order instead.
/// - `recv(x)` takes a `Receiver`, a reference to one, or an `Option<&Receiver<T>>`: `None`
///   never fires (Go's nil channel, to switch an arm off). `send(x, v)` likewise.
/// - A `send` arm's value expression is evaluated **only if that arm is chosen**, so a value
///   that loses stays with the caller (a variable named there is not moved). A chosen send
///   on a closed channel gives the value back in `Err(SendError(v))`; a receive on a closed,
///   drained channel fires with `Err(RecvError)`.
/// - `default => ..` runs when no arm is ready now. `default(timeout) => ..`, with a
///   [`Duration`](std::time::Duration), is the timeout arm: it runs when no arm became ready
///   within `timeout`. It costs no timer unless the select actually parks. (`recv(gort::time::after(d))`
///   also works, as in Go, but makes a channel each time.)
/// - `-> pattern` may be left out; bodies are expressions or blocks, and may `break`,
///   `continue` or `return` from the enclosing code.
/// - With no arm enabled and no `default`, it waits forever, like Go's `select {}`.
///
/// ```
/// use std::time::Duration;
/// let (tx, rx) = gort::chan::<i32>(1);
/// let (done_tx, done_rx) = gort::chan::<()>(0);
/// tx.send(7).unwrap();
/// done_tx.close().unwrap();
///
/// let mut seen = Vec::new();
/// for _ in 0..2 {
///     gort::select! {
///         biased;
///         recv(rx) -> msg => seen.push(msg.unwrap()),
///         recv(done_rx) -> msg => { assert!(msg.is_err()); seen.push(-1) }
///         default(Duration::from_secs(1)) => unreachable!("both arms are ready"),
///     }
/// }
/// assert_eq!(seen, [7, -1]);
/// ```
#[macro_export]
macro_rules! select {
    (biased; $($arms:tt)*) => {
        $crate::__select_parse!(true; (); (); $($arms)*)
    };
    ($($arms:tt)*) => {
        $crate::__select_parse!(false; (); (); $($arms)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // All arms parsed.
    ($biased:tt; $arms:tt; $fallback:tt;) => {
        $crate::__select_expand!($biased; $arms; $fallback)
    };

    // recv(source) -> pattern => body
    ($biased:tt; $arms:tt; $fallback:tt; recv($source:expr) -> $pattern:pat => $($rest:tt)*) => {
        $crate::__select_body!((@arm $biased; $arms; $fallback; [__arm __source ($source) RecvArm (__arm.received()) ($pattern)]) $($rest)*)
    };
    ($biased:tt; $arms:tt; $fallback:tt; recv($source:expr) => $($rest:tt)*) => {
        $crate::__select_parse!($biased; $arms; $fallback; recv($source) -> _ => $($rest)*)
    };

    // send(source, value) -> pattern => body
    ($biased:tt; $arms:tt; $fallback:tt; send($source:expr, $value:expr) -> $pattern:pat => $($rest:tt)*) => {
        $crate::__select_body!((@arm $biased; $arms; $fallback; [__arm __source ($source) SendArm (__arm.complete($value)) ($pattern)]) $($rest)*)
    };
    ($biased:tt; $arms:tt; $fallback:tt; send($source:expr, $value:expr) => $($rest:tt)*) => {
        $crate::__select_parse!($biased; $arms; $fallback; send($source, $value) -> _ => $($rest)*)
    };

    // default => body, default(timeout) => body (at most one)
    ($biased:tt; $arms:tt; (); default => $($rest:tt)*) => {
        $crate::__select_body!((@fallback $biased; $arms; ($crate::__select::Mode::NonBlocking)) $($rest)*)
    };
    ($biased:tt; $arms:tt; (); default($timeout:expr) => $($rest:tt)*) => {
        $crate::__select_body!((@fallback $biased; $arms; ($crate::__select::Mode::Timeout($timeout))) $($rest)*)
    };
    ($biased:tt; $arms:tt; ($($fallback:tt)+); default $($rest:tt)*) => {
        ::core::compile_error!("select!: at most one `default` arm")
    };

    ($biased:tt; $arms:tt; $fallback:tt; $($rest:tt)+) => {
        ::core::compile_error!(::core::concat!(
            "select!: expected `recv(rx) -> pattern => body`, `send(tx, value) -> pattern => body`, ",
            "`default => body` or `default(timeout) => body`, found: ",
            ::core::stringify!($($rest)+)
        ))
    };
}

/// Splits one arm's body (a block, with or without a comma, or an expression and a comma)
/// from the arms after it, and hands both back to `__select_parse`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_body {
    (($($head:tt)*) $body:block, $($rest:tt)*) => {
        $crate::__select_body!(@done ($($head)*) ($body) $($rest)*)
    };
    (($($head:tt)*) $body:block $($rest:tt)*) => {
        $crate::__select_body!(@done ($($head)*) ($body) $($rest)*)
    };
    (($($head:tt)*) $body:expr, $($rest:tt)*) => {
        $crate::__select_body!(@done ($($head)*) ($body) $($rest)*)
    };
    (($($head:tt)*) $body:expr) => {
        $crate::__select_body!(@done ($($head)*) ($body))
    };
    (@done (@arm $biased:tt; ($($arms:tt)*); $fallback:tt; [$($arm:tt)*]) ($body:expr) $($rest:tt)*) => {
        $crate::__select_parse!($biased; ($($arms)* [$($arm)* $body]); $fallback; $($rest)*)
    };
    (@done (@fallback $biased:tt; $arms:tt; ($mode:expr)) ($body:expr) $($rest:tt)*) => {
        $crate::__select_parse!($biased; $arms; (($mode) $body); $($rest)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_expand {
    // No default: block until an arm fires.
    ($biased:tt; ($([$arm:ident $source:ident ($channel:expr) $kind:ident ($($finish:tt)*) ($pattern:pat) $body:expr])*); ()) => {
        $crate::__select_expand!($biased; ($([$arm $source ($channel) $kind ($($finish)*) ($pattern) $body])*);
            (($crate::__select::Mode::Block) { ::core::unreachable!("a blocking select returns only when an arm fired") }))
    };
    ($biased:tt; ($([$arm:ident $source:ident ($channel:expr) $kind:ident ($($finish:tt)*) ($pattern:pat) $body:expr])*); (($mode:expr) $fallback:expr)) => {{
        $( let $source = &$channel; )*
        $( let mut $arm = $crate::__select::$kind::new($source); )*
        let __fired = $crate::__select::run(&mut [$( $arm.as_arm() ),*], $biased, $mode);
        match __fired {
            ::core::option::Option::Some(_) => {
                $( if $arm.fired() {
                    let $pattern = $($finish)*;
                    $body
                } else )* {
                    ::core::unreachable!("the fired arm is one of the arms")
                }
            }
            ::core::option::Option::None => $fallback,
        }
    }};
}
