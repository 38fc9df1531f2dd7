//! Agent-card rewriting: point every interface URL a client will call at the gateway.
//!
//! Rewritten: v1.0 `supportedInterfaces[].url`, v0.3 `url` and `additionalInterfaces[].url`.
//! Deliberately untouched: `provider.url`, `documentationUrl`, `iconUrl` and the OAuth /
//! OpenID URLs inside `securitySchemes` (they point at the provider or the authorization
//! server, not at the agent). Every other member is kept, in order.

use serde_json::{Map, Value};

use crate::config::{Agent, SignedCards};
use crate::url::{to_gateway_url, NotRewritten};

/// Where the card is in the response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardEnvelope {
    /// The body is the card (well-known paths, REST extended card).
    Bare,
    /// The body is a JSON-RPC response whose `result` is the card.
    JsonRpcResult,
}

/// The `result` tag of `a2a_cards_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardResult {
    Rewritten,
    SignatureStripped,
    SignedKept,
    SignedRejected,
    NotJson,
    TooLarge,
}

impl CardResult {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            CardResult::Rewritten => "rewritten",
            CardResult::SignatureStripped => "signature_stripped",
            CardResult::SignedKept => "signed_kept",
            CardResult::SignedRejected => "signed_rejected",
            CardResult::NotJson => "not_json",
            CardResult::TooLarge => "too_large",
        }
    }
}

/// What to do with the card response.
#[derive(Debug, Clone, PartialEq)]
pub enum CardDecision {
    /// Serve this body instead.
    Replace {
        body: Vec<u8>,
        result: CardResult,
        skipped: Vec<SkippedUrl>,
    },
    /// Serve the original body unchanged; `result` is `None` when there was no card to count
    /// (e.g. a JSON-RPC error response).
    Unchanged { result: Option<CardResult> },
    /// Refuse to serve a signed card.
    Reject,
}

/// An interface URL the gateway could not map (logged by the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedUrl {
    /// JSON path of the member, e.g. `additionalInterfaces[1].url`.
    pub field: String,
    pub url: String,
    pub reason: NotRewritten,
}

/// The agent the card belongs to and the public base URL its interfaces must use.
#[derive(Debug, Clone, Copy)]
pub struct RewriteTarget<'a> {
    pub agent: &'a Agent,
    pub public_base: &'a str,
}

/// Rewrites a complete card response body.
pub fn rewrite_card(
    body: &[u8],
    envelope: CardEnvelope,
    target: RewriteTarget<'_>,
    policy: SignedCards,
) -> CardDecision {
    let Ok(mut doc) = serde_json::from_slice::<Value>(body) else {
        return CardDecision::Unchanged {
            result: Some(CardResult::NotJson),
        };
    };
    let card = match envelope {
        CardEnvelope::Bare => doc.as_object_mut(),
        CardEnvelope::JsonRpcResult => match doc.as_object_mut() {
            // A JSON-RPC error (or anything without a result) carries no card.
            Some(obj) if obj.contains_key("result") => {
                obj.get_mut("result").and_then(Value::as_object_mut)
            }
            Some(_) => return CardDecision::Unchanged { result: None },
            None => None,
        },
    };
    let Some(card) = card else {
        return CardDecision::Unchanged {
            result: Some(CardResult::NotJson),
        };
    };
    let signed = card
        .get("signatures")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let result = match (signed, policy) {
        (false, _) => CardResult::Rewritten,
        (true, SignedCards::Reject) => return CardDecision::Reject,
        (true, SignedCards::Keep) => CardResult::SignedKept,
        (true, SignedCards::Strip) => {
            card.remove("signatures");
            CardResult::SignatureStripped
        }
    };
    let skipped = rewrite_interface_urls(card, target);
    match serde_json::to_vec(&doc) {
        Ok(body) => CardDecision::Replace {
            body,
            result,
            skipped,
        },
        Err(_) => CardDecision::Unchanged {
            result: Some(CardResult::NotJson),
        },
    }
}

/// The JSON body of the 502 answer when a signed card is refused.
pub fn rejection_body() -> Vec<u8> {
    serde_json::json!({
        "error": {
            "code": 502,
            "status": "signed_card_rejected",
            "message": "the agent card is signed (signatures[]); the gateway must rewrite its URLs, \
                        which would invalidate the signatures, and its signedCards policy is \"reject\"",
        }
    })
    .to_string()
    .into_bytes()
}

