//! The HTTPS REST API behind the mcp filter's OpenAPI backend (`clients/rest_api.py`, FastAPI):
//! it makes a CA per run and hands over that CA and its own OpenAPI document.

use std::net::SocketAddr;

use serde_json::Value;

use crate::bootstrap::TlsClusterRoute;
use crate::error::HarnessError;
use crate::python::{client_script, PythonServer};

/// The DNS name the API's certificate is for (Envoy's SNI and name check).
pub const REST_API_HOST: &str = "api.test";

/// A running REST API with its CA certificate and OpenAPI document.
#[derive(Debug)]
pub struct RestApi {
    server: PythonServer,
    ca_pem: String,
    spec: Value,
    _files: tempfile::TempDir,
}

impl RestApi {
    /// Starts the API on a free port.
    pub async fn start() -> Result<Self, HarnessError> {
        let files = tempfile::Builder::new()
            .prefix("rest-api-")
            .tempdir()
            .map_err(|e| HarnessError::io("creating a dir for the API's CA and spec", e))?;
        let ca = files.path().join("ca.pem");
        let spec = files.path().join("openapi.json");
        let (ca_arg, spec_arg) = (ca.display().to_string(), spec.display().to_string());
        let args = ["--ca-out", ca_arg.as_str(), "--spec-out", spec_arg.as_str()];
        let server = PythonServer::start("rest api", client_script("rest_api.py"), &args).await?;
        let read = |path: &std::path::Path| {
            std::fs::read_to_string(path)
                .map_err(|e| HarnessError::io(format!("reading {}", path.display()), e))
        };
        let ca_pem = read(&ca)?;
        let spec = serde_json::from_str(&read(&spec)?)
            .map_err(|e| HarnessError::Usage(format!("the API's OpenAPI document: {e}")))?;
        Ok(RestApi {
            server,
            ca_pem,
            spec,
            _files: files,
        })
    }

    /// Where the API listens (HTTPS).
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The API's generated OpenAPI 3.1 document.
    pub fn spec(&self) -> &Value {
        &self.spec
    }

    /// The PEM of the CA that signed the API's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// An Envoy cluster `name` reaching the API over TLS, trusting only its CA.
    pub fn cluster(&self, name: &str) -> TlsClusterRoute {
        TlsClusterRoute {
            name: name.to_string(),
            upstream: self.addr(),
            sni: REST_API_HOST.to_string(),
            ca_pem: self.ca_pem.clone(),
        }
    }

    /// The API's output so far.
    pub fn log(&self) -> String {
        self.server.log()
    }
}
