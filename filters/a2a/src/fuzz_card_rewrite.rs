//! Fuzz target: the agent-card rewriter. The documented example cards in `testdata/` under
//! structural and byte-level mutation, bare and in a JSON-RPC envelope, under every signed-card
//! policy: never a panic; a replaced body is JSON, bounded, and differs from the input only in
//! the interface URLs (and a stripped signature).

use std::path::Path;

use ai_gateway_core::fuzz::{self, check};
use proptest::prelude::*;
use serde_json::Value;

use crate::card_rewrite::{rewrite_card, CardDecision, CardEnvelope, RewriteTarget};
use crate::config::{Agent, SignedCards};

const PUBLIC_BASE: &str = "http://gw:10000";

/// The card inside a body (the envelope's `result`), when there is one.
fn card_of(body: &Value, envelope: CardEnvelope) -> Option<Value> {
    match envelope {
        CardEnvelope::Bare => body.as_object().map(|_| body.clone()),
        CardEnvelope::JsonRpcResult => body.get("result").filter(|r| r.is_object()).cloned(),
    }
}

/// `card` without the members the rewriter may change.
fn without_rewritable(mut card: Value) -> Value {
    if let Some(card) = card.as_object_mut() {
        card.remove("url");
        card.remove("signatures");
        for list in ["supportedInterfaces", "additionalInterfaces"] {
            if let Some(Value::Array(items)) = card.get_mut(list) {
                items
                    .iter_mut()
                    .filter_map(Value::as_object_mut)
                    .for_each(|i| {
                        i.remove("url");
                    });
            }
        }
    }
    card
}

#[test]
fn fuzz_card_rewrite() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let seeds = fuzz::json_captures(fuzz::captures(
        &root,
        &["card.json", "signed.json", "_v1.json"],
    ));
    let policies = [SignedCards::Strip, SignedCards::Keep, SignedCards::Reject];
    let input = (
        fuzz::json_mutated(seeds, 6),
        proptest::sample::select(policies.to_vec()),
        any::<bool>(),
    );
    let agent = Agent {
        name: "demo".into(),
        path_prefix: "/a2a/demo".into(),
        upstream_path_prefix: "/".into(),
    };
    fuzz::run("a2a_card_rewrite", input, |(body, policy, enveloped)| {
        let envelope = match enveloped {
            true => CardEnvelope::JsonRpcResult,
            false => CardEnvelope::Bare,
        };
        let target = RewriteTarget {
            agent: &agent,
            public_base: PUBLIC_BASE,
        };
        let CardDecision::Replace { body: out, .. } = rewrite_card(&body, envelope, target, policy)
        else {
            return Ok(());
        };
        check(out.len() <= 8 * body.len() + 1024, || {
            format!("{} bytes out of {}", out.len(), body.len())
        })?;
        let (before, after): (Value, Value) =
            match (serde_json::from_slice(&body), serde_json::from_slice(&out)) {
                (Ok(before), Ok(after)) => (before, after),
                (_, after) => {
                    return Err(TestCaseError::fail(format!("output not JSON: {after:?}")))
                }
            };
        let kept = |v: &Value| card_of(v, envelope).map(without_rewritable);
        let kept_same = match (kept(&before), kept(&after)) {
            (Some(before), Some(after)) => fuzz::same_json(&before, &after),
            (before, after) => before == after,
        };
        check(kept_same, || {
            format!("members besides interface URLs changed:\n{before}\n{after}")
        })
    });
}
