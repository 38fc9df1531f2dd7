//! MCP gateway filter (issue 4), being built bottom-up: the pure pieces first (configuration,
//! sealed session tokens, naming, request classification), then the filter that wires them to
//! the host. Not yet in the catalog.

pub mod config;
pub mod cursor;
pub mod merge;
pub mod naming;
pub mod routing;
pub mod session_token;
