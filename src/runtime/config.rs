//! Runtime configuration: `Config` before first use, environment variables overriding it.
//!
//! One runtime per process, as in Go. It starts lazily (first `go!`, `spawn`, `run`, …) with
//! the configuration given to [`Config::init`] if any, then `GORT_MAXPROCS` and
//! `GORT_STACK_SIZE` override it, as `GOMAXPROCS` overrides a Go program's default.

use std::fmt;
use std::sync::Mutex;

use super::sched::{lock, sched_if_started, Sched};
use super::{procs, stack};

/// How the runtime is set up when it starts.
///
/// ```
/// // Before the first goroutine; an error if the runtime has already started.
/// let _ = gort::Config::new().procs(2).stack_size(128 * 1024).init();
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a Config does nothing until `init` is called"]
pub struct Config {
    procs: Option<usize>,
    stack_size: Option<usize>,
}

/// `Config::init` came too late or with a bad value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The runtime has already started (configure before the first goroutine).
    AlreadyStarted,
    /// A value is unusable; the message says which and why.
    Invalid(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::AlreadyStarted => f.write_str(
                "the gort runtime has already started: call Config::init before the first goroutine",
            ),
            ConfigError::Invalid(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for ConfigError {}

static PENDING: Mutex<Option<Config>> = Mutex::new(None);

impl Config {
    /// The defaults: procs = available parallelism, the default stack size.
    pub fn new() -> Config {
        Config::default()
    }

    /// How many goroutines may run in parallel (GOMAXPROCS).
    pub fn procs(mut self, n: usize) -> Config {
        self.procs = Some(n);
        self
    }

    /// The default usable stack size of a goroutine, in bytes.
    pub fn stack_size(mut self, bytes: usize) -> Config {
        self.stack_size = Some(bytes);
        self
    }

    /// Installs this configuration for the runtime's start.
    ///
    /// # Errors
    /// [`ConfigError::AlreadyStarted`] after the runtime started; [`ConfigError::Invalid`]
    /// for 0 procs or an unusable stack size.
    pub fn init(self) -> Result<(), ConfigError> {
        if let Some(n) = self.procs {
            procs::check(n).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        if let Some(size) = self.stack_size {
            stack::checked_stack_size(size).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        }
        let mut pending = lock(&PENDING);
        if sched_if_started().is_some() {
            return Err(ConfigError::AlreadyStarted);
        }
        *pending = Some(self);
        Ok(())
    }
}

/// Builds the scheduler from the pending config and the environment (called once).
pub(crate) fn start_runtime() -> Sched {
    let config = lock(&PENDING).take().unwrap_or_default();
    let mut procs = config
        .procs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if let Ok(v) = std::env::var("GORT_MAXPROCS") {
        match v
            .trim()
            .parse::<usize>()
            .map_err(|e| e.to_string())
            .and_then(|n| procs::check(n).map_err(|e| e.to_string()))
        {
            Ok(n) => procs = n,
            Err(e) => eprintln!("gort: ignoring GORT_MAXPROCS={v:?}: {e}"),
        }
    }
    let mut stack_size = config.stack_size.unwrap_or(stack::DEFAULT_STACK_SIZE);
    if let Ok(v) = std::env::var("GORT_STACK_SIZE") {
        match stack::parse_stack_size(&v) {
            Ok(n) => stack_size = n,
            Err(e) => eprintln!("gort: ignoring GORT_STACK_SIZE={v:?}: {e}"),
        }
    }
    let stack_size = stack::checked_stack_size(stack_size).unwrap_or(stack::DEFAULT_STACK_SIZE);
    let _ = stack::set_default_stack_size(stack_size);
    super::overflow::install();
    super::panic_report::install();
    Sched::new(procs, stack_size)
}
