//! Adapter conformance: the catalog's diagnostic `host-probe` filter (from the diagnostics build,
//! `target/diagnostics`) drives each `Host` method from request headers, and real Envoy shows
//! whether each adapter maps it faithfully, once per flavour (`dynmod::*` and `wasm::*`).
//!
//! Layout: two fake upstreams behind the gateway, agents `first` (`/a2a/first/...`, cluster
//! `agent_first`) and `second` (`/a2a/second/...`, cluster `agent_second`), each reaching its
//! upstream as `/...`.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ai_gateway_test_harness::{AgentRoute, Bootstrap, Envoy, FakeUpstream, Flavour, Reply};
use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde_json::json;
use tokio::sync::mpsc;

use support::{http, metric};

per_flavour!(
    local_reply_answers_without_reaching_upstream,
    several_request_headers_are_read_at_once,
    removed_request_header_does_not_reach_upstream,
    path_rewrite_with_route_cache_clear_reaches_the_other_cluster,
    path_rewrite_without_clear_reroutes_only_under_wasm,
    request_headers_at_response_time_are_only_readable_in_dynmod,
    response_header_written_during_the_request_is_dropped,
    panic_fails_the_request_and_the_filter_recovers,
    clocks_read_wall_time_and_advance,
    callout_reaches_its_cluster_before_the_request_is_forwarded,
    multi_chunk_request_body_is_upper_cased_end_to_end,
    appended_response_body_is_framed_by_its_new_length,
    appended_streamed_response_body_is_framed_by_its_new_length,
    metadata_set_ahead_of_the_filter_is_readable,
    metadata_written_by_the_filter_lands_in_the_flavours_sink,
    probe_metrics_carry_their_labels,
    shared_counter_is_one_across_workers,
);

/// What both upstreams answer, so a test can tell which one served a request.
const FIRST_BODY: &str = "from first";
const SECOND_BODY: &str = "from second";

/// The two upstreams and Envoy with only the `host-probe` filter in front of them.
struct Probed {
    first: FakeUpstream,
    second: FakeUpstream,
    envoy: Envoy,
}

impl Probed {
    async fn start(flavour: Flavour) -> Probed {
        let first = FakeUpstream::fixed(200, Some("text/plain"), FIRST_BODY)
            .await
            .unwrap();
        Self::start_with(flavour, first, |bootstrap| bootstrap).await
    }

    /// With the test's own `first` upstream, and its additions to the bootstrap (e.g. preset
    /// metadata).
    async fn start_with(
        flavour: Flavour,
        first: FakeUpstream,
        extend: impl FnOnce(Bootstrap) -> Bootstrap,
    ) -> Probed {
        let second = FakeUpstream::fixed(200, Some("text/plain"), SECOND_BODY)
            .await
            .unwrap();
        let bootstrap = Bootstrap::new(Some(flavour))
            .diagnostics()
            .filter("host-probe", json!({}))
            .agent(AgentRoute::new("first", first.addr()))
            .agent(AgentRoute::new("second", second.addr()));
        let envoy = Envoy::start(&extend(bootstrap))
            .await
            .expect("Envoy starts with the host-probe filter (run scripts/build)");
        Probed {
            first,
            second,
            envoy,
        }
    }

    /// `method <gateway><path>` with `headers` and `body`: status, headers and body.
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = http().request(method, format!("{}{path}", self.envoy.gateway_url()));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request
            .body(body)
            .send()
            .await
            .expect("the gateway answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.expect("a complete body").to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        self.send("GET", path, headers, Vec::new()).await
    }
}

/// One response as the client saw it.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    /// A response header the test requires, as text.
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("response header {name} missing: {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn local_reply_answers_without_reaching_upstream(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let answer = probed
        .get("/a2a/first/x", &[("x-probe-local-reply", "1")])
        .await;
    assert_eq!(answer.status, 418, "{}", answer.text());
    assert_eq!(answer.text(), "probe local reply\n");
    assert_eq!(answer.header("x-probe"), "local");
    // The reply's details (`probe_local_reply`) only show in access logs; the bootstrap has none.
    assert!(probed.first.requests().is_empty());
}

