//! A child process owned by a test: output kept in a log file, killed when dropped, log printed
//! when the test fails.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::error::HarnessError;

/// How many trailing log lines a failing test prints.
const LOG_TAIL_LINES: usize = 400;

/// A running child process with its stdout and stderr in `<workdir>/output.log`.
#[derive(Debug)]
pub struct OwnedChild {
    what: String,
    child: Child,
    workdir: TempDir,
}

impl OwnedChild {
    /// Spawns `command` with stdin closed and both output streams going to the log.
    pub fn spawn(what: &str, mut command: Command, workdir: TempDir) -> Result<Self, HarnessError> {
        let log_path = workdir.path().join("output.log");
        let log = File::create(&log_path)
            .map_err(|e| HarnessError::io(format!("creating {}", log_path.display()), e))?;
        let log_err = log
            .try_clone()
            .map_err(|e| HarnessError::io("duplicating the log handle", e))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| HarnessError::io(format!("starting {what}"), e))?;
        Ok(OwnedChild {
            what: what.to_string(),
            child,
            workdir,
        })
    }

    /// Directory owned by this child (its config, log, …), removed on drop.
    pub fn workdir(&self) -> &Path {
        self.workdir.path()
    }

    /// Path of the combined stdout/stderr log.
    pub fn log_path(&self) -> PathBuf {
        self.workdir.path().join("output.log")
    }

    /// Everything the child wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// `Err(Exited)` with the log when the child has already exited.
    pub fn check_running(&mut self) -> Result<(), HarnessError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(HarnessError::Exited {
                what: self.what.clone(),
                status,
                output: self.log(),
            }),
            Ok(None) => Ok(()),
            Err(e) => Err(HarnessError::io(format!("waiting for {}", self.what), e)),
        }
    }

    /// Waits until the child exits by itself (for processes expected to refuse their input).
    pub async fn wait_exit(
        &mut self,
        timeout: Duration,
    ) -> Result<std::process::ExitStatus, HarnessError> {
        let start = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| HarnessError::io(format!("waiting for {}", self.what), e))?
            {
                return Ok(status);
            }
            if start.elapsed() > timeout {
                return Err(self.not_ready(timeout));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The error for a child that did not get ready in `waited`.
    pub fn not_ready(&self, waited: Duration) -> HarnessError {
        HarnessError::NotReady {
            what: self.what.clone(),
            waited,
            output: self.log(),
        }
    }
}

impl Drop for OwnedChild {
    fn drop(&mut self) {
        // Killing an exited child fails harmlessly; wait() reaps it either way.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            eprintln!(
                "----- {} output (last {} lines of {}) -----\n{}\n----- end of {} output -----",
                self.what,
                tail.len(),
                self.log_path().display(),
                tail.join("\n"),
                self.what
            );
        }
    }
}
