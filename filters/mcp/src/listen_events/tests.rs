use super::*;
use serde_json::json;

fn event(data: &Value) -> String {
    format!("event: message\nid: 3\ndata: {data}\n\n")
}

fn messages(bytes: &[u8]) -> Vec<Value> {
    let mut parser = SseParser::new(1 << 20);
    parser
        .feed(bytes)
        .into_iter()
        .map(|e| serde_json::from_str(&e.unwrap().data).unwrap())
        .collect()
}

fn wanted() -> Wanted {
    Wanted::from_params(Some(&json!({"notifications": {
        "toolsListChanged": true, "promptsListChanged": false,
        "resourceSubscriptions": ["py+notes://session/readme"]}})))
}

fn stamped(id: &str) -> Value {
    json!({SUBSCRIPTION_ID_META_KEY: id})
}

#[test]
fn the_filter_is_read_and_written_back() {
    let wanted = wanted();
    assert_eq!(wanted.lists, vec!["toolsListChanged"]);
    assert_eq!(wanted.uris, vec!["py+notes://session/readme".to_string()]);
    assert_eq!(
        wanted.filter(&["notes://session/readme".into()]),
        json!({"toolsListChanged": true, "resourceSubscriptions": ["notes://session/readme"]})
    );
    assert_eq!(wanted.filter(&[]), json!({"toolsListChanged": true}));
    assert_eq!(Wanted::from_params(None), Wanted::default());
}

#[test]
fn a_merged_part_keeps_back_the_backends_framing_and_stamps_what_passes() {
    let uris = vec![(
        "notes://session/readme".to_string(),
        "py+notes://session/readme".to_string(),
    )];
    let mut part = ListenPart::new(
        Source::Listen,
        Framing::Merged,
        wanted(),
        json!("listen-1"),
        uris,
        Some("py+".into()),
        1 << 16,
    );
    let upstream = stamped("up-7");
    let stream = [
        event(&json!({"jsonrpc": "2.0", "method": ACKNOWLEDGED,
                      "params": {"notifications": {"toolsListChanged": true}, "_meta": upstream}})),
        event(
            &json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed",
                      "params": {"_meta": upstream}}),
        ),
        event(
            &json!({"jsonrpc": "2.0", "method": "notifications/prompts/list_changed",
                      "params": {"_meta": upstream}}),
        ),
        event(&json!({"jsonrpc": "2.0", "method": RESOURCE_UPDATED,
                      "params": {"uri": "notes://session/readme", "_meta": upstream}})),
        event(&json!({"jsonrpc": "2.0", "method": "notifications/message",
                      "params": {"level": "info", "data": "x"}})),
        event(&json!({"jsonrpc": "2.0", "id": 4, "method": "roots/list"})),
    ]
    .concat();
    assert!(!part.acknowledged());
    let out = part.feed(stream.as_bytes());
    assert!(part.acknowledged());
    assert_eq!(out.count(EventKind::Notification), 5);
    assert_eq!(out.count(EventKind::Request), 1);
    assert_eq!(
        messages(&out.bytes),
        vec![
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed",
                   "params": {"_meta": stamped("listen-1")}}),
            json!({"jsonrpc": "2.0", "method": RESOURCE_UPDATED,
                   "params": {"uri": "py+notes://session/readme", "_meta": stamped("listen-1")}}),
        ]
    );
    assert!(!part.ended_gracefully());
    let end = event(&json!({"jsonrpc": "2.0", "id": "up-7", "result": {"_meta": upstream}}));
    let out = part.feed(end.as_bytes());
    assert!(out.bytes.is_empty());
    assert!(part.ended_gracefully());
}

#[test]
fn a_session_stream_is_ready_once_open_and_never_ends_gracefully() {
    let mut part = ListenPart::new(
        Source::SessionStream,
        Framing::Merged,
        wanted(),
        json!(5),
        Vec::new(),
        None,
        1 << 16,
    );
    assert!(!part.acknowledged());
    part.opened();
    assert!(part.acknowledged());
    let changed = json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"});
    let split = event(&changed);
    let (a, b) = split.as_bytes().split_at(10);
    assert!(part.feed(a).bytes.is_empty());
    let out = part.feed(b);
    assert_eq!(
        messages(&out.bytes),
        vec![
            json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed",
                    "params": {"_meta": {SUBSCRIPTION_ID_META_KEY: 5}}})
        ]
    );
    // No URI was subscribed on this backend: its updates are not the client's.
    let updated = json!({"jsonrpc": "2.0", "method": RESOURCE_UPDATED, "params": {"uri": "a:b"}});
    assert!(part.feed(event(&updated).as_bytes()).bytes.is_empty());
    assert!(!part.ended_gracefully());
}

#[test]
fn a_routed_part_passes_the_backends_framing_with_client_uris() {
    let mut part = ListenPart::new(
        Source::Listen,
        Framing::Routed,
        wanted(),
        json!("l"),
        Vec::new(),
        Some("py+".into()),
        1 << 16,
    );
    let ack = json!({"jsonrpc": "2.0", "method": ACKNOWLEDGED, "params": {
        "notifications": {"resourceSubscriptions": ["notes://session/readme"]},
        "_meta": stamped("l")}});
    let result = json!({"jsonrpc": "2.0", "id": "l", "result": {"_meta": stamped("l")}});
    let out = part.feed([event(&ack), event(&result)].concat().as_bytes());
    let got = messages(&out.bytes);
    assert_eq!(
        got[0]["params"]["notifications"]["resourceSubscriptions"],
        json!(["py+notes://session/readme"])
    );
    assert_eq!(got[1], result);
    assert!(part.ended_gracefully());
}

#[test]
fn the_gateways_own_framing() {
    let ack = messages(&acknowledgment(
        &json!("l"),
        json!({"toolsListChanged": true}),
    ));
    assert_eq!(ack[0]["method"], ACKNOWLEDGED);
    assert_eq!(ack[0]["params"]["_meta"], stamped("l"));
    let end = messages(&closing(&json!("l"), None));
    assert_eq!(end[0]["result"]["_meta"], stamped("l"));
    assert_eq!(end[0]["id"], "l");
    let failed = messages(&closing(&json!("l"), Some("no backend")));
    assert_eq!(failed[0]["error"]["message"], "no backend");
    assert_eq!(id_value(&Id::from(3)), json!(3));
}
