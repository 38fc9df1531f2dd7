//! Resource URIs and URI templates of N backends in one namespace.
//!
//! The prefix goes into the URI scheme: `<tag>+<original URI>`, where `<tag>` is the
//! backend's [`resource_tag`]. Examples for a backend `files` and one named `Demo_1`:
//!
//! | upstream                 | client-facing                       |
//! | ------------------------ | ----------------------------------- |
//! | `file:///x`              | `files+file:///x`                   |
//! | `https://host/p?q#f`     | `files+https://host/p?q#f`          |
//! | `demo://resource/1`      | `demo-1+demo://resource/1`          |
//! | `demo://resource/{id}`   | `demo-1+demo://resource/{id}`       |
//!
//! Why the scheme: RFC 3986 allows `+ - .` and letters/digits after a leading letter in a
//! scheme, so `<tag>+<scheme>` is still a scheme and everything after the first `:` is left
//! byte for byte as the backend wrote it. Authority, path, query, fragment and percent
//! escapes are untouched, a URI without authority (`urn:x`, `mailto:a@b`) works the same,
//! and a URI template keeps its expressions where they were, so a client expands the
//! prefixed template into the prefixed URI (RFC 6570 literals include `+ - .`). Wrapping
//! the URI into a path segment instead would percent-encode it and make the expansion of
//! `{id}` impossible to undo.
//!
//! Reverse: the part of the scheme before its first `+` names the backend whose tag it is
//! (compared case-insensitively, since schemes are). Tags never hold `+`, so an upstream
//! scheme that has one (`git+ssh`) survives intact. A URI without a scheme cannot be
//! prefixed and is refused.
//!
//! Prefix modes work per scheme, because a client reads URIs that are expansions of
//! templates, which no listing holds verbatim: a bare URI is routed by its scheme.
//! `Conditional` leaves a backend's URIs bare when no other backend lists a URI or template
//! with the same scheme; `Never` refuses the URIs of a scheme several backends share. Either
//! way a bare scheme that starts with `<tag>+` of a configured backend would read as a
//! prefixed one, so it is prefixed (`Conditional`) or refused (`Never`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{dedup_listings, Listing, Naming, PrefixMode, Refusal, RefusalReason, Upstream};

/// Why a URI cannot carry a backend prefix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("{0:?} has no RFC 3986 scheme")]
    NoScheme(String),
}

/// The URI-scheme form of a backend name: lower-case, characters a scheme cannot hold
/// replaced by `-`, and `b-` in front when it would not start with a letter.
pub fn resource_tag(backend: &str) -> String {
    let mapped: String = backend
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if mapped.starts_with(|c: char| c.is_ascii_lowercase()) {
        mapped
    } else {
        format!("b-{mapped}")
    }
}

/// Which bare schemes belong to which backend, from one round of resource listings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UriTable {
    /// Lower-cased scheme → the one backend whose URIs with that scheme stay bare.
    bare: HashMap<String, String>,
}