/// `header_values` (one host call for the whole map under Wasm) answers like `header` would.
async fn several_request_headers_are_read_at_once(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let answer = probed.get("/a2a/first/x?q=1", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.header("x-probe-values"),
        r#"[Some("GET"), None, Some("/a2a/first/x?q=1")]"#
    );
}

async fn removed_request_header_does_not_reach_upstream(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let headers = [
        ("x-probe-remove", "x-secret"),
        ("x-secret", "s3cr3t"),
        ("x-kept", "1"),
    ];
    let answer = probed.get("/a2a/first/x", &headers).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = probed.first.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-secret"), None, "{:?}", seen[0].headers);
    assert_eq!(seen[0].header("x-kept"), Some("1"));
}

async fn path_rewrite_with_route_cache_clear_reaches_the_other_cluster(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let answer = probed
        .get("/a2a/first/x", &[("x-probe-set-path", "/a2a/second/y")])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), SECOND_BODY);
    assert!(probed.first.requests().is_empty());
    let seen = probed.second.requests();
    assert_eq!(seen.len(), 1);
    // The new route's prefix_rewrite (`/a2a/second/` → `/`) applied to the new path.
    assert_eq!(seen[0].path, "/y");
    assert_eq!(answer.header("x-probe-path"), "/a2a/first/x");
}

/// Without `clear_route_cache` the flavours differ, because Envoy's Wasm host clears the route
/// cache itself whenever a filter writes a request header (observed on Envoy 1.40), while a
/// dynamic module's header write leaves the route chosen before the filter ran.
async fn path_rewrite_without_clear_reroutes_only_under_wasm(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let headers = [
        ("x-probe-set-path", "/a2a/second/y"),
        ("x-probe-no-clear", "1"),
    ];
    let answer = probed.get("/a2a/first/x", &headers).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let (first, second) = (probed.first.requests(), probed.second.requests());
    match flavour {
        Flavour::DynamicModule => {
            assert_eq!(answer.text(), FIRST_BODY);
            assert!(second.is_empty());
            assert_eq!(first.len(), 1);
            // The old route's prefix_rewrite (`/a2a/first/`) no longer matches the new path,
            // which so reaches the first upstream unrewritten.
            assert_eq!(first[0].path, "/a2a/second/y");
        }
        Flavour::Wasm => {
            assert_eq!(answer.text(), SECOND_BODY);
            assert!(first.is_empty());
            assert_eq!(second.len(), 1);
            assert_eq!(second[0].path, "/y");
        }
    }
}

/// Reading request headers from a response callback: the dynamic module still sees them (as
/// the router left them, after its prefix_rewrite); Envoy's Wasm host refuses request-header
/// access once the response phase runs, which the adapter reports as an absent header.
async fn request_headers_at_response_time_are_only_readable_in_dynmod(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let answer = probed.get("/a2a/first/x", &[]).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let expected = match flavour {
        Flavour::DynamicModule => r#"Some("/x")"#,
        Flavour::Wasm => "None",
    };
    assert_eq!(answer.header("x-probe-request-path-in-response"), expected);
    // During the request phase there are no response headers yet, in either flavour.
    assert_eq!(answer.header("x-probe-response-header-now"), "None");
}

async fn response_header_written_during_the_request_is_dropped(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let answer = probed
        .get("/a2a/first/x", &[("x-probe-bad-write", "1")])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), FIRST_BODY);
    assert!(
        answer.headers.get("x-too-early").is_none(),
        "{:?}",
        answer.headers
    );
}

