//! The runtime dump jobs run on: one OS thread of its own at a lowered CPU priority.
//!
//! Owns `DumpRuntime`: a current-thread tokio runtime on a thread named `starbase-dump`
//! whose nice value is raised to the configured `dump_nice` (default 19) before it starts. Everything a job does runs
//! there: rendering, hashing, uploads (their blocking-pool threads and the SQLite snapshot
//! thread a job opens are started from it and inherit its priority). On a busy machine the
//! scheduler gives live queries the CPU first and the dump what is left; on an idle one the
//! dump runs at full speed. The runtime stops when the handle is dropped. Must not know
//! what a job does.

use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::error::Error;

/// The dump runtime (see the module doc).
#[derive(Debug)]
pub(crate) struct DumpRuntime {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DumpRuntime {
    /// Starts the thread and its runtime.
    ///
    /// # Errors
    /// `58030` when the runtime or the thread cannot be created.
    pub(crate) fn start(nice: i32) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("starbase-dump-io")
            .build()
            .map_err(|e| Error::io("starting the dump runtime", e))?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("starbase-dump".to_owned())
            .spawn(move || {
                lower_priority(nice);
                // Runs the jobs until the handle is dropped; the rest are dropped with it.
                runtime.block_on(async move {
                    let _ = stopped.await;
                });
            })
            .map_err(|e| Error::io("starting the dump thread", e))?;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where jobs are spawned.
    pub(crate) fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for DumpRuntime {
    fn drop(&mut self) {
        // The thread ends on its own; joining here could block an async worker.
        drop(self.stop.take());
        drop(self.thread.take());
    }
}

/// Raises the calling thread's nice value to `nice` (Linux: per thread; at 19 a thread gets
/// about 1/70 of a core that a nice-0 thread also wants). At 19 the thread is also put in
/// Linux's `SCHED_IDLE` class: a query's thread that wakes up then takes the core at once,
/// instead of waiting for the dump thread's time slice to end. Threads the dump thread
/// starts (its SQLite snapshot) inherit both. A failure only costs responsiveness, so it is
/// logged.
fn lower_priority(nice: i32) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), nice) {
            tracing::warn!(error = %e, "could not lower the dump thread's priority");
        }
        if nice >= 19 {
            use thread_priority::unix::{
                NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
                thread_native_id,
            };
            let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
            let priority = thread_priority::ThreadPriority::Min;
            if let Err(e) = set_thread_priority_and_policy(thread_native_id(), priority, idle) {
                tracing::warn!(error = ?e, "could not put the dump thread in the idle class");
            }
        }
    }
}
