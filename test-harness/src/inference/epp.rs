//! A fake endpoint picker (EPP): Envoy's ext_proc gRPC service as the Gateway API Inference
//! Extension's protocol has it. The test scripts its pick; it records what it received,
//! including the served-endpoint report Envoy forwards on the response.
//!
//! Protocol (response headers `SEND`): on request headers without a body it answers at once.
//! With a body, in `FULL_DUPLEX_STREAMED` (the protocol's mode) it reads the body to its end,
//! then answers the headers (destination header + `envoy.lb` metadata) and streams the body
//! back; in `BUFFERED` (what FailOpen needs, see envoy/inference-filter-ext-proc.yaml) it lets
//! the headers go on and answers the whole body with the destination.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::r#type::v3::HttpStatus;
use envoy_types::pb::envoy::service::ext_proc::v3::external_processor_server::{
    ExternalProcessor, ExternalProcessorServer,
};
use envoy_types::pb::envoy::service::ext_proc::v3::{
    body_mutation, processing_request, processing_response, BodyMutation, BodyResponse,
    CommonResponse, HeaderMutation, HeadersResponse, HttpHeaders, ImmediateResponse,
    ProcessingRequest, ProcessingResponse, StreamedBodyResponse, TrailersResponse,
};
use envoy_types::pb::google::protobuf::{value::Kind, Struct, Value};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::error::HarnessError;

/// The destination header and `envoy.lb` metadata key of the protocol.
pub const DESTINATION: &str = "x-gateway-destination-endpoint";
/// The served-endpoint `envoy.lb` metadata key.
pub const SERVED: &str = "x-gateway-destination-endpoint-served";
/// The metadata namespace of both keys.
pub const LB_NAMESPACE: &str = "envoy.lb";

/// What the EPP answers for each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// This destination value (`ip:port` or a comma list) in both header and metadata.
    Both(String),
    /// This destination value in the header only.
    HeaderOnly(String),
    /// This destination value in `envoy.lb` metadata only.
    MetadataOnly(String),
    /// No destination at all (the request continues untouched).
    Nothing,
    /// An immediate response with this status (429 shedding load, 503 no capacity).
    Immediate(u16),
    /// Never answer the request (ext_proc's message timeout decides).
    Hang,
}

/// One request's exchange as the EPP saw it.
#[derive(Debug, Clone, Default)]
pub struct EppExchange {
    /// Request headers (lower-case names).
    pub request_headers: Vec<(String, String)>,
    /// The request body streamed to the EPP.
    pub request_body: Vec<u8>,
    /// Response headers, when Envoy sent them.
    pub response_headers: Vec<(String, String)>,
    /// `envoy.lb` / `x-gateway-destination-endpoint-served` forwarded with the response headers.
    pub served_metadata: Option<String>,
}

impl EppExchange {
    /// The first value of a request header.
    pub fn request_header(&self, name: &str) -> Option<&str> {
        find(&self.request_headers, name)
    }

    /// The first value of a response header.
    pub fn response_header(&self, name: &str) -> Option<&str> {
        find(&self.response_headers, name)
    }
}

fn find<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[derive(Debug)]
struct State {
    pick: Pick,
    exchanges: Vec<EppExchange>,
}

/// A fake EPP on a free loopback port; stops when dropped.
pub struct FakeEpp {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeEpp {
    /// Starts an EPP answering every request with `pick`.
    pub async fn start(pick: Pick) -> Result<FakeEpp, HarnessError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| HarnessError::io("binding the fake EPP", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading the fake EPP's address", e))?;
        let state = Arc::new(Mutex::new(State {
            pick,
            exchanges: Vec::new(),
        }));
        let service = Service {
            state: Arc::clone(&state),
        };
        let (shutdown, stopped) = oneshot::channel::<()>();
        // Accepted connections, as the stream tonic serves (tokio-stream's listener wrapper
        // needs a feature the harness does not enable).
        let (accepted, incoming) = mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                // No Nagle: the small gRPC answers would otherwise wait out Envoy's delayed ACK
                // (~40 ms per request, measured).
                let connection = listener.accept().await.map(|(stream, _)| {
                    let _ = stream.set_nodelay(true);
                    stream
                });
                if accepted.send(connection).await.is_err() {
                    return;
                }
            }
        });
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(ExternalProcessorServer::new(service))
                .serve_with_incoming_shutdown(ReceiverStream::new(incoming), async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(FakeEpp {
            addr,
            state,
            shutdown: Some(shutdown),
        })
    }

    /// Where the EPP listens (an HTTP/2 cluster for Envoy's ext_proc).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the answer for later requests.
    pub fn set_pick(&self, pick: Pick) {
        self.lock().pick = pick;
    }

    /// Every exchange so far, in the order requests arrived.
    pub fn exchanges(&self) -> Vec<EppExchange> {
        self.lock().exchanges.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("no test panics while holding it")
    }
}

