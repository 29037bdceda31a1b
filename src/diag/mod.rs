//! Diagnostics: runtime metrics (and, with the leak-tracker issue, dumps and deadlock checks).
pub(crate) mod metrics;
