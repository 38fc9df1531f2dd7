//! The last merged listings of this process (one config): single-target requests resolve
//! against them in `conditional` and `never` prefix modes, and the tool names they hold are
//! the `tool` metric tag's allowlist. Bounded: one table per kind, replaced by each merge,
//! and the tag allowlist holds at most [`MAX_TOOL_TAGS`] names.
//!
//! Per process, not shared: another replica (or this one after a restart) builds its own on
//! its first listing; until then `always` mode still routes by prefix alone.

use std::sync::{Arc, Mutex, MutexGuard};

use ai_gateway_core::TagLimiter;

use crate::naming::{NameTable, UriTable};

/// Most tool names that become metric tag values (Envoy never frees a stat).
pub const MAX_TOOL_TAGS: usize = 256;

/// The last tables of each kind.
#[derive(Debug, Default)]
pub struct ListingCache {
    inner: Mutex<Tables>,
}

/// A snapshot of the cached tables.
#[derive(Debug, Default, Clone)]
pub struct Tables {
    pub tools: Option<Arc<NameTable>>,
    pub prompts: Option<Arc<NameTable>>,
    pub resources: Option<Arc<UriTable>>,
    /// Bounds the `tool` tag: the client-facing names of the last tool listing.
    pub tool_tags: Arc<TagLimiter>,
}

impl ListingCache {
    /// The current tables (cheap: reference-counted).
    pub fn snapshot(&self) -> Tables {
        self.lock().clone()
    }

    /// Replaces the tool table and the tag allowlist with it.
    pub fn set_tools(&self, table: NameTable) {
        let tags = TagLimiter::new(table.client_names().take(MAX_TOOL_TAGS).map(str::to_string));
        let mut tables = self.lock();
        tables.tools = Some(Arc::new(table));
        tables.tool_tags = Arc::new(tags);
    }

    /// Replaces the prompt table.
    pub fn set_prompts(&self, table: NameTable) {
        self.lock().prompts = Some(Arc::new(table));
    }

    /// Replaces the resource table.
    pub fn set_resources(&self, table: UriTable) {
        self.lock().resources = Some(Arc::new(table));
    }

    fn lock(&self) -> MutexGuard<'_, Tables> {
        // A poisoned lock only means a panic elsewhere mid-update; the tables stay usable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