fn rewrite_interface_urls(
    card: &mut Map<String, Value>,
    target: RewriteTarget<'_>,
) -> Vec<SkippedUrl> {
    let mut skipped = Vec::new();
    // v0.3: the top-level `url` serves `preferredTransport` (JSONRPC when absent).
    let top_level_grpc = is_grpc(card.get("preferredTransport"));
    if let Some(url) = card.get_mut("url") {
        rewrite_url_member(url, "url".to_string(), top_level_grpc, target, &mut skipped);
    }
    // v1.0 names an interface's binding `protocolBinding`, v0.3 `transport`.
    for (list, binding) in [
        ("supportedInterfaces", "protocolBinding"),
        ("additionalInterfaces", "transport"),
    ] {
        let Some(Value::Array(interfaces)) = card.get_mut(list) else {
            continue;
        };
        for (i, interface) in interfaces.iter_mut().enumerate() {
            let Some(interface) = interface.as_object_mut() else {
                continue;
            };
            let grpc = is_grpc(interface.get(binding));
            if let Some(url) = interface.get_mut("url") {
                let field = format!("{list}[{i}].url");
                rewrite_url_member(url, field, grpc, target, &mut skipped);
            }
        }
    }
    skipped
}

fn is_grpc(binding: Option<&Value>) -> bool {
    binding
        .and_then(Value::as_str)
        .is_some_and(|b| b.eq_ignore_ascii_case("GRPC"))
}

