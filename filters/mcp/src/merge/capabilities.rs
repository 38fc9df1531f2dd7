//! `initialize` (session-based protocols) and `server/discover` (2026-07-28): one server
//! identity for N backends.
//!
//! Capabilities: the union of what the backends advertise, restricted to the features the
//! gateway can route ([`ROUTABLE`]); sub-flags (`listChanged`, `subscribe`, …) are OR-ed,
//! other values keep the first backend's. `experimental`, `extensions` and `tasks` are not
//! advertised: their methods are unknown to the gateway, which could not send them to the
//! right backend.
//!
//! Protocol version of a merged `initialize`: the client's requested version when every
//! backend that answered agreed to it. Otherwise the spec has a server answer another
//! version it supports; the gateway answers the oldest version a backend answered (among
//! those it knows), so the client is told the generation of its least capable backend
//! rather than promised features one backend lacks. The client may then disconnect, as the
//! spec allows. Each backend's own version is returned in [`Initialized::backend_versions`]
//! for its `MCP-Protocol-Version` header.
//!
//! `server/discover` has no negotiation: `supportedVersions` are the gateway's own (it
//! bridges every generation to every backend). A discover merge accepts `initialize`
//! results too, for backends the filter had to initialize because they predate discover.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::{
    stateless_fields, triage, BackendReply, FanOutError, Merged, ResultStyle, Unsupported,
};
use crate::naming::{Naming, PrefixMode};

/// The capabilities whose methods the gateway routes.
pub const ROUTABLE: [&str; 5] = ["tools", "prompts", "resources", "logging", "completions"];

/// The gateway's own identity, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayInfo {
    pub name: String,
    pub version: String,
}

impl GatewayInfo {
    /// `{name, version}`, an MCP `Implementation`.
    pub fn to_json(&self) -> Value {
        json!({ "name": self.name, "version": self.version })
    }
}

/// A merged `initialize` result.
#[derive(Debug, Clone, PartialEq)]
pub struct Initialized {
    /// The client-facing `InitializeResult`.
    pub result: Value,
    /// The version answered to the client (goes into the session token).
    pub protocol_version: String,
    /// Backend → the version it answered, for backends that answered.
    pub backend_versions: BTreeMap<String, String>,
}

/// Merges the backends' `initialize` results for a client that asked for `requested`;
/// `supported` lists the versions the gateway speaks.
pub fn merge_initialize(
    gateway: &GatewayInfo,
    naming: &Naming,
    requested: &str,
    supported: &[&str],
    replies: &[BackendReply<'_>],
) -> Result<Merged<Initialized>, FanOutError> {
    let triage = triage(
        "initialize",
        replies,
        Unsupported::Fails,
        |result| match result.get("protocolVersion") {
            Some(Value::String(_)) => Ok(()),
            _ => Err("initialize result without protocolVersion".to_string()),
        },
    )?;
    let backend_versions: BTreeMap<String, String> = triage
        .answered
        .iter()
        .filter_map(|a| {
            let version = a.result.get("protocolVersion")?.as_str()?;
            Some((a.backend.to_string(), version.to_string()))
        })
        .collect();
    let protocol_version = negotiate(requested, supported, backend_versions.values());
    let mut result = Map::new();
    result.insert("protocolVersion".into(), json!(protocol_version));
    result.insert("capabilities".into(), union(&triage.answered));
    result.insert("serverInfo".into(), gateway.to_json());
    result.insert(
        "instructions".into(),
        json!(instructions(naming, &triage.answered)),
    );
    Ok(Merged {
        value: Initialized {
            result: Value::Object(result),
            protocol_version,
            backend_versions,
        },
        left_out: triage.left_out,
    })
}

/// Merges the backends' `server/discover` (or `initialize`) results into the gateway's.
pub fn merge_discover(
    gateway: &GatewayInfo,
    naming: &Naming,
    supported: &[&str],
    replies: &[BackendReply<'_>],
) -> Result<Merged<Value>, FanOutError> {
    let triage = triage("server/discover", replies, Unsupported::Fails, |_| Ok(()))?;
    let mut result = Map::new();
    result.insert("supportedVersions".into(), json!(supported));
    result.insert("capabilities".into(), union(&triage.answered));
    result.insert(
        "instructions".into(),
        json!(instructions(naming, &triage.answered)),
    );
    stateless_fields(
        &mut result,
        ResultStyle::Stateless,
        gateway,
        &triage.answered,
    );
    Ok(Merged {
        value: Value::Object(result),
        left_out: triage.left_out,
    })
}

/// See the module docs.
fn negotiate<'a>(
    requested: &str,
    supported: &[&str],
    answered: impl Iterator<Item = &'a String> + Clone,
) -> String {
    if answered.clone().all(|v| v == requested) && supported.contains(&requested) {
        return requested.to_string();
    }
    let oldest_known = answered
        .filter(|v| supported.contains(&v.as_str()))
        .min()
        .cloned();
    oldest_known.unwrap_or_else(|| {
        let fallback = if supported.contains(&requested) {
            requested
        } else {
            supported.iter().max().copied().unwrap_or(requested)
        };
        fallback.to_string()
    })
}

fn union(answered: &[super::Answered<'_>]) -> Value {
    let mut merged = Map::new();
    for a in answered {
        let Some(caps) = a.result.get("capabilities").and_then(Value::as_object) else {
            continue;
        };
        for name in ROUTABLE {
            if let Some(value) = caps.get(name) {
                match merged.get_mut(name) {
                    Some(existing) => or_into(existing, value),
                    None => {
                        merged.insert(name.to_string(), value.clone());
                    }
                }
            }
        }
    }
    Value::Object(merged)
}

/// Objects merge key by key, booleans OR; anything else keeps what is there.
fn or_into(target: &mut Value, source: &Value) {
    match (target, source) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(key) {
                    Some(existing) => or_into(existing, value),
                    None => {
                        target.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (Value::Bool(target), Value::Bool(source)) => *target |= *source,
        _ => {}
    }
}

/// Names every backend that answered, says how names are multiplexed, and carries each
/// backend's own instructions under its name.
fn instructions(naming: &Naming, answered: &[super::Answered<'_>]) -> String {
    let names: Vec<&str> = answered.iter().map(|a| a.backend).collect();
    let mut text = format!(
        "This server is a gateway to {} MCP server(s): {}. {}",
        names.len(),
        names.join(", "),
        naming_rule(naming)
    );
    for a in answered {
        let own = a
            .result
            .get("instructions")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(own) = own {
            text.push_str(&format!("\n\n## {}\n{own}", a.backend));
        }
    }
    text
}

fn naming_rule(naming: &Naming) -> String {
    let name = naming.prefixed("<server>", "<name>");
    match naming.mode() {
        PrefixMode::Always => format!(
            "Tool and prompt names read `{name}`; resource URIs read `<server>+<uri>` \
             (server in lower case)."
        ),
        PrefixMode::Conditional => format!(
            "A tool or prompt name several servers share reads `{name}`; resource URIs whose \
             scheme several servers share read `<server>+<uri>` (server in lower case)."
        ),
        PrefixMode::Never => "Names and URIs are as each server gives them; those several \
                              servers share are left out."
            .to_string(),
    }
}