impl UriTable {
    /// The backend that owns a bare scheme.
    pub fn bare_owner(&self, scheme: &str) -> Option<&str> {
        self.bare
            .get(&scheme.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// The result of multiplexing resource URIs and URI templates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UriMultiplexed {
    pub table: UriTable,
    /// URIs left out, sorted by URI then backend.
    pub refused: Vec<Refusal>,
}

impl Naming {
    /// `<tag>+<uri>`; fails when the URI has no scheme.
    pub fn prefix_uri(&self, backend: &str, uri: &str) -> Result<String, UriError> {
        scheme_of(uri).ok_or_else(|| UriError::NoScheme(uri.to_string()))?;
        Ok(format!("{}+{uri}", resource_tag(backend)))
    }

    /// The backend and upstream URI of a prefixed URI, when its scheme starts with the
    /// tag of a configured backend followed by `+`.
    pub fn split_prefixed_uri(&self, client_uri: &str) -> Option<Upstream> {
        let scheme = scheme_of(client_uri)?;
        let (head, _) = scheme.split_once('+')?;
        let backend = self.backend_tagged(head)?;
        let upstream = &client_uri[head.len() + 1..];
        scheme_of(upstream)?;
        Some(Upstream {
            backend: backend.to_string(),
            name: upstream.to_string(),
        })
    }

    /// Where a client-facing URI lives: a prefixed URI by its tag, a bare one by the owner
    /// of its scheme in the last listing.
    pub fn resolve_uri(&self, table: Option<&UriTable>, client_uri: &str) -> Option<Upstream> {
        if let Some(found) = self.split_prefixed_uri(client_uri) {
            return Some(found);
        }
        let owner = table?.bare_owner(scheme_of(client_uri)?)?;
        Some(Upstream {
            backend: owner.to_string(),
            name: client_uri.to_string(),
        })
    }

    /// The client-facing form of a backend's URI or template; `None` when it cannot be
    /// offered (no scheme, or a `Never`-mode scheme the backend does not own alone).
    pub fn client_uri(&self, table: &UriTable, backend: &str, uri: &str) -> Option<String> {
        let scheme = scheme_of(uri)?;
        if table.bare_owner(scheme) == Some(backend) {
            return Some(uri.to_string());
        }
        match self.mode {
            PrefixMode::Never => None,
            PrefixMode::Always | PrefixMode::Conditional => self.prefix_uri(backend, uri).ok(),
        }
    }

    /// Decides, from every backend's resource URIs and URI templates together, which
    /// schemes stay bare, and what is refused.
    pub fn multiplex_uris(&self, listings: &[Listing<'_>]) -> UriMultiplexed {
        let listed = dedup_listings(listings);
        let mut refused = Vec::new();
        let mut owners: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        for (backend, uri) in &listed {
            match scheme_of(uri) {
                Some(scheme) => {
                    owners
                        .entry(scheme.to_ascii_lowercase())
                        .or_default()
                        .insert(backend);
                }
                None => refused.push(refusal(uri, backend, RefusalReason::InvalidUri)),
            }
        }
        let mut table = UriTable::default();
        if self.mode != PrefixMode::Always {
            for (scheme, backends) in &owners {
                let only = backends.first().filter(|_| backends.len() == 1);
                if let (Some(only), false) = (only, self.looks_prefixed(scheme)) {
                    table.bare.insert(scheme.clone(), only.to_string());
                }
            }
        }
        if self.mode == PrefixMode::Never {
            for (backend, uri) in &listed {
                let Some(scheme) = scheme_of(uri).map(|s| s.to_ascii_lowercase()) else {
                    continue;
                };
                if table.bare.contains_key(&scheme) {
                    continue;
                }
                let sharing = &owners[&scheme];
                let reason = if sharing.len() > 1 {
                    RefusalReason::Collision {
                        backends: sharing.iter().map(|b| b.to_string()).collect(),
                    }
                } else {
                    RefusalReason::LooksPrefixed
                };
                refused.push(refusal(uri, backend, reason));
            }
        }
        refused.sort_by(|a, b| (&a.name, &a.backend).cmp(&(&b.name, &b.backend)));
        UriMultiplexed { table, refused }
    }

    fn backend_tagged(&self, tag: &str) -> Option<&str> {
        self.backends
            .iter()
            .find(|b| resource_tag(b).eq_ignore_ascii_case(tag))
            .map(String::as_str)
    }

    /// Whether a bare scheme would be read as `<tag>+<scheme>` of a configured backend.
    fn looks_prefixed(&self, scheme: &str) -> bool {
        scheme
            .split_once('+')
            .is_some_and(|(head, rest)| !rest.is_empty() && self.backend_tagged(head).is_some())
    }
}

/// The RFC 3986 scheme of a URI or URI template: `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
/// before the first `:`.
pub(crate) fn scheme_of(uri: &str) -> Option<&str> {
    let (scheme, _) = uri.split_once(':')?;
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    let valid = first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then_some(scheme)
}

fn refusal(uri: &str, backend: &str, reason: RefusalReason) -> Refusal {
    Refusal {
        name: uri.to_string(),
        backend: backend.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests;
