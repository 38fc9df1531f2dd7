//! `tools/list`, `prompts/list`, `resources/list`, `resources/templates/list`: one page of
//! N backends' items under client-facing names, and the sealed cursor of the next page.
//!
//! Items keep their order: backend order, then each backend's order. Only the name
//! (`name`, `uri` or `uriTemplate`) is rewritten; every other field passes as the backend
//! wrote it. Names go through [`Naming::multiplex_names`] / [`Naming::multiplex_uris`]
//! together with [`ListContext::known`], listings the filter wants decided together with
//! this page (resource URIs with the last template listing, and vice versa, so both agree
//! on which schemes stay bare). Items whose name was refused are left out and reported.
//!
//! Limits: names are decided per page (plus `known`), so in `conditional` and `never` mode
//! a collision between items on different pages of different backends is only seen if the
//! filter passes the earlier pages as `known`. A backend that fails on a later page is
//! left out of the rest of that listing (it is not retried through the cursor: a dead
//! backend would otherwise make every page end with a cursor and the client loop forever).

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::{
    stateless_fields, triage, Answered, BackendReply, FanOutError, GatewayInfo, Merged,
    ResultStyle, Unsupported,
};
use crate::cursor::PageCursor;
use crate::naming::{Listing, NameKind, NameTable, Naming, Refusal, UriTable};
use crate::routing::FanOutMethod;
use crate::session_token::{Sealer, NONCE_LEN};

/// A paginated list method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Tools,
    Prompts,
    Resources,
    ResourceTemplates,
}

impl ListKind {
    /// The list kind of a fan-out method, if it is one.
    pub fn from_fan_out(method: FanOutMethod) -> Option<ListKind> {
        Some(match method {
            FanOutMethod::ToolsList => ListKind::Tools,
            FanOutMethod::PromptsList => ListKind::Prompts,
            FanOutMethod::ResourcesList => ListKind::Resources,
            FanOutMethod::ResourceTemplatesList => ListKind::ResourceTemplates,
            _ => return None,
        })
    }

    /// The JSON-RPC method name.
    pub fn method(self) -> &'static str {
        match self {
            ListKind::Tools => "tools/list",
            ListKind::Prompts => "prompts/list",
            ListKind::Resources => "resources/list",
            ListKind::ResourceTemplates => "resources/templates/list",
        }
    }

    /// The result member holding the items.
    pub fn items_key(self) -> &'static str {
        match self {
            ListKind::Tools => "tools",
            ListKind::Prompts => "prompts",
            ListKind::Resources => "resources",
            ListKind::ResourceTemplates => "resourceTemplates",
        }
    }

    /// The item member holding its name or URI.
    pub fn name_key(self) -> &'static str {
        match self {
            ListKind::Tools | ListKind::Prompts => "name",
            ListKind::Resources => "uri",
            ListKind::ResourceTemplates => "uriTemplate",
        }
    }
}

/// What a list merge needs besides the replies.
#[derive(Debug, Clone, Copy)]
pub struct ListContext<'a> {
    pub naming: &'a Naming,
    /// Seals the next cursor ([`PageCursor::seal`]).
    pub sealer: &'a Sealer,
    /// Fresh random bytes for sealing the next cursor (used only when there is one).
    pub nonce: [u8; NONCE_LEN],
    pub style: ResultStyle,
    pub gateway: &'a GatewayInfo,
    /// Listings decided together with this page but not part of it (see the module docs).
    pub known: &'a [Listing<'a>],
}

/// The routing table a list merge produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListTable {
    /// Tools or prompts.
    Names(NameTable),
    /// Resources or resource templates.
    Uris(UriTable),
}

/// One merged page.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// The client-facing result, `nextCursor` included when a backend has more.
    pub result: Value,
    /// Client-facing ↔ upstream names of this page and [`ListContext::known`], for routing.
    pub table: ListTable,
    /// This page's items left out for their name: log and count each.
    pub refused: Vec<Refusal>,
    /// One backend name per item left out for having no string name/URI.
    pub malformed: Vec<String>,
    /// The backends with more to list (what `nextCursor` seals).
    pub next: PageCursor,
}

