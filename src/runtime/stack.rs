//! Goroutine stacks (temporary: plain corosensei stacks until the pooled, guarded slabs land).
use std::io;

/// Default usable stack size of a goroutine.
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// One goroutine stack.
pub(crate) struct Stack(corosensei::stack::DefaultStack);

// SAFETY: delegates to DefaultStack, which upholds the trait's contract.
unsafe impl corosensei::stack::Stack for Stack {
    fn base(&self) -> corosensei::stack::StackPointer {
        self.0.base()
    }
    fn limit(&self) -> corosensei::stack::StackPointer {
        self.0.limit()
    }
}

impl Stack {
    /// The usable size in bytes.
    pub(crate) fn usable_size(&self) -> usize {
        use corosensei::stack::Stack as _;
        self.0.base().get() - self.0.limit().get()
    }
    /// The guard page range (none for this temporary stack).
    pub(crate) fn guard_range(&self) -> (usize, usize) {
        (0, 0)
    }
}

/// Per-P cache of free stacks.
#[derive(Default)]
pub(crate) struct StackCache {
    free: Vec<Stack>,
}

impl StackCache {
    pub(crate) fn new() -> StackCache {
        StackCache::default()
    }
    pub(crate) fn get(&mut self, size: usize) -> io::Result<Stack> {
        if size == DEFAULT_STACK_SIZE {
            if let Some(s) = self.free.pop() {
                return Ok(s);
            }
        }
        alloc(size)
    }
    pub(crate) fn put(&mut self, stack: Stack) {
        if stack.usable_size() >= DEFAULT_STACK_SIZE && self.free.len() < 64 {
            self.free.push(stack);
        }
    }
    pub(crate) fn drain(&mut self) {
        self.free.clear();
    }
}

pub(crate) fn alloc(size: usize) -> io::Result<Stack> {
    corosensei::stack::DefaultStack::new(size).map(Stack)
}

pub(crate) fn free(stack: Stack) {
    drop(stack);
}

/// Smallest usable stack gort accepts.
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;
/// Largest usable stack gort accepts.
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

/// Validates a requested stack size and rounds it up to whole pages.
pub(crate) fn checked_stack_size(size: usize) -> io::Result<usize> {
    if !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&size) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "stack size {size} is outside gort's range of {MIN_STACK_SIZE}..={MAX_STACK_SIZE} bytes"
            ),
        ));
    }
    Ok(size.div_ceil(4096) * 4096)
}

/// Parses "65536", "64k", "64KiB", "1m", "1MiB".
pub(crate) fn parse_stack_size(s: &str) -> Result<usize, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t.strip_suffix("kib").or(t.strip_suffix('k')) {
        (n, 1024)
    } else if let Some(n) = t.strip_suffix("mib").or(t.strip_suffix('m')) {
        (n, 1024 * 1024)
    } else {
        (t.as_str(), 1)
    };
    let n: usize = num
        .trim()
        .parse()
        .map_err(|_| format!("not a size: {s:?}"))?;
    checked_stack_size(n * mult).map_err(|e| e.to_string())
}
