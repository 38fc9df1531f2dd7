//! The harness's error type.

use std::path::PathBuf;
use std::time::Duration;

/// Anything that keeps the harness from rendering a config or starting a process.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// A template refers to a placeholder nobody gave a value for.
    #[error("template {template}: no value for placeholder {{{{{placeholder}}}}}")]
    Template {
        template: String,
        placeholder: String,
    },
    /// A file the harness needs is not there (e.g. a build artifact: run scripts/build).
    #[error("{what} not found at {path} ({hint})")]
    Missing {
        what: &'static str,
        path: PathBuf,
        hint: &'static str,
    },
    /// Reading or writing a file, or spawning a process, failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A child process exited before it was ready; its output is attached.
    #[error("{what} exited with {status} before it was ready; its output:\n{output}")]
    Exited {
        what: String,
        status: std::process::ExitStatus,
        output: String,
    },
    /// A child process did not become ready in time; its output is attached.
    #[error("{what} not ready after {waited:?}; its output:\n{output}")]
    NotReady {
        what: String,
        waited: Duration,
        output: String,
    },
    /// An HTTP request to Envoy's admin endpoint failed.
    #[error("admin request {path}: {message}")]
    Admin { path: String, message: String },
    /// A command-line argument the renderer cannot use.
    #[error("{0}")]
    Usage(String),
}

impl HarnessError {
    /// Wraps an I/O error with what the harness was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        HarnessError::Io {
            context: context.into(),
            source,
        }
    }
}
