//! A bridged call ([`super::bridge`]) whose session-based backend asks the 2026-07-28 client
//! something mid-call (sampling, elicitation, roots), where callouts stream (the dynamic
//! module): the call goes out as a streamed callout; the backend's request is answered to the
//! client as an `InputRequiredResult` whose sealed `requestState` says where the call waits
//! ([`crate::input_state`]). The client's retry posts its answers to the backend (JSON-RPC
//! responses with the backend's ids, on the bridged session) and resumes the call's stream with
//! `Last-Event-ID` (a GET on the session): the call's result answers the retry, a further
//! request is asked the same way. Nothing stays in the gateway between the rounds, so the
//! retry may reach any worker or replica. A backend whose stream carries no event ids cannot be
//! resumed: its request is answered with a JSON-RPC error instead of waiting for a timeout.

use ai_gateway_core::jsonrpc::{
    self, Id, Message, Outcome, Response, INTERNAL_ERROR, INVALID_PARAMS,
};
use ai_gateway_core::sse::{Event, SseParser};
use ai_gateway_core::{Action, CalloutId, CalloutResult, Host, LogLevel, StreamId};
use serde_json::{Map, Value};

use super::replies::Reply;
use super::upstream::{self, CallHeaders};
use super::{McpFilter, Phase};
use crate::bridged::Bridged;
use crate::input_state::{gateway_state, input_request, input_required, InputState};
use crate::merge;
use crate::metrics::{SERVER_REQUEST_RTT_MS, STREAM_EVENTS_TOTAL};
use crate::session_token::NONCE_LEN;

const PROGRESS: &str = "notifications/progress";

/// Where a bridged call that may ask for input stands.
pub(super) enum InputCall {
    /// The client's answers are being posted; then the call's stream is resumed.
    Posting {
        calls: Vec<CalloutId>,
        state: Box<InputState>,
        call: CallStream,
    },
    /// The call's stream is being read (its POST answer, or a resumed GET).
    Reading(StreamId, CallStream),
}

/// What reading a call's stream needs.
pub(super) struct CallStream {
    index: usize,
    /// The client's id of the (retried) call.
    client_id: Id,
    /// The id the backend knows the call by.
    upstream: Value,
    bridged: Bridged,
    parser: SseParser,
    last_event: String,
    /// The first round's body (the client's id): asked again by [`super::bridge`] if the
    /// backend lost the bridged session.
    first: Option<Vec<u8>>,
    /// The body while it has no SSE event: a backend may answer with plain JSON (bounded).
    json: Option<Vec<u8>>,
    max: usize,
    /// The answer to the client became an SSE stream (progress is passed as it comes).
    streaming: bool,
}

impl McpFilter {
    /// A bridged `tools/call`, `prompts/get` or `resources/read` of a 2026-07-28 client, where
    /// the backend may ask for input: a retry carrying the gateway's `requestState` resumes its
    /// call, else the call goes out as a streamed callout. `None`: not for this path.
    pub(super) fn bridge_with_input(
        &mut self,
        host: &mut dyn Host,
        index: usize,
        id: &Id,
        params: Option<&Value>,
        body: &[u8],
    ) -> Option<Action> {
        if !host.capabilities().streaming_callouts {
            return None;
        }
        let name = self.settings.backends[index].name.clone();
        if let Some(text) = gateway_state(params) {
            return Some(self.resume_call(host, index, id, params, text));
        }
        let bridged = self.bridged_for(&name)?;
        // A gateway-made id: the session may be shared with other clients' calls.
        let mut random = [0u8; 8];
        host.random_bytes(&mut random).ok()?;
        let upstream = Value::from(format!("gw-{}", hex(&random)));
        let mut message: Value = serde_json::from_slice(body).ok()?;
        message["id"] = upstream.clone();
        let headers = CallHeaders {
            protocol_version: Some(bridged.version.clone()),
            session: Some(&bridged.session),
            mcp_method: None,
        };
        let backend = &self.settings.backends[index];
        let request = upstream::callout(
            backend,
            "POST",
            headers,
            message.to_string().into_bytes(),
            self.settings.timeout_ms,
        );
        let mut call = CallStream::new(index, id.clone(), upstream, bridged, self.max_event());
        call.first = Some(body.to_vec());
        Some(self.read_call(host, request, call))
    }

