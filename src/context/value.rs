//! The value chain: one immutable node per `with_value`, linked to the chain it extends.
//!
//! Invariants: a node never changes after creation; a lookup walks from the newest node to
//! the oldest and stops at the first key that equals the one asked for (newer values shadow
//! older ones, as in Go). Dropping a long chain is iterative (no recursion through `Arc`).

use std::any::Any;
use std::sync::Arc;

/// One `with_value` node, type-erased so that the chain can mix key and value types.
pub(super) trait ValueNode: Send + Sync {
    fn parent(&self) -> Option<&Arc<dyn ValueNode>>;
    /// Takes the parent link out (iterative drop).
    fn take_parent(&mut self) -> Option<Arc<dyn ValueNode>>;
    fn key(&self) -> &dyn Any;
    fn value(&self) -> &dyn Any;
}

pub(super) struct Entry<K, V> {
    pub(super) parent: Option<Arc<dyn ValueNode>>,
    pub(super) key: K,
    pub(super) value: V,
}

impl<K, V> ValueNode for Entry<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    fn parent(&self) -> Option<&Arc<dyn ValueNode>> {
        self.parent.as_ref()
    }

    fn take_parent(&mut self) -> Option<Arc<dyn ValueNode>> {
        self.parent.take()
    }

    fn key(&self) -> &dyn Any {
        &self.key
    }

    fn value(&self) -> &dyn Any {
        &self.value
    }
}

/// The value stored under the newest key equal to `key`, if that value has type `V`.
pub(super) fn lookup<'a, K, V>(mut node: Option<&'a Arc<dyn ValueNode>>, key: &K) -> Option<&'a V>
where
    K: PartialEq + 'static,
    V: 'static,
{
    while let Some(current) = node {
        if current.key().downcast_ref::<K>() == Some(key) {
            return current.value().downcast_ref::<V>();
        }
        node = current.parent();
    }
    None
}

/// Drops a chain without recursing: each node we hold the last reference to gives up its
/// parent before it is dropped.
pub(super) fn drop_chain(mut next: Option<Arc<dyn ValueNode>>) {
    while let Some(mut node) = next {
        next = Arc::get_mut(&mut node).and_then(ValueNode::take_parent);
        drop(node);
    }
}

/// How many nodes a chain has (for `Debug`).
pub(super) fn chain_len(mut node: Option<&Arc<dyn ValueNode>>) -> usize {
    let mut len = 0;
    while let Some(current) = node {
        len += 1;
        node = current.parent();
    }
    len
}
