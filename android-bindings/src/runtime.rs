//! The tokio runtime an account owns. Every background task of the account
//! (event deliveries, maintenance, later the relay agent) runs on it, and
//! it is shut down when the account closes: the app never sees or manages
//! an async runtime.

use std::time::Duration;

use tokio::runtime::{Builder, Handle, Runtime};

use crate::error::{Result, SottoError};

/// How long closing an account waits for its background threads to end.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A multi-threaded tokio runtime, shut down on drop without ever blocking
/// a runtime thread.
pub(crate) struct OwnedRuntime {
    /// `None` only while dropping.
    runtime: Option<Runtime>,
    handle: Handle,
}

impl OwnedRuntime {
    /// Two worker threads: the account's tasks are I/O-bound, and phones
    /// have little to spare.
    pub(crate) fn new() -> Result<Self> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sotto-account")
            .enable_all()
            .build()
            .map_err(|e| {
                tracing::warn!(error = %e, "could not start the account runtime");
                SottoError::Internal
            })?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// Runs `work` to completion on this runtime, blocking the calling
    /// thread. A runtime thread (a listener callback) must not block on
    /// the runtime it runs on: that is refused with
    /// [`SottoError::CalledFromCallback`] rather than a panic or a hang.
    pub(crate) fn block_on<F: std::future::Future>(&self, work: F) -> Result<F::Output> {
        if Handle::try_current().is_ok() {
            return Err(SottoError::CalledFromCallback);
        }
        Ok(self.handle.block_on(work))
    }

    /// Where to spawn the account's tasks.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if Handle::try_current().is_ok() {
            // Closed from a runtime thread (say, by a listener callback):
            // waiting here could wait for this very thread.
            runtime.shutdown_background();
        } else {
            runtime.shutdown_timeout(SHUTDOWN_GRACE);
        }
    }
}