    fn max_event(&self) -> usize {
        self.settings.max_response_bytes
    }

    fn read_call(
        &mut self,
        host: &mut dyn Host,
        request: ai_gateway_core::CalloutRequest,
        call: CallStream,
    ) -> Action {
        match host.start_stream(request) {
            Ok(stream) => {
                self.input = Some(InputCall::Reading(stream, call));
                self.phase = Phase::FanningOut;
                Action::Pause
            }
            Err(err) => {
                let why = format!("cannot reach the backend: {err}");
                self.internal_error(host, call.client_id, &why)
            }
        }
    }

    /// The retry of a call that asked for input: the client's answers go to the backend.
    fn resume_call(
        &mut self,
        host: &mut dyn Host,
        index: usize,
        id: &Id,
        params: Option<&Value>,
        text: &str,
    ) -> Action {
        let refuse = |filter: &mut McpFilter, host: &mut dyn Host, why: String| {
            filter.answer(host, Reply::jsonrpc(200, id.clone(), INVALID_PARAMS, why))
        };
        let state = match InputState::open(&self.settings.sealer, text, host.unix_seconds()) {
            Ok(state) => state,
            Err(err) => return refuse(self, host, err.to_string()),
        };
        let name = &self.settings.backends[index].name;
        if &state.backend != name {
            return refuse(
                self,
                host,
                format!("requestState is not for backend {name}"),
            );
        }
        let rtt = host.unix_millis().saturating_sub(state.asked_ms);
        host.histogram_record(SERVER_REQUEST_RTT_MS, &[name], rtt);
        let answers = params.and_then(|p| p.get("inputResponses"));
        let Some(responses) = state.responses(answers) else {
            return refuse(self, host, "inputResponses lacks an asked answer".into());
        };
        let bridged = Bridged {
            session: state.session.clone(),
            version: state.version.clone(),
            init: Value::Null,
        };
        let backend = &self.settings.backends[index];
        let mut calls = Vec::new();
        for response in responses {
            let headers = CallHeaders {
                protocol_version: Some(state.version.clone()),
                session: Some(&state.session),
                mcp_method: None,
            };
            let body = response.to_string().into_bytes();
            let request =
                upstream::callout(backend, "POST", headers, body, self.settings.timeout_ms);
            match host.http_callout(request) {
                Ok(call) => calls.push(call),
                Err(err) => {
                    let why = format!("cannot reach the backend: {err}");
                    return self.internal_error(host, id.clone(), &why);
                }
            }
        }
        let mut call = CallStream::new(
            index,
            id.clone(),
            state.call.clone(),
            bridged,
            self.max_event(),
        );
        call.last_event = state.last_event.clone();
        let state = Box::new(state);
        self.input = Some(InputCall::Posting { calls, state, call });
        self.phase = Phase::FanningOut;
        Action::Pause
    }

    /// A callout of [`InputCall::Posting`] finished; the last one resumes the call's stream.
    /// `false`: not one of them.
    pub(super) fn input_posted(
        &mut self,
        host: &mut dyn Host,
        id: CalloutId,
        result: &CalloutResult,
    ) -> bool {
        let Some(InputCall::Posting { calls, .. }) = &mut self.input else {
            return false;
        };
        let Some(at) = calls.iter().position(|c| *c == id) else {
            return false;
        };
        calls.remove(at);
        let refused = match result {
            Ok(response) if (200..300).contains(&response.status) => None,
            Ok(response) => Some(format!("HTTP {}", response.status)),
            Err(failure) => Some(failure.to_string()),
        };
        let Some(InputCall::Posting { calls, state, call }) = self.input.take() else {
            return true;
        };
        if let Some(why) = refused {
            let why = format!("the backend did not take the client's answer: {why}");
            self.internal_error(host, call.client_id, &why);
            return true;
        }
        if !calls.is_empty() {
            self.input = Some(InputCall::Posting { calls, state, call });
            return true;
        }
        let backend = &self.settings.backends[call.index];
        let headers = CallHeaders {
            protocol_version: Some(state.version.clone()),
            session: Some(&state.session),
            mcp_method: None,
        };
        let mut request = upstream::callout(
            backend,
            "GET",
            headers,
            Vec::new(),
            self.settings.timeout_ms,
        );
        (request.headers).push(("last-event-id".into(), state.last_event.clone()));
        self.read_call(host, request, call);
        true
    }