impl Drop for FakeEpp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

struct Service {
    state: Arc<Mutex<State>>,
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<ProcessingResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ExternalProcessor for Service {
    type ProcessStream = ResponseStream;

    async fn process(
        &self,
        request: Request<Streaming<ProcessingRequest>>,
    ) -> Result<Response<Self::ProcessStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let state = Arc::clone(&self.state);
        tokio::spawn(async move {
            let mut exchange = Exchange::new(state);
            while let Some(Ok(message)) = inbound.next().await {
                for reply in exchange.on_message(message) {
                    if tx.send(Ok(reply)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// One request's ext_proc stream.
struct Exchange {
    state: Arc<Mutex<State>>,
    /// Index of this request's record in `State::exchanges`.
    index: Option<usize>,
    pick: Pick,
    body: Vec<u8>,
    answered_headers: bool,
    /// Envoy sends the body whole after the headers answer (BUFFERED), not streamed.
    buffered_mode: bool,
}

/// `ProcessingMode.BodySendMode.BUFFERED`.
const BODY_MODE_BUFFERED: i32 = 2;

impl Exchange {
    fn new(state: Arc<Mutex<State>>) -> Self {
        let pick = state.lock().expect("not poisoned").pick.clone();
        Exchange {
            state,
            index: None,
            pick,
            body: Vec::new(),
            answered_headers: false,
            buffered_mode: false,
        }
    }

    /// Starts this request's record.
    fn record_new(&mut self, headers: &HttpHeaders) {
        let mut state = self.state.lock().expect("not poisoned");
        state.exchanges.push(EppExchange {
            request_headers: header_list(headers),
            ..EppExchange::default()
        });
        self.index = Some(state.exchanges.len() - 1);
    }

    fn record(&self, update: impl FnOnce(&mut EppExchange)) {
        let mut state = self.state.lock().expect("not poisoned");
        if let Some(exchange) = self.index.and_then(|i| state.exchanges.get_mut(i)) {
            update(exchange);
        }
    }

    fn on_message(&mut self, message: ProcessingRequest) -> Vec<ProcessingResponse> {
        use processing_request::Request as In;
        if let Some(protocol) = &message.protocol_config {
            self.buffered_mode = protocol.request_body_mode == BODY_MODE_BUFFERED;
        }
        let hang = self.pick == Pick::Hang;
        match message.request {
            Some(In::RequestHeaders(headers)) if hang => {
                self.record_new(&headers);
                Vec::new()
            }
            Some(In::RequestBody(_) | In::RequestTrailers(_)) if hang => Vec::new(),
            Some(In::RequestHeaders(headers)) => {
                self.record_new(&headers);
                if headers.end_of_stream {
                    self.answered_headers = true;
                    vec![self.decision()]
                } else if self.buffered_mode {
                    vec![reply(processing_response::Response::RequestHeaders(
                        HeadersResponse::default(),
                    ))]
                } else {
                    Vec::new()
                }
            }
            Some(In::RequestBody(body)) => {
                self.body.extend_from_slice(&body.body);
                if !body.end_of_stream {
                    return Vec::new();
                }
                let whole = std::mem::take(&mut self.body);
                self.record(|e| e.request_body = whole.clone());
                if self.buffered_mode {
                    return vec![self.decision_on_body()];
                }
                self.answer_with_body(whole, true)
            }
            Some(In::RequestTrailers(_)) => {
                let whole = std::mem::take(&mut self.body);
                let mut out = if self.answered_headers {
                    Vec::new()
                } else {
                    self.record(|e| e.request_body = whole.clone());
                    self.answer_with_body(whole, false)
                };
                out.push(reply(processing_response::Response::RequestTrailers(
                    TrailersResponse::default(),
                )));
                out
            }
            Some(In::ResponseHeaders(headers)) => {
                let served = message
                    .metadata_context
                    .as_ref()
                    .and_then(|m| m.filter_metadata.get(LB_NAMESPACE))
                    .and_then(|s| s.fields.get(SERVED))
                    .and_then(|v| match &v.kind {
                        Some(Kind::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    });
                let list = header_list(&headers);
                self.record(|e| {
                    e.response_headers = list;
                    e.served_metadata = served;
                });
                vec![reply(processing_response::Response::ResponseHeaders(
                    HeadersResponse::default(),
                ))]
            }
            Some(In::ResponseBody(_)) => vec![reply(processing_response::Response::ResponseBody(
                BodyResponse::default(),
            ))],
            Some(In::ResponseTrailers(_)) => vec![reply(
                processing_response::Response::ResponseTrailers(TrailersResponse::default()),
            )],
            None => Vec::new(),
        }
    }

    /// The decision, then (unless it was an immediate response) the body streamed back whole.
    fn answer_with_body(&mut self, body: Vec<u8>, end_of_stream: bool) -> Vec<ProcessingResponse> {
        self.answered_headers = true;
        let decision = self.decision();
        let immediate = matches!(
            decision.response,
            Some(processing_response::Response::ImmediateResponse(_))
        );
        if immediate {
            return vec![decision];
        }
        let body = reply(processing_response::Response::RequestBody(BodyResponse {
            response: Some(CommonResponse {
                body_mutation: Some(BodyMutation {
                    mutation: Some(body_mutation::Mutation::StreamedResponse(
                        StreamedBodyResponse {
                            body,
                            end_of_stream,
                            ..StreamedBodyResponse::default()
                        },
                    )),
                }),
                ..CommonResponse::default()
            }),
        }));
        vec![decision, body]
    }

    /// BUFFERED mode: the scripted answer in the body response (headers are still held, so
    /// its header mutation applies to them).
    fn decision_on_body(&self) -> ProcessingResponse {
        let mut decision = self.decision();
        if let Some(processing_response::Response::RequestHeaders(headers)) = decision.response {
            decision.response = Some(processing_response::Response::RequestBody(BodyResponse {
                response: headers.response,
            }));
        }
        decision
    }

    /// The scripted answer to the request headers.
    fn decision(&self) -> ProcessingResponse {
        let (header, metadata) = match &self.pick {
            Pick::Immediate(status) => {
                return reply(processing_response::Response::ImmediateResponse(
                    ImmediateResponse {
                        status: Some(HttpStatus {
                            code: i32::from(*status),
                        }),
                        body: format!("fake EPP: {status}\n").into_bytes(),
                        details: "fake_epp_immediate".to_string(),
                        ..ImmediateResponse::default()
                    },
                ));
            }
            Pick::Nothing | Pick::Hang => (None, None),
            Pick::Both(value) => (Some(value.clone()), Some(value.clone())),
            Pick::HeaderOnly(value) => (Some(value.clone()), None),
            Pick::MetadataOnly(value) => (None, Some(value.clone())),
        };
        let header_mutation = header.map(|value| HeaderMutation {
            set_headers: vec![HeaderValueOption {
                header: Some(HeaderValue {
                    key: DESTINATION.to_string(),
                    raw_value: value.into_bytes(),
                    ..HeaderValue::default()
                }),
                ..HeaderValueOption::default()
            }],
            ..HeaderMutation::default()
        });
        let mut response = reply(processing_response::Response::RequestHeaders(
            HeadersResponse {
                response: Some(CommonResponse {
                    header_mutation,
                    ..CommonResponse::default()
                }),
            },
        ));
        response.dynamic_metadata = metadata.map(|value| lb_metadata(&value));
        response
    }
}

fn reply(response: processing_response::Response) -> ProcessingResponse {
    ProcessingResponse {
        response: Some(response),
        ..ProcessingResponse::default()
    }
}

/// `{"envoy.lb": {"x-gateway-destination-endpoint": value}}`.
fn lb_metadata(value: &str) -> Struct {
    let inner = Struct {
        fields: HashMap::from([(DESTINATION.to_string(), string_value(value))]),
    };
    Struct {
        fields: HashMap::from([(
            LB_NAMESPACE.to_string(),
            Value {
                kind: Some(Kind::StructValue(inner)),
            },
        )]),
    }
}

fn string_value(value: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(value.to_string())),
    }
}

fn header_list(headers: &HttpHeaders) -> Vec<(String, String)> {
    headers
        .headers
        .iter()
        .flat_map(|map| map.headers.iter())
        .map(|h| {
            let value = if h.raw_value.is_empty() {
                h.value.clone()
            } else {
                String::from_utf8_lossy(&h.raw_value).into_owned()
            };
            (h.key.clone(), value)
        })
        .collect()
}
