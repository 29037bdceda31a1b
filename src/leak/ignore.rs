//! Ignore lists: goroutines known to live long, by spawn site or name.

use crate::leak::GoroutineInfo;

/// Goroutines a leak check or the tracker should not count: known long-lived ones, matched by
/// spawn site or by name (goleak's `IgnoreTopFunction`, keyed on what gort knows about a G).
///
/// - `site("src/pool.rs")` matches every goroutine spawned in a file whose path ends with
///   `src/pool.rs`; `site("src/pool.rs:42")` only those spawned on line 42;
///   `site("src/pool.rs:42:9")` only that column.
/// - `name("metrics-flusher")` matches that exact name; `name("worker-*")` every name that
///   starts with `worker-`.
///
/// ```
/// let ignore = gort::leak::IgnoreList::new()
///     .site("src/background.rs:17")
///     .name("flusher")
///     .name("worker-*");
/// assert!(!ignore.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IgnoreList {
    sites: Vec<SitePattern>,
    names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct SitePattern {
    file: String,
    line: Option<u32>,
    column: Option<u32>,
}

impl SitePattern {
    fn parse(pattern: &str) -> SitePattern {
        // Peel up to two numeric `:n` suffixes: `file:line:column`, `file:line` or `file`.
        let mut file = pattern;
        let mut numbers = Vec::new();
        while numbers.len() < 2 {
            match file.rsplit_once(':') {
                Some((rest, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                    numbers.push(n.parse::<u32>().unwrap_or(u32::MAX));
                    file = rest;
                }
                _ => break,
            }
        }
        numbers.reverse();
        SitePattern {
            file: file.to_owned(),
            line: numbers.first().copied(),
            column: numbers.get(1).copied(),
        }
    }

    fn matches(&self, site: &std::panic::Location<'_>) -> bool {
        site.file().ends_with(self.file.as_str())
            && self.line.is_none_or(|line| line == site.line())
            && self.column.is_none_or(|column| column == site.column())
    }
}

impl IgnoreList {
    /// An empty list (ignores nothing).
    pub fn new() -> IgnoreList {
        IgnoreList::default()
    }

    /// Ignores goroutines spawned at `pattern`: `file`, `file:line` or `file:line:column`,
    /// the file matched as a suffix of the spawn site's path.
    pub fn site(mut self, pattern: impl AsRef<str>) -> IgnoreList {
        self.sites.push(SitePattern::parse(pattern.as_ref()));
        self
    }

    /// Ignores goroutines with this name; a trailing `*` matches any name with that prefix.
    pub fn name(mut self, name: impl Into<String>) -> IgnoreList {
        self.names.push(name.into());
        self
    }

    /// Whether the list ignores nothing.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty() && self.names.is_empty()
    }

    /// Whether `g` is on the list.
    pub fn matches(&self, g: &GoroutineInfo) -> bool {
        let site = g.spawn_site();
        if self.sites.iter().any(|p| p.matches(site)) {
            return true;
        }
        let Some(name) = g.name() else { return false };
        self.names
            .iter()
            .any(|pattern| match pattern.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == pattern,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_patterns_parse_file_line_and_column() {
        let p = SitePattern::parse("src/a.rs:42:9");
        assert_eq!(
            (p.file.as_str(), p.line, p.column),
            ("src/a.rs", Some(42), Some(9))
        );
        let p = SitePattern::parse("src/a.rs:42");
        assert_eq!(
            (p.file.as_str(), p.line, p.column),
            ("src/a.rs", Some(42), None)
        );
        let p = SitePattern::parse("src/a.rs");
        assert_eq!(
            (p.file.as_str(), p.line, p.column),
            ("src/a.rs", None, None)
        );
        // A Windows-like drive letter is not a line number.
        let p = SitePattern::parse("C:src/a.rs");
        assert_eq!((p.file.as_str(), p.line), ("C:src/a.rs", None));
    }

    #[test]
    fn matches_by_site_and_name() {
        let here = std::panic::Location::caller();
        let exact = SitePattern::parse(&format!("{}:{}", here.file(), here.line()));
        assert!(exact.matches(here));
        let other_line = SitePattern::parse(&format!("{}:{}", here.file(), here.line() + 1));
        assert!(!other_line.matches(here));
        assert!(SitePattern::parse("ignore.rs").matches(here));
        assert!(!SitePattern::parse("other.rs").matches(here));
    }
}
