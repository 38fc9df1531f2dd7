//! Pagination across backends: the client-facing `nextCursor` carries every backend's own
//! cursor, sealed, so one client cursor resumes N listings at once.
//!
//! Plaintext: a JSON object of backend name → that backend's `nextCursor`, holding only
//! the backends with more to give; a backend absent from it is exhausted (or was left out
//! after failing) and is not asked again. Names rather than positions keep a cursor
//! meaningful when backends are added or reordered between two pages: a backend that is
//! no longer configured is skipped, and one added since joins at the next first page.
//!
//! Sealed with the session [`Sealer`] under the purpose `cursor <method> v1`, so a client
//! cannot forge or alter a cursor to steer callouts, a `tools/list` cursor does not open in
//! `prompts/list`, and neither opens as a session token (nor a token as a cursor). The
//! text is `Mcp-Session-Id`-style base64url: the sealing overhead is 29 bytes before
//! encoding, plus the JSON of the upstream cursors. Cursors do not expire by themselves;
//! they stop opening when the key that sealed them is removed.

use std::collections::BTreeMap;

use ai_gateway_core::jsonrpc::{Id, Response, INVALID_PARAMS};
use serde_json::{Map, Value};

use crate::merge::ListKind;
use crate::session_token::{SealError, Sealer, TokenError, NONCE_LEN};

/// Longest client cursor accepted, and longest the gateway seals (upstream cursors are
/// usually short; a backend whose cursors add up past this cannot be paged through).
pub const MAX_CURSOR_CHARS: usize = 16 * 1024;

/// Where each backend's listing stands between two pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageCursor {
    /// Backend → its upstream cursor, for backends with more to list.
    pending: BTreeMap<String, String>,
}

/// What a list request sends to one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask<'a> {
    /// The first page: no cursor.
    FirstPage,
    /// The next page after this upstream cursor.
    After(&'a str),
    /// Exhausted (or left out earlier): not asked.
    Skip,
}

impl<'a> Ask<'a> {
    /// The `cursor` parameter to send, when the backend is asked.
    pub fn cursor(self) -> Option<&'a str> {
        match self {
            Ask::After(cursor) => Some(cursor),
            Ask::FirstPage | Ask::Skip => None,
        }
    }
}

/// Why a client cursor was refused: answered as invalid params (-32602), as the spec says
/// for an invalid or expired cursor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not sealed by a configured key for this method, altered, or not a cursor at all.
    #[error("invalid cursor ({0})")]
    Unopenable(TokenError),
    /// Authentic, but its content is not a cursor (a bug, or an incompatible gateway version).
    #[error("invalid cursor (unreadable content)")]
    Content,
    /// `params.cursor` is present but not a string.
    #[error("invalid cursor (not a string)")]
    NotText,
}

impl CursorError {
    /// The JSON-RPC error code: invalid params.
    pub fn code(&self) -> i64 {
        INVALID_PARAMS
    }

    /// The error response for a request with this id.
    pub fn response(&self, id: Id) -> Response {
        Response::error(id, self.code(), self.to_string())
    }

    /// A stable metric tag value for this rejection.
    pub fn metric_tag(&self) -> &'static str {
        match self {
            CursorError::Unopenable(err) => err.metric_tag(),
            CursorError::Content => "content",
            CursorError::NotText => "not_text",
        }
    }
}

impl PageCursor {
    /// A cursor from backend → upstream cursor pairs; empty upstream cursors mean
    /// "exhausted" (clients treat an empty `nextCursor` as the end, so backends do too).
    pub fn new<I, B, C>(pending: I) -> PageCursor
    where
        I: IntoIterator<Item = (B, C)>,
        B: Into<String>,
        C: Into<String>,
    {
        let pending = pending
            .into_iter()
            .map(|(b, c)| (b.into(), c.into()))
            .filter(|(_, c)| !c.is_empty())
            .collect();
        PageCursor { pending }
    }

    /// Whether no backend has more to list (then there is no `nextCursor`).
    pub fn is_exhausted(&self) -> bool {
        self.pending.is_empty()
    }

    /// What to send to a backend for the page after this cursor.
    pub fn ask(&self, backend: &str) -> Ask<'_> {
        match self.pending.get(backend) {
            Some(cursor) => Ask::After(cursor),
            None => Ask::Skip,
        }
    }

    /// Seals the cursor for `kind`'s method. `nonce` must be fresh random bytes.
    pub fn seal(
        &self,
        sealer: &Sealer,
        kind: ListKind,
        nonce: [u8; NONCE_LEN],
    ) -> Result<String, SealError> {
        let plaintext =
            serde_json::to_vec(&self.pending).map_err(|err| SealError::Encode(err.to_string()))?;
        let text = sealer.seal_for(&purpose(kind), &plaintext, nonce)?;
        if text.len() > MAX_CURSOR_CHARS {
            return Err(SealError::Encode(format!(
                "cursor of {} characters exceeds {MAX_CURSOR_CHARS}",
                text.len()
            )));
        }
        Ok(text)
    }

    /// Opens a client's cursor for `kind`'s method.
    pub fn open(sealer: &Sealer, kind: ListKind, text: &str) -> Result<PageCursor, CursorError> {
        let plaintext = sealer
            .open_for(&purpose(kind), text, MAX_CURSOR_CHARS)
            .map_err(CursorError::Unopenable)?;
        let pending: BTreeMap<String, String> =
            serde_json::from_slice(&plaintext).map_err(|_| CursorError::Content)?;
        Ok(PageCursor { pending })
    }
}

/// Which page a list request asks for: the first, or the one after a client cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Page {
    /// No client cursor: every backend is asked for its first page.
    #[default]
    First,
    /// After a client cursor: only backends with more to list are asked.
    Next(PageCursor),
}

impl Page {
    /// The page a request's `params.cursor` asks for (absent → first page).
    pub fn from_client(
        sealer: &Sealer,
        kind: ListKind,
        cursor: Option<&str>,
    ) -> Result<Page, CursorError> {
        match cursor {
            None => Ok(Page::First),
            Some(text) => PageCursor::open(sealer, kind, text).map(Page::Next),
        }
    }

    /// The page a list request's `params` ask for (`params.cursor`; absent or null → first).
    pub fn from_params(
        sealer: &Sealer,
        kind: ListKind,
        params: Option<&Value>,
    ) -> Result<Page, CursorError> {
        match params.and_then(|p| p.get("cursor")) {
            None | Some(Value::Null) => Ok(Page::First),
            Some(Value::String(text)) => Page::from_client(sealer, kind, Some(text)),
            Some(_) => Err(CursorError::NotText),
        }
    }

    /// What to send to a backend for this page.
    pub fn ask(&self, backend: &str) -> Ask<'_> {
        match self {
            Page::First => Ask::FirstPage,
            Page::Next(cursor) => cursor.ask(backend),
        }
    }

    /// The `params` of the list request to one backend: the client's params (its `_meta`
    /// and anything else) with the client's cursor replaced by the backend's own; `None`
    /// when the backend is not asked.
    pub fn upstream_params(&self, backend: &str, client: Option<&Value>) -> Option<Value> {
        let ask = self.ask(backend);
        if ask == Ask::Skip {
            return None;
        }
        let mut params = client
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(Map::new);
        params.remove("cursor");
        if let Some(cursor) = ask.cursor() {
            params.insert("cursor".into(), Value::String(cursor.to_string()));
        }
        Some(Value::Object(params))
    }
}

fn purpose(kind: ListKind) -> String {
    format!("cursor {} v1", kind.method())
}
