//! HTTP callouts as proxy-wasm makes them, for streams and for the root context's background
//! work alike: starting one, and reading its response in `on_http_call_response`.

use std::time::Duration;

use ai_gateway_core::{
    CalloutFailure, CalloutId, CalloutRequest, CalloutResponse, CalloutResult, HostError,
};
use proxy_wasm::types::{BufferType, MapType};

use crate::abi;

/// Starts `request`; the answer reaches the calling context's `on_http_call_response`.
pub(crate) fn dispatch(request: CalloutRequest) -> Result<CalloutId, HostError> {
    let headers = request
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = (!request.body.is_empty()).then_some(request.body.as_slice());
    abi::dispatch_http_call(
        &request.cluster,
        headers,
        body,
        Duration::from_millis(request.timeout_ms),
    )
    .map(|token| CalloutId(u64::from(token)))
    .map_err(|err| HostError::CalloutRefused(format!("cluster `{}`: {err}", request.cluster)))
}

/// The response `on_http_call_response` announced (only valid during that callback).
pub(crate) fn result(num_headers: usize, body_size: usize) -> CalloutResult {
    if num_headers == 0 {
        // Envoy reports a reset, or a response over its buffer limit, without headers.
        return Err(CalloutFailure::Reset);
    }
    let headers = abi::header_pairs(MapType::HttpCallResponseHeaders).unwrap_or_default();
    let status = headers
        .iter()
        .find(|(name, _)| name == ":status")
        .and_then(|(_, value)| value.parse::<u16>().ok())
        .ok_or(CalloutFailure::Reset)?;
    let body = abi::buffer(BufferType::HttpCallResponseBody, 0, body_size).unwrap_or_default();
    Ok(CalloutResponse {
        status,
        headers,
        body,
    })
}