    /// The call's stream answered with `status`: anything but success ends the call.
    pub(super) fn input_headers(&mut self, host: &mut dyn Host, id: StreamId, status: u16) -> bool {
        if !self.reads(id) {
            return false;
        }
        if !(200..300).contains(&status) {
            if let Some(InputCall::Reading(_, call)) = self.input.take() {
                if matches!(status, 400 | 404) {
                    // A lost session: rebuilt and the call asked again by whole callout.
                    self.forget_bridged(call.index);
                    if let Some(body) = call.first {
                        self.bridge_call(host, call.index, call.client_id, body);
                        return true;
                    }
                }
                let why = format!("backend answered HTTP {status}");
                self.internal_error(host, call.client_id, &why);
            }
        }
        true
    }

    /// Events of the call's stream: its result, or a request for input, answers the client.
    pub(super) fn input_data(&mut self, host: &mut dyn Host, id: StreamId, data: &[u8]) -> bool {
        let Some(InputCall::Reading(stream, call)) = &mut self.input else {
            return false;
        };
        if *stream != id {
            return false;
        }
        let events = call.parser.feed(data);
        if !events.is_empty() {
            call.json = None;
        } else if let Some(json) = &mut call.json {
            if json.len() + data.len() > call.max {
                call.json = None;
            } else {
                json.extend_from_slice(data);
            }
        }
        for event in events.into_iter().flatten() {
            if let Some(event_id) = &event.id {
                call.last_event = event_id.clone();
            }
            let Ok(message) = serde_json::from_str::<Value>(&event.data) else {
                continue;
            };
            let answers_call =
                message.get("method").is_none() && message.get("id") == Some(&call.upstream);
            if answers_call {
                if let Some(InputCall::Reading(_, call)) = self.input.take() {
                    self.answer_call(host, call, event.data.as_bytes());
                }
                return true;
            }
            if let Some((asked, embedded)) = input_request(&message) {
                if let Some(InputCall::Reading(_, call)) = self.input.take() {
                    self.ask_client(host, call, asked, embedded);
                }
                return true;
            }
            if message.get("method") == Some(&Value::from(PROGRESS)) {
                stream_progress(host, call, &event.data);
            }
        }
        true
    }

    /// The call's stream ended (or was reset) before it answered.
    pub(super) fn input_end(&mut self, host: &mut dyn Host, id: StreamId) -> bool {
        if !self.reads(id) {
            return false;
        }
        if let Some(InputCall::Reading(_, mut call)) = self.input.take() {
            let json = call.json.take().unwrap_or_default();
            let answers_call = matches!(jsonrpc::parse_message(&json),
                Ok(Message::Response(response)) if id_is(&response.id, &call.upstream));
            if answers_call {
                self.answer_call(host, call, &json);
                return true;
            }
            let backend = self.settings.backends[call.index].name.clone();
            let why = format!("backend {backend} ended the call without an answer");
            self.fail(host, call, &why);
        }
        true
    }

    fn reads(&self, id: StreamId) -> bool {
        matches!(&self.input, Some(InputCall::Reading(stream, _)) if *stream == id)
    }

    fn answer_call(&mut self, host: &mut dyn Host, call: CallStream, data: &[u8]) {
        if call.streaming {
            let response = match jsonrpc::parse_message(data) {
                Ok(Message::Response(mut response)) => {
                    response.id = call.client_id.clone();
                    if let Outcome::Result(Value::Object(result)) = &mut response.outcome {
                        result
                            .entry("resultType")
                            .or_insert_with(|| Value::from("complete"));
                    }
                    response
                }
                _ => return self.fail(host, call, "an unreadable answer"),
            };
            return self.deliver(host, &call, response);
        }
        let reply = match jsonrpc::parse_message(data) {
            Ok(Message::Response(response)) => match response.outcome {
                Outcome::Result(result) => merge::Reply::Result(result),
                Outcome::Error(error) => merge::Reply::Error(error),
            },
            _ => merge::Reply::Failed("an unreadable answer".into()),
        };
        self.answer_bridged(host, call.client_id, &[(call.index, reply, None)]);
    }

