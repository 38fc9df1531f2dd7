//! The provider fakes on their own (no Envoy): the official `openai` and `anthropic` Python SDKs
//! pointed directly at them (clients/test_llm_fakes.py), which proves they speak the real wire
//! format; and the Bedrock fake's Converse JSON, ConverseStream eventstream framing and SigV4
//! checks, spoken to raw.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use ai_gateway_test_harness::llm_fake::{bedrock_authorization, eventstream};
use ai_gateway_test_harness::{pytest, Answer, LlmFake, RecordedRequest};
use serde_json::{json, Value};

const OPENAI_KEY: &str = "sk-fake-openai";
const ANTHROPIC_KEY: &str = "sk-ant-fake";
const AWS_KEY_ID: &str = "AKIDFAKEEXAMPLE";
const AWS_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const REGION: &str = "us-east-1";
const BEDROCK_MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdks_speak_to_the_fakes() {
    support::bounded(async {
        let openai = LlmFake::openai(OPENAI_KEY).await.unwrap();
        let anthropic = LlmFake::anthropic(ANTHROPIC_KEY).await.unwrap();
        let run = pytest(
            "test_llm_fakes.py",
            &[
                ("OPENAI_FAKE_URL", &openai.url()),
                ("OPENAI_FAKE_KEY", OPENAI_KEY),
                ("ANTHROPIC_FAKE_URL", &anthropic.url()),
                ("ANTHROPIC_FAKE_KEY", ANTHROPIC_KEY),
            ],
        )
        .await
        .unwrap();
        assert!(
            run.passed,
            "SDK suite against the fakes failed:\n{}",
            run.output
        );
        // The suite ran for real: both fakes saw SDK traffic with the SDKs' own headers.
        let sdk = |fake: &LlmFake, header: &str| {
            fake.requests()
                .iter()
                .filter(|r| r.header(header).is_some())
                .count()
        };
        assert!(
            sdk(&openai, "x-stainless-lang") >= 10,
            "{:?}",
            openai.requests().len()
        );
        assert!(
            sdk(&anthropic, "x-stainless-lang") >= 10,
            "{:?}",
            anthropic.requests().len()
        );
    })
    .await;
}

/// Now as `YYYYMMDDTHHMMSSZ`.
fn amz_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// How a test request is signed.
#[derive(Debug, Clone, Copy)]
enum Signing {
    /// Correctly, with the fake's key.
    Valid,
    /// Not at all.
    Unsigned,
    /// With another key id.
    OtherKeyId,
    /// With the right key id but a wrong secret.
    WrongSecret,
    /// Scoped to another region.
    OtherRegion,
    /// Dated an hour ago.
    Stale,
}

async fn converse(
    fake: &LlmFake,
    operation: &str,
    signing: Signing,
    body: &Value,
) -> reqwest::Response {
    let path = format!("/model/{}/{operation}", BEDROCK_MODEL.replace(':', "%3A"));
    let date = match signing {
        Signing::Stale => {
            let now = amz_now();
            let hour: u32 = now[9..11].parse().unwrap();
            format!("{}{:02}{}", &now[..9], (hour + 23) % 24, &now[11..])
        }
        _ => amz_now(),
    };
    let body = body.to_string();
    let to_sign = RecordedRequest {
        method: "POST".into(),
        path: path.clone(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("host".into(), fake.addr().to_string()),
            ("x-amz-date".into(), date.clone()),
        ],
        body: body.clone().into(),
    };
    let (key_id, secret, region) = match signing {
        Signing::OtherKeyId => ("AKIDOTHER", AWS_SECRET, REGION),
        Signing::WrongSecret => (AWS_KEY_ID, "not-the-secret", REGION),
        Signing::OtherRegion => (AWS_KEY_ID, AWS_SECRET, "eu-west-1"),
        _ => (AWS_KEY_ID, AWS_SECRET, REGION),
    };
    let mut request = support::http()
        .post(format!("{}{path}", fake.url()))
        .header("content-type", "application/json")
        .header("x-amz-date", &date)
        .body(body);
    if !matches!(signing, Signing::Unsigned) {
        request = request.header(
            "authorization",
            bedrock_authorization(&to_sign, key_id, secret, region),
        );
    }
    request.send().await.unwrap()
}

fn hello() -> Value {
    json!({
        "system": [{ "text": "Be brief." }],
        "messages": [{ "role": "user", "content": [{ "text": "hello there" }] }],
        "inferenceConfig": { "maxTokens": 100 }
    })
}

#[tokio::test]
async fn bedrock_converse_answers_in_the_converse_shape() {
    let fake = LlmFake::bedrock(AWS_KEY_ID, AWS_SECRET, REGION)
        .await
        .unwrap();
    let response = converse(&fake, "converse", Signing::Valid, &hello()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["output"]["message"]["content"][0]["text"],
        "echo: hello there"
    );
    assert_eq!(body["stopReason"], "end_turn");
    assert_eq!(
        body["usage"],
        json!({ "inputTokens": 4, "outputTokens": 3, "totalTokens": 7 })
    );
}

