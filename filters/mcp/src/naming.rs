//! Multiplexed names: how the tools and prompts of N backends become one client-facing
//! namespace, and how a client-facing name leads back to its backend.
//!
//! Forward, per [`PrefixMode`]:
//! - `Always`: every name becomes `<backend><separator><name>`.
//! - `Conditional`: a name listed by one backend only stays bare; a name listed by several
//!   is prefixed on each of them.
//! - `Never`: names stay bare; a name listed by several backends is refused on all of them
//!   (no backend silently wins) and reported in [`Multiplexed::refused`].
//!
//! Whatever the mode, two different upstream names that would end up with the same
//! client-facing name (backend `a` listing `b_x` and backend `a_b` listing `x` under `_`)
//! are refused too, so every client-facing name in a [`NameTable`] maps to exactly one
//! backend. The one exception is `Conditional`, where a bare name that clashes with a
//! prefixed one is prefixed as well before anything is refused.
//!
//! Reverse: the [`NameTable`] built from the last listing is the authority. When it does not
//! know a name (no listing yet on this replica, or the tool appeared since), `Always` mode
//! still resolves it by stripping the longest configured backend name followed by the
//! separator ([`Naming::split_prefixed`]); longest first makes `a_b_x` go to backend `a_b`
//! rather than `a`. `Conditional` and `Never` need the listing, since a bare name carries no
//! backend.
//!
//! Tool names: the MCP spec (2025-11-25 and 2026-07-28, server/tools, "Tool Names") says
//! they SHOULD be 1–128 characters of `A-Z a-z 0-9 _ - .`. [`Naming::new`] therefore only
//! accepts backend names and separators made of those characters, and a prefixed tool
//! name that would grow past 128 characters is refused rather than sent invalid. The
//! gateway never makes a valid upstream name invalid; names that were already invalid
//! upstream pass through as the backend chose them. Prompt names have no such rule.
//!
//! Resource URIs and URI templates are multiplexed by [`uri`].

pub mod uri;

use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use uri::{resource_tag, UriError, UriMultiplexed, UriTable};

/// Longest tool name the MCP spec allows.
pub const MAX_TOOL_NAME_LEN: usize = 128;

/// When names get their backend prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixMode {
    /// Every name is prefixed.
    Always,
    /// Only names listed by more than one backend are prefixed.
    Conditional,
    /// No name is prefixed; names listed by more than one backend are refused.
    Never,
}

/// What kind of name is being multiplexed (tools have character rules, prompts do not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Tool,
    Prompt,
}

/// Where a client-facing name or URI really lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upstream {
    /// The configured backend name.
    pub backend: String,
    /// The name or URI as that backend knows it.
    pub name: String,
}

/// The names one backend listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<'a> {
    /// The configured backend name.
    pub backend: &'a str,
    /// Tool or prompt names, or resource URIs and URI templates, as the backend listed them.
    pub names: Vec<&'a str>,
}

/// Why a listed name was left out of the client-facing listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalReason {
    /// Several backends produce this client-facing name.
    Collision { backends: Vec<String> },
    /// Prefixing would make a valid tool name break the spec's tool-name rules.
    InvalidToolName,
    /// The URI has no RFC 3986 scheme, so it cannot carry a backend prefix.
    InvalidUri,
    /// A bare URI whose scheme starts like a prefixed one (`<tag>+`) would be misrouted.
    LooksPrefixed,
}

/// One name left out of the client-facing listing, for the filter to log and count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The client-facing name that was refused (the bare name in `Never` mode).
    pub name: String,
    /// The backend whose listing held it (one refusal per backend and name).
    pub backend: String,
    pub reason: RefusalReason,
}

/// Client-facing names ↔ upstream names, built from one round of listings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTable {
    by_client: HashMap<String, Upstream>,
    by_upstream: HashMap<Upstream, String>,
}

impl NameTable {
    /// Where a client-facing name lives, if the listing knew it.
    pub fn resolve(&self, client_name: &str) -> Option<&Upstream> {
        self.by_client.get(client_name)
    }

