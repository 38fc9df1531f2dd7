//! Identity-provider side of the auth e2e suites: RSA test keys that sign tokens, and a
//! JWKS/OIDC server whose published keys a test rotates while Envoy runs.

mod jwks_server;
mod keys;

pub use jwks_server::JwksServer;
pub use keys::{unsigned_token, KeyError, TestKey};