#[tokio::test]
async fn bedrock_converse_stream_is_crc_checked_eventstream() {
    let fake = LlmFake::bedrock(AWS_KEY_ID, AWS_SECRET, REGION)
        .await
        .unwrap();
    fake.script(Answer::tool_call("get_weather", json!({ "city": "Paris" })));
    let mut body = hello();
    body["toolConfig"] = json!({ "tools": [{ "toolSpec": { "name": "get_weather",
        "inputSchema": { "json": { "type": "object", "properties": { "city": { "type": "string" } } } } } }] });
    let response = converse(&fake, "converse-stream", Signing::Valid, &body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let bytes = response.bytes().await.unwrap();
    let messages = eventstream::decode_all(&bytes).expect("valid framing and CRCs");
    let kinds: Vec<&str> = messages
        .iter()
        .map(|m| m.header(":event-type").unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"messageStart"));
    assert_eq!(&kinds[kinds.len() - 2..], ["messageStop", "metadata"]);
    assert!(kinds.contains(&"contentBlockStart") && kinds.contains(&"contentBlockStop"));
    let payloads: Vec<Value> = messages
        .iter()
        .map(|m| serde_json::from_slice(&m.payload).unwrap())
        .collect();
    let input: String = payloads
        .iter()
        .filter_map(|p| p["delta"]["toolUse"]["input"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&input).unwrap(),
        json!({ "city": "Paris" })
    );
    assert_eq!(payloads[payloads.len() - 2]["stopReason"], "tool_use");
    assert_eq!(payloads.last().unwrap()["usage"]["inputTokens"], 4);
}

#[tokio::test]
async fn bedrock_refuses_bad_signatures_and_invalid_conversations() {
    let fake = LlmFake::bedrock(AWS_KEY_ID, AWS_SECRET, REGION)
        .await
        .unwrap();
    let user = |text: &str| json!({ "role": "user", "content": [{ "text": text }] });
    let cases = [
        (
            Signing::Unsigned,
            hello(),
            403,
            "MissingAuthenticationTokenException",
        ),
        (
            Signing::OtherKeyId,
            hello(),
            403,
            "UnrecognizedClientException",
        ),
        (
            Signing::WrongSecret,
            hello(),
            403,
            "InvalidSignatureException",
        ),
        (
            Signing::OtherRegion,
            hello(),
            403,
            "IncompleteSignatureException",
        ),
        (Signing::Stale, hello(), 403, "InvalidSignatureException"),
        (
            Signing::Valid,
            json!({ "messages": [{ "role": "assistant", "content": [{ "text": "hi" }] }] }),
            400,
            "ValidationException",
        ),
        (
            Signing::Valid,
            json!({ "messages": [user("a"), user("b")] }),
            400,
            "ValidationException",
        ),
        (
            Signing::Valid,
            json!({ "messages": [user("a")], "max_tokens": 5 }),
            400,
            "ValidationException",
        ),
    ];
    for (signing, body, status, kind) in cases {
        let response = converse(&fake, "converse", signing, &body).await;
        assert_eq!(response.status(), status, "{signing:?} {body}");
        let error_type = response.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            error_type.starts_with(kind),
            "{error_type} for {signing:?} {body}"
        );
        let error: Value = response.json().await.unwrap();
        assert!(error["message"].is_string(), "{error}");
    }
}

#[tokio::test]
async fn bedrock_pairs_tool_use_with_tool_result() {
    let fake = LlmFake::bedrock(AWS_KEY_ID, AWS_SECRET, REGION)
        .await
        .unwrap();
    let tools = json!({ "tools": [{ "toolSpec": { "name": "get_weather",
        "inputSchema": { "json": { "type": "object" } } } }] });
    let use_block = json!({ "toolUse": { "toolUseId": "t1", "name": "get_weather", "input": {} } });
    let unanswered = json!({ "toolConfig": tools, "messages": [
        { "role": "user", "content": [{ "text": "a" }] },
        { "role": "assistant", "content": [use_block] },
        { "role": "user", "content": [{ "text": "b" }] } ] });
    let response = converse(&fake, "converse", Signing::Valid, &unanswered).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("Expected toolResult blocks at messages.2.content for the following Ids: t1"),
        "{error}"
    );
    let answered = json!({ "toolConfig": tools, "messages": [
        { "role": "user", "content": [{ "text": "a" }] },
        { "role": "assistant", "content": [use_block] },
        { "role": "user", "content": [{ "toolResult": { "toolUseId": "t1", "content": [{ "text": "18C" }] } }] } ] });
    let response = converse(&fake, "converse", Signing::Valid, &answered).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["output"]["message"]["content"][0]["text"], "echo: 18C");
}