    /// The client-facing name of a backend's name; `None` when it was refused or not listed.
    pub fn client_name(&self, backend: &str, name: &str) -> Option<&str> {
        let key = Upstream {
            backend: backend.to_string(),
            name: name.to_string(),
        };
        self.by_upstream.get(&key).map(String::as_str)
    }

    /// Every client-facing name (in no particular order).
    pub fn client_names(&self) -> impl Iterator<Item = &str> {
        self.by_client.keys().map(String::as_str)
    }

    /// How many client-facing names the table holds.
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    /// Whether the table holds no name.
    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }

    fn insert(&mut self, client_name: String, upstream: Upstream) {
        self.by_upstream
            .insert(upstream.clone(), client_name.clone());
        self.by_client.insert(client_name, upstream);
    }
}

/// The result of multiplexing one kind of names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multiplexed {
    pub table: NameTable,
    /// Names left out, sorted by name then backend.
    pub refused: Vec<Refusal>,
}

/// Why a naming configuration cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NamingError {
    #[error("the separator must be non-empty and use only A-Z a-z 0-9 _ - . (got {0:?})")]
    InvalidSeparator(String),
    #[error("backend name {0:?} must be non-empty and use only A-Z a-z 0-9 _ - .")]
    InvalidBackendName(String),
    #[error("backend name {0:?} appears twice")]
    DuplicateBackend(String),
    #[error("backends {0:?} and {1:?} share the resource URI tag {2:?}")]
    DuplicateResourceTag(String, String, String),
}

/// The naming rules of one gateway configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    separator: String,
    mode: PrefixMode,
    /// Configured backends, longest name first so prefix matching prefers the longest.
    backends: Vec<String>,
}