fn rewrite_url_member(
    value: &mut Value,
    field: String,
    grpc: bool,
    target: RewriteTarget<'_>,
    skipped: &mut Vec<SkippedUrl>,
) {
    let Value::String(url) = value else {
        return;
    };
    let rewritten = if grpc {
        // gRPC clients call `/<service>/<method>` on the URL's authority and ignore its path,
        // so a path-prefix route cannot carry them: such interfaces stay the agent's own.
        Err(NotRewritten::GrpcBinding)
    } else {
        to_gateway_url(url, target.public_base, target.agent)
    };
    match rewritten {
        Ok(rewritten) => *url = rewritten,
        Err(reason) => skipped.push(SkippedUrl {
            field,
            url: url.clone(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn agent() -> Agent {
        Agent {
            name: "demo".into(),
            path_prefix: "/a2a/demo".into(),
            upstream_path_prefix: "/".into(),
        }
    }

    fn rewrite(card: &Value, envelope: CardEnvelope, policy: SignedCards) -> CardDecision {
        let agent = agent();
        let target = RewriteTarget {
            agent: &agent,
            public_base: "http://gw:10000",
        };
        rewrite_card(card.to_string().as_bytes(), envelope, target, policy)
    }

    fn replaced(decision: CardDecision) -> (Value, CardResult) {
        match decision {
            CardDecision::Replace { body, result, .. } => {
                (serde_json::from_slice(&body).unwrap(), result)
            }
            other => panic!("expected a replacement, got {other:?}"),
        }
    }

    #[test]
    fn interface_urls_are_rewritten_and_other_urls_kept() {
        let card = json!({
            "name": "x",
            "url": "http://agent:9999/",
            "provider": {"organization": "o", "url": "http://agent:9999/about"},
            "documentationUrl": "http://agent:9999/docs",
            "iconUrl": "http://agent:9999/icon.png",
            "supportedInterfaces": [{"url": "http://agent:9999/rpc", "protocolBinding": "JSONRPC"}],
            "additionalInterfaces": [{"url": "http://agent:9999/rest", "transport": "HTTP+JSON"}],
            "securitySchemes": {"o": {"oauth2SecurityScheme": {"flows": {"clientCredentials": {"tokenUrl": "http://agent:9999/token"}}}}},
        });
        let (out, result) = replaced(rewrite(&card, CardEnvelope::Bare, SignedCards::Strip));
        assert_eq!(result, CardResult::Rewritten);
        assert_eq!(out["url"], "http://gw:10000/a2a/demo/");
        assert_eq!(
            out["supportedInterfaces"][0]["url"],
            "http://gw:10000/a2a/demo/rpc"
        );
        assert_eq!(
            out["additionalInterfaces"][0]["url"],
            "http://gw:10000/a2a/demo/rest"
        );
        assert_eq!(out["provider"], card["provider"]);
        assert_eq!(out["documentationUrl"], card["documentationUrl"]);
        assert_eq!(out["iconUrl"], card["iconUrl"]);
        assert_eq!(out["securitySchemes"], card["securitySchemes"]);
    }

    #[test]
    fn member_order_is_preserved() {
        let body = br#"{"zeta":1,"url":"http://a/","alpha":2,"middle":{"b":1,"a":2}}"#;
        let agent = agent();
        let target = RewriteTarget {
            agent: &agent,
            public_base: "http://gw",
        };
        let CardDecision::Replace { body, .. } =
            rewrite_card(body, CardEnvelope::Bare, target, SignedCards::Strip)
        else {
            panic!("not rewritten");
        };
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"zeta":1,"url":"http://gw/a2a/demo/","alpha":2,"middle":{"b":1,"a":2}}"#
        );
    }

    #[test]
    fn signature_policies() {
        let card =
            json!({"url": "http://a/", "signatures": [{"protected": "p", "signature": "s"}]});
        let (out, result) = replaced(rewrite(&card, CardEnvelope::Bare, SignedCards::Strip));
        assert_eq!(result, CardResult::SignatureStripped);
        assert!(out.get("signatures").is_none());

        let (out, result) = replaced(rewrite(&card, CardEnvelope::Bare, SignedCards::Keep));
        assert_eq!(result, CardResult::SignedKept);
        assert_eq!(out["signatures"], card["signatures"]);

        assert_eq!(
            rewrite(&card, CardEnvelope::Bare, SignedCards::Reject),
            CardDecision::Reject
        );

        let empty = json!({"url": "http://a/", "signatures": []});
        let (out, result) = replaced(rewrite(&empty, CardEnvelope::Bare, SignedCards::Reject));
        assert_eq!(
            result,
            CardResult::Rewritten,
            "an empty signatures[] is not a signed card"
        );
        assert_eq!(out["signatures"], json!([]));
    }

    #[test]
    fn json_rpc_results_are_rewritten_and_errors_left_alone() {
        let ok = json!({"jsonrpc": "2.0", "id": 1, "result": {"supportedInterfaces": [{"url": "http://a/x"}]}});
        let (out, _) = replaced(rewrite(
            &ok,
            CardEnvelope::JsonRpcResult,
            SignedCards::Strip,
        ));
        assert_eq!(
            out["result"]["supportedInterfaces"][0]["url"],
            "http://gw:10000/a2a/demo/x"
        );
        assert_eq!(out["id"], 1);

        let err = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32007, "message": "no"}});
        assert_eq!(
            rewrite(&err, CardEnvelope::JsonRpcResult, SignedCards::Strip),
            CardDecision::Unchanged { result: None }
        );
    }

    #[test]
    fn non_json_and_non_object_cards_are_unchanged() {
        let agent = agent();
        let target = RewriteTarget {
            agent: &agent,
            public_base: "http://gw",
        };
        for body in [&b"<html>"[..], b"[1,2]", b"\"s\"", b""] {
            assert_eq!(
                rewrite_card(body, CardEnvelope::Bare, target, SignedCards::Strip),
                CardDecision::Unchanged {
                    result: Some(CardResult::NotJson)
                },
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn unmappable_and_grpc_interface_urls_are_reported_and_kept() {
        let card = json!({
            "url": "http://agent:50051", "preferredTransport": "GRPC",
            "supportedInterfaces": [
                {"url": "agent:50051", "protocolBinding": "JSONRPC"},
                {"url": "http://agent:50051", "protocolBinding": "GRPC"},
            ],
            "additionalInterfaces": [{"url": "https://agent:50051", "transport": "grpc"}],
        });
        match rewrite(&card, CardEnvelope::Bare, SignedCards::Strip) {
            CardDecision::Replace { body, skipped, .. } => {
                let out: Value = serde_json::from_slice(&body).unwrap();
                assert_eq!(out, card);
                let reasons: Vec<(&str, &NotRewritten)> = skipped
                    .iter()
                    .map(|s| (s.field.as_str(), &s.reason))
                    .collect();
                assert_eq!(
                    reasons,
                    vec![
                        ("url", &NotRewritten::GrpcBinding),
                        ("supportedInterfaces[0].url", &NotRewritten::NotHttp),
                        ("supportedInterfaces[1].url", &NotRewritten::GrpcBinding),
                        ("additionalInterfaces[0].url", &NotRewritten::GrpcBinding),
                    ]
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