    /// Asks the client the backend's request, with where the call waits sealed.
    fn ask_client(&mut self, host: &mut dyn Host, call: CallStream, asked: Value, request: Value) {
        let backend = self.settings.backends[call.index].name.clone();
        if call.last_event.is_empty() {
            let why = format!(
                "backend {backend} asks the client for input on a stream it cannot resume \
                 (no event ids); offer session-based protocol versions only"
            );
            return self.fail(host, call, &why);
        }
        let key = "input-1".to_string();
        let state = InputState {
            backend,
            session: call.bridged.session.clone(),
            version: call.bridged.version.clone(),
            call: call.upstream.clone(),
            last_event: call.last_event.clone(),
            asked: [(key.clone(), asked)].into_iter().collect(),
            sealed_at: host.unix_seconds(),
            asked_ms: host.unix_millis(),
        };
        let mut nonce = [0u8; NONCE_LEN];
        let sealed = host
            .random_bytes(&mut nonce)
            .ok()
            .and_then(|_| state.seal(&self.settings.sealer, nonce).ok());
        let Some(sealed) = sealed else {
            return self.fail(host, call, "cannot seal the request state");
        };
        host.counter_add(STREAM_EVENTS_TOTAL, &[&state.backend, "request"], 1);
        let mut requests = Map::new();
        requests.insert(key, request);
        let result = input_required(requests, sealed);
        host.log(
            LogLevel::Debug,
            format_args!("mcp: backend {} asks the client for input", state.backend),
        );
        let response = Response::result(call.client_id.clone(), result);
        self.deliver(host, &call, response);
    }

    /// Sends the client's answer: the last event of its stream once progress was streamed,
    /// else a JSON reply.
    fn deliver(&mut self, host: &mut dyn Host, call: &CallStream, response: Response) {
        self.jsonrpc_error = response.error_object().map(|e| e.code);
        let body = Message::Response(response).to_vec();
        self.phase = Phase::Answered;
        self.status = Some(200);
        if !call.streaming {
            let json = [("content-type", "application/json")];
            host.send_local_reply(200, &json, &body, "mcp_bridged");
            return;
        }
        let event = message_event(&String::from_utf8_lossy(&body));
        if let Err(err) = host.send_response_data(&event, true) {
            host.log(LogLevel::Debug, format_args!("mcp: bridged stream: {err}"));
        }
    }

    fn fail(&mut self, host: &mut dyn Host, call: CallStream, why: &str) {
        if !call.streaming {
            self.internal_error(host, call.client_id, why);
            return;
        }
        let response = Response::error(
            call.client_id.clone(),
            INTERNAL_ERROR,
            format!("gateway error: {why}"),
        );
        self.deliver(host, &call, response);
    }

    fn forget_bridged(&mut self, index: usize) {
        if let Some(client) = &self.client {
            let name = &self.settings.backends[index].name;
            self.recovered.bridged.remove(name, client.key);
        }
    }
}

impl CallStream {
    fn new(index: usize, client_id: Id, upstream: Value, bridged: Bridged, max: usize) -> Self {
        CallStream {
            index,
            client_id,
            upstream,
            bridged,
            parser: SseParser::new(max),
            last_event: String::new(),
            first: None,
            json: Some(Vec::new()),
            max,
            streaming: false,
        }
    }
}

/// A progress notification of the call, passed to the client as it comes (the token is the
/// client's: the call's `_meta` went to the backend unchanged). The first one turns the answer
/// into an SSE stream.
fn stream_progress(host: &mut dyn Host, call: &mut CallStream, data: &str) {
    if !call.streaming {
        let headers = [
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ];
        if host.send_response_headers(200, &headers, false).is_err() {
            return;
        }
        call.streaming = true;
    }
    if let Err(err) = host.send_response_data(&message_event(data), false) {
        host.log(
            LogLevel::Debug,
            format_args!("mcp: bridged progress: {err}"),
        );
    }
}

fn message_event(data: &str) -> Vec<u8> {
    let mut event = Event::data(data);
    event.event = Some("message".into());
    event.to_bytes()
}

/// Whether a parsed id is the JSON value `upstream` (the gateway's ids are strings).
fn id_is(id: &Id, upstream: &Value) -> bool {
    matches!((id, upstream), (Id::String(a), Value::String(b)) if a == b)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