impl Naming {
    /// Checks the separator and backend names and prepares prefix matching.
    pub fn new<I, S>(separator: &str, mode: PrefixMode, backends: I) -> Result<Naming, NamingError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if !is_tool_name_text(separator) {
            return Err(NamingError::InvalidSeparator(separator.to_string()));
        }
        let mut seen = BTreeSet::new();
        let mut tags: BTreeMap<String, String> = BTreeMap::new();
        let mut names = Vec::new();
        for backend in backends {
            let backend: String = backend.into();
            if !is_tool_name_text(&backend) {
                return Err(NamingError::InvalidBackendName(backend));
            }
            if !seen.insert(backend.clone()) {
                return Err(NamingError::DuplicateBackend(backend));
            }
            let tag = resource_tag(&backend);
            if let Some(other) = tags.insert(tag.clone(), backend.clone()) {
                return Err(NamingError::DuplicateResourceTag(other, backend, tag));
            }
            names.push(backend);
        }
        names.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        Ok(Naming {
            separator: separator.to_string(),
            mode,
            backends: names,
        })
    }

    /// The prefix mode.
    pub fn mode(&self) -> PrefixMode {
        self.mode
    }

    /// The configured backends, longest name first.
    pub fn backends(&self) -> &[String] {
        &self.backends
    }

    /// `<backend><separator><name>`.
    pub fn prefixed(&self, backend: &str, name: &str) -> String {
        format!("{backend}{}{name}", self.separator)
    }

    /// Splits a prefixed name at the longest configured backend name followed by the
    /// separator; the rest must be non-empty.
    pub fn split_prefixed(&self, client_name: &str) -> Option<Upstream> {
        self.backends.iter().find_map(|backend| {
            let rest = client_name
                .strip_prefix(backend.as_str())?
                .strip_prefix(self.separator.as_str())?;
            (!rest.is_empty()).then(|| Upstream {
                backend: backend.clone(),
                name: rest.to_string(),
            })
        })
    }

    /// Where a client-facing tool or prompt name lives: the listing's table first, then (in
    /// `Always` mode only) the prefix itself.
    pub fn resolve_name(&self, table: Option<&NameTable>, client_name: &str) -> Option<Upstream> {
        if let Some(found) = table.and_then(|t| t.resolve(client_name)) {
            return Some(found.clone());
        }
        match self.mode {
            PrefixMode::Always => self.split_prefixed(client_name),
            PrefixMode::Conditional | PrefixMode::Never => None,
        }
    }

    /// Builds the client-facing names for one kind from every backend's listing.
    pub fn multiplex_names(&self, kind: NameKind, listings: &[Listing<'_>]) -> Multiplexed {
        let listed = dedup_listings(listings);
        let mut owners: HashMap<&str, Vec<&str>> = HashMap::new();
        for (backend, name) in &listed {
            owners.entry(name).or_default().push(backend);
        }
        let mut refused = Vec::new();
        let mut candidates: Vec<(String, Upstream)> = Vec::new();
        for (backend, name) in &listed {
            let shared = owners[name].len() > 1;
            let client = match (self.mode, shared) {
                (PrefixMode::Always, _) | (PrefixMode::Conditional, true) => {
                    self.prefixed(backend, name)
                }
                (PrefixMode::Conditional | PrefixMode::Never, false) => name.to_string(),
                (PrefixMode::Never, true) => {
                    refused.push(collision(name, backend, &owners[name]));
                    continue;
                }
            };
            let upstream = Upstream {
                backend: backend.to_string(),
                name: name.to_string(),
            };
            candidates.push((client, upstream));
        }
        if self.mode == PrefixMode::Conditional {
            self.prefix_bare_names_that_clash(&mut candidates);
        }
        let mut table = NameTable::default();
        for (client, mut upstreams) in group_by_client(candidates) {
            if upstreams.len() > 1 {
                let backends: Vec<&str> = upstreams.iter().map(|u| u.backend.as_str()).collect();
                for u in &upstreams {
                    refused.push(collision(&client, &u.backend, &backends));
                }
                continue;
            }
            let Some(upstream) = upstreams.pop() else {
                continue;
            };
            if kind == NameKind::Tool
                && is_valid_tool_name(&upstream.name)
                && !is_valid_tool_name(&client)
            {
                refused.push(Refusal {
                    name: client,
                    backend: upstream.backend,
                    reason: RefusalReason::InvalidToolName,
                });
                continue;
            }
            table.insert(client, upstream);
        }
        refused.sort_by(|a, b| (&a.name, &a.backend).cmp(&(&b.name, &b.backend)));
        Multiplexed { table, refused }
    }

    /// In `Conditional` mode a bare name may equal another backend's prefixed name
    /// (`a_x` listed by `c` while `a` and `b` both list `x`): the bare one gets prefixed too.
    fn prefix_bare_names_that_clash(&self, candidates: &mut [(String, Upstream)]) {
        let prefixed: BTreeSet<String> = candidates
            .iter()
            .filter(|(client, up)| *client != up.name)
            .map(|(client, _)| client.clone())
            .collect();
        for (client, upstream) in candidates.iter_mut() {
            if *client == upstream.name && prefixed.contains(client.as_str()) {
                *client = self.prefixed(&upstream.backend, &upstream.name);
            }
        }
    }
}

/// Whether a name follows the spec's tool-name rules: 1–128 of `A-Z a-z 0-9 _ - .`.
pub fn is_valid_tool_name(name: &str) -> bool {
    name.len() <= MAX_TOOL_NAME_LEN && is_tool_name_text(name)
}

/// Non-empty and made only of the characters a tool name may hold.
fn is_tool_name_text(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Every (backend, name) pair once, in listing order.
fn dedup_listings<'a>(listings: &[Listing<'a>]) -> Vec<(&'a str, &'a str)> {
    let mut seen = BTreeSet::new();
    listings
        .iter()
        .flat_map(|l| l.names.iter().map(move |n| (l.backend, *n)))
        .filter(|pair| seen.insert(*pair))
        .collect()
}

fn group_by_client(candidates: Vec<(String, Upstream)>) -> BTreeMap<String, Vec<Upstream>> {
    let mut groups: BTreeMap<String, Vec<Upstream>> = BTreeMap::new();
    for (client, upstream) in candidates {
        groups.entry(client).or_default().push(upstream);
    }
    groups
}

fn collision(name: &str, backend: &str, backends: &[&str]) -> Refusal {
    let mut backends: Vec<String> = backends.iter().map(|b| b.to_string()).collect();
    backends.sort();
    backends.dedup();
    Refusal {
        name: name.to_string(),
        backend: backend.to_string(),
        reason: RefusalReason::Collision { backends },
    }
}

#[cfg(test)]
mod tests;