/// A panicking filter fails its own request; how the next ones fare differs by flavour.
async fn panic_fails_the_request_and_the_filter_recovers(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let answer = probed.get("/a2a/first/x", &[("x-probe-panic", "1")]).await;
    assert!(probed.first.requests().is_empty());
    match flavour {
        Flavour::DynamicModule => {
            // The adapter catches the unwind and answers 500; the module stays usable.
            assert_eq!(answer.status, 500, "{}", answer.text());
            assert_eq!(probed.get("/a2a/first/x", &[]).await.status, 200);
            let log = probed.envoy.log();
            assert!(
                log.contains("filter `host-probe` panicked in request_headers"),
                "{log}"
            );
        }
        Flavour::Wasm => {
            // The trap kills the VM: 503 until FAIL_RELOAD's backoff starts a fresh one.
            assert_eq!(answer.status, 503, "{}", answer.text());
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                if probed.get("/a2a/first/x", &[]).await.status == 200 {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no fresh VM in 30 s"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let log = probed.envoy.log();
            assert!(log.contains("panicked at"), "{log}");
        }
    }
}

async fn clocks_read_wall_time_and_advance(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let before = probed.get("/a2a/first/x", &[]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after = probed.get("/a2a/first/x", &[]).await;
    let monotonic =
        |answer: &Answer| -> u64 { answer.header("x-probe-monotonic").parse().unwrap() };
    let elapsed = monotonic(&after).saturating_sub(monotonic(&before));
    assert!(
        elapsed >= 20_000_000,
        "monotonic clock advanced {elapsed} ns"
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let unix: u64 = after.header("x-probe-unix").parse().unwrap();
    assert!(now.abs_diff(unix) <= 5, "unix {unix}, now {now}");
}

async fn callout_reaches_its_cluster_before_the_request_is_forwarded(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let answer = probed
        .get("/a2a/first/x", &[("x-probe-callout", "agent_second")])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), FIRST_BODY);
    let callouts = probed.second.requests();
    assert_eq!(callouts.len(), 1);
    assert_eq!(
        (callouts[0].method.as_str(), callouts[0].path.as_str()),
        ("GET", "/")
    );
    assert_eq!(callouts[0].header("host"), Some("probe-callout"));
    assert_eq!(probed.first.requests().len(), 1);
    let summary = format!("status 200 body {} bytes", SECOND_BODY.len());
    assert_eq!(answer.header("x-probe-callout"), summary);
}

async fn multi_chunk_request_body_is_upper_cased_end_to_end(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    // 300 KB arrives in many reads, so the filter pauses body chunks before it sees the last.
    let body: Vec<u8> = b"abcdefghij".repeat(30 * 1024);
    let answer = probed
        .send(
            "POST",
            "/a2a/first/upload",
            &[("x-probe-upper-body", "1")],
            body.clone(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let seen = probed.first.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body.len(), body.len());
    assert!(
        seen[0].body == body.to_ascii_uppercase(),
        "body not upper-cased"
    );
    let calls: usize = answer.header("x-probe-request-body-calls").parse().unwrap();
    assert!(calls > 1, "the body came in {calls} callback(s)");
    assert_eq!(
        answer.header("x-probe-set-request-body"),
        format!("{} bytes Ok(())", body.len())
    );
}

async fn appended_response_body_is_framed_by_its_new_length(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let answer = probed
        .get("/a2a/first/x", &[("x-probe-append", "+probe")])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let expected = format!("{FIRST_BODY}+probe");
    assert_eq!(answer.text(), expected);
    assert_eq!(answer.header("content-length"), expected.len().to_string());
    assert_eq!(answer.header("x-probe-set-response-body"), "Ok(())");
}

/// The upstream streams its body in chunks without `content-length` (chunked encoding); the
/// probe holds the headers, appends, and the client still gets a body matching its framing.
async fn appended_streamed_response_body_is_framed_by_its_new_length(flavour: Flavour) {
    let chunks = ["one,", "two,", "three"];
    let first = FakeUpstream::start(move |_| {
        let (sender, receiver) = mpsc::channel(chunks.len());
        tokio::spawn(async move {
            for chunk in chunks {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if sender
                    .send(Bytes::from_static(chunk.as_bytes()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        Reply::Streamed {
            status: 200,
            content_type: "text/plain".to_string(),
            chunks: receiver,
        }
    })
    .await
    .unwrap();
    let probed = Probed::start_with(flavour, first, |bootstrap| bootstrap).await;
    let answer = probed
        .get("/a2a/first/x", &[("x-probe-append", "+probe")])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), "one,two,three+probe");
    assert_eq!(answer.header("content-length"), "19");
    assert!(
        answer.headers.get("transfer-encoding").is_none(),
        "{:?}",
        answer.headers
    );
}

async fn metadata_set_ahead_of_the_filter_is_readable(flavour: Flavour) {
    let first = FakeUpstream::fixed(200, Some("text/plain"), FIRST_BODY)
        .await
        .unwrap();
    let probed = Probed::start_with(flavour, first, |bootstrap| {
        bootstrap.preset_metadata("conformance", "tier", "gold")
    })
    .await;
    let answer = probed
        .get("/a2a/first/x", &[("x-probe-metadata", "conformance/tier")])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.header("x-probe-metadata-value"), r#"Some("gold")"#);
    let absent = probed
        .get("/a2a/first/x", &[("x-probe-metadata", "conformance/none")])
        .await;
    assert_eq!(absent.header("x-probe-metadata-value"), "None");
}

async fn metadata_written_by_the_filter_lands_in_the_flavours_sink(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    // The probe writes `probe/seen` = path, then reads `x-probe-metadata` back.
    let answer = probed
        .get("/a2a/first/x", &[("x-probe-metadata", "probe/seen")])
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let sink = match flavour {
        // Written as dynamic metadata: the filter's own read finds it.
        Flavour::DynamicModule => "DynamicMetadata",
        // proxy-wasm writes filter state `wasm.probe.seen`; `Host::metadata` reads it back when
        // dynamic metadata has no such key (the inference guard relies on it).
        Flavour::Wasm => "FilterState",
    };
    assert_eq!(answer.header("x-probe-sink"), sink);
    assert_eq!(
        answer.header("x-probe-metadata-value"),
        r#"Some("/a2a/first/x")"#
    );
}

async fn probe_metrics_carry_their_labels(flavour: Flavour) {
    let probed = Probed::start(flavour).await;
    let tags = [
        ("x-probe-agent", "first"),
        ("x-probe-method", "probe"),
        ("x-probe-outcome", "ok"),
    ];
    for _ in 0..2 {
        assert_eq!(probed.get("/a2a/first/x", &tags).await.status, 200);
    }
    let labels = [("agent", "first"), ("method", "probe"), ("outcome", "ok")];
    let envoy = &probed.envoy;
    assert_eq!(
        metric(envoy, "probe_requests_total", &labels, 2.0).await,
        2.0
    );
    assert_eq!(
        metric(envoy, "probe_duration_ms_count", &[("agent", "first")], 2.0).await,
        2.0
    );
}

/// Two workers, a fresh connection per request: the shared counter counts every request once,
/// sequential and concurrent ones alike (compare-and-swap), whichever worker served it.
async fn shared_counter_is_one_across_workers(flavour: Flavour) {
    let first = FakeUpstream::fixed(200, Some("text/plain"), FIRST_BODY)
        .await
        .unwrap();
    let probed = Probed::start_with(flavour, first, |bootstrap| bootstrap.concurrency(2)).await;
    let url = format!("{}/a2a/first/x", probed.envoy.gateway_url());
    for expected in 1..=20 {
        assert_eq!(shared_add(url.clone()).await, format!("Ok({expected})"));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..40 {
        tasks.spawn(shared_add(url.clone()));
    }
    let concurrent = tasks.join_all().await;
    let mut values: Vec<i64> = concurrent
        .iter()
        .map(|value| {
            value
                .trim_start_matches("Ok(")
                .trim_end_matches(')')
                .parse()
                .unwrap()
        })
        .collect();
    values.sort_unstable();
    assert_eq!(values, (21..=60).collect::<Vec<i64>>(), "{concurrent:?}");
    let stats = probed
        .envoy
        .admin_get("/stats?filter=downstream_cx_total")
        .await
        .unwrap();
    let served: Vec<u64> = stats
        .lines()
        .filter(|line| line.starts_with("listener.") && line.contains(".worker_"))
        .map(|line| line.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(served.len(), 2, "{stats}");
    assert!(
        served.iter().all(|&count| count > 0),
        "both workers served: {stats}"
    );
}

/// One GET adding 1 to the probe's shared counter over a fresh connection (no pooling, so
/// connections spread over the workers); the probe's report of the new value.
async fn shared_add(url: String) -> String {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let response = client
        .get(url)
        .header("x-probe-shared-add", "probe_counter")
        .send()
        .await
        .expect("the gateway answers");
    response.headers()["x-probe-shared-value"]
        .to_str()
        .unwrap()
        .to_owned()
}