/// Merges one page of a list method (see the module docs).
pub fn merge_list(
    kind: ListKind,
    ctx: &ListContext<'_>,
    replies: &[BackendReply<'_>],
) -> Result<Merged<ListPage>, FanOutError> {
    let triage = triage(kind.method(), replies, Unsupported::AddsNothing, |result| {
        items(result, kind)
            .map(|_| ())
            .ok_or_else(|| format!("result has no {} array", kind.items_key()))
    })?;
    let mut malformed = Vec::new();
    let mut listings: Vec<Listing<'_>> = Vec::new();
    for a in &triage.answered {
        let mut names = Vec::new();
        for item in items(a.result, kind).into_iter().flatten() {
            match name_of(item, kind) {
                Some(name) => names.push(name),
                None => malformed.push(a.backend.to_string()),
            }
        }
        listings.push(Listing {
            backend: a.backend,
            names,
        });
    }
    let decided: Vec<Listing<'_>> = listings.iter().chain(ctx.known).cloned().collect();
    let naming = ctx.naming;
    let (table, refused) = match kind {
        ListKind::Tools | ListKind::Prompts => {
            let name_kind = if kind == ListKind::Tools {
                NameKind::Tool
            } else {
                NameKind::Prompt
            };
            let m = naming.multiplex_names(name_kind, &decided);
            (ListTable::Names(m.table), m.refused)
        }
        ListKind::Resources | ListKind::ResourceTemplates => {
            let m = naming.multiplex_uris(&decided);
            (ListTable::Uris(m.table), m.refused)
        }
    };
    let items = client_items(kind, naming, &table, &triage.answered);
    let refused = refusals_of_page(naming, &listings, refused);
    let next = PageCursor::new(triage.answered.iter().filter_map(|a| {
        let cursor = a.result.get("nextCursor")?.as_str()?;
        Some((a.backend, cursor))
    }));
    let mut result = Map::new();
    result.insert(kind.items_key().into(), Value::Array(items));
    if !next.is_exhausted() {
        let sealed =
            next.seal(ctx.sealer, kind, ctx.nonce)
                .map_err(|source| FanOutError::Cursor {
                    method: kind.method(),
                    source,
                })?;
        result.insert("nextCursor".into(), json!(sealed));
    }
    stateless_fields(&mut result, ctx.style, ctx.gateway, &triage.answered);
    Ok(Merged {
        value: ListPage {
            result: Value::Object(result),
            table,
            refused,
            malformed,
            next,
        },
        left_out: triage.left_out,
    })
}

fn items(result: &Value, kind: ListKind) -> Option<&Vec<Value>> {
    result.get(kind.items_key())?.as_array()
}

fn name_of(item: &Value, kind: ListKind) -> Option<&str> {
    item.get(kind.name_key())?.as_str()
}

/// Every answered item whose name the table kept, renamed, first occurrence only.
fn client_items(
    kind: ListKind,
    naming: &Naming,
    table: &ListTable,
    answered: &[Answered<'_>],
) -> Vec<Value> {
    let mut emitted = BTreeSet::new();
    let mut out = Vec::new();
    for a in answered {
        for item in items(a.result, kind).into_iter().flatten() {
            let Some(name) = name_of(item, kind) else {
                continue;
            };
            let client = match table {
                ListTable::Names(t) => t.client_name(a.backend, name).map(str::to_string),
                ListTable::Uris(t) => naming.client_uri(t, a.backend, name),
            };
            let Some(client) = client else {
                continue;
            };
            if !emitted.insert(client.clone()) {
                continue;
            }
            let mut item = item.clone();
            if let Some(fields) = item.as_object_mut() {
                fields.insert(kind.name_key().into(), Value::String(client));
            }
            out.push(item);
        }
    }
    out
}

/// The refusals that concern this page's items (not those of `known` listings). A refusal
/// names either the upstream name or its prefixed form.
fn refusals_of_page(
    naming: &Naming,
    listings: &[Listing<'_>],
    refused: Vec<Refusal>,
) -> Vec<Refusal> {
    let mut on_page: BTreeSet<(String, String)> = BTreeSet::new();
    for listing in listings {
        for name in &listing.names {
            let backend = listing.backend.to_string();
            on_page.insert((backend.clone(), name.to_string()));
            on_page.insert((backend, naming.prefixed(listing.backend, name)));
        }
    }
    refused
        .into_iter()
        .filter(|r| on_page.contains(&(r.backend.clone(), r.name.clone())))
        .collect()
}
