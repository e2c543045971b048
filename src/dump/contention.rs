//! Whether other work wants the machine the dump runs on: the dump thread's own wait for a
//! CPU, and the gateway's live work.
//!
//! Owns `Contention`, read from the calling thread's scheduler statistics (Linux
//! `/proc/thread-self/schedstat`: nanoseconds on a CPU, nanoseconds runnable but waiting for
//! one) and from the busy time of the runtime that serves live requests (HTTP, WebSocket,
//! pgwire). The dump thread is in the idle class (`runtime`), so it waits whenever live
//! queries, or anything else of normal priority, keep every core busy, and hardly at all
//! otherwise. Lowering its own priority is not enough when the rows come from a server
//! process that runs at normal priority (a PostgreSQL backend producing `COPY` output): each
//! read the dump makes lets that process fill the connection's buffers again, at the live
//! queries' expense. So a job pauses its reads while this says the machine is contended (see
//! `Run::pace`). Elsewhere than on Linux it never does. Must not know what a job does.

use std::time::{Duration, Instant};

use tokio::runtime::RuntimeMetrics;

/// Runnable time (on a CPU or waiting for one) a decision is taken over, at least: shorter
/// windows are dominated by single scheduler slices.
const WINDOW_NS: u64 = 50_000_000;

/// Of the runnable time in a window, the share spent waiting above which the machine counts
/// as contended whatever keeps it busy. Without other load the dump thread still waits about
/// half the time on two cores, sharing a core with its own upload thread while the server
/// process it reads from has the other (measured over PostgreSQL dumps of 1M rows: median
/// 0.49–0.54, 90th percentile 0.62–0.74, highest 0.85); under 8 clients' point selects it
/// waits almost all the time (median 0.98, first quartile 0.96).
const CONTENDED_WAIT_SHARE: f64 = 0.9;

/// The same share while the gateway serves live requests. Under 8 clients' point selects the
/// dump thread's share ran between 0.70 and 0.98 window by window, so the limit above let
/// windows of a dump at full speed through every few hundred milliseconds, each one a
/// burst of the source's backend at the live queries' priority (point-select p99 2–10×
/// idle). Without live requests this limit does not apply: an idle machine's 0.85 is not
/// contention.
const LIVE_WAIT_SHARE: f64 = 0.5;

/// The live runtime's busy time, as a share of one core over a window, above which the
/// gateway counts as serving live requests (a status poll every 100 ms is far below it).
const LIVE_BUSY_SHARE: f64 = 0.05;

/// One reading: the dump thread's (on-CPU ns, waiting ns), the live runtime's workers' busy
/// ns in all, and when (ns since the `Contention` was made).
#[derive(Debug, Clone, Copy)]
struct Reading {
    run: u64,
    wait: u64,
    live_busy: u64,
    at: u64,
}

/// Follows the calling thread's wait for a CPU and the gateway's live work (see the module
/// doc).
#[derive(Debug)]
pub(super) struct Contention {
    /// The runtime serving live requests; `None`: only the wait share decides.
    live: Option<RuntimeMetrics>,
    origin: Instant,
    /// The reading at the start of the current window.
    start: Option<Reading>,
    /// The last window's verdict.
    contended: bool,
}

impl Contention {
    /// Follows the calling thread and, when given, the runtime serving live requests.
    pub(super) fn new(live: Option<RuntimeMetrics>) -> Self {
        Self {
            live,
            origin: Instant::now(),
            start: None,
            contended: false,
        }
    }

    /// Whether the last complete window found the thread waiting for a CPU more than
    /// [`CONTENDED_WAIT_SHARE`] of its runnable time, or more than [`LIVE_WAIT_SHARE`] while
    /// the gateway served live requests. Must be called on the thread it follows (the
    /// dump's own, where each job runs).
    pub(super) fn contended(&mut self) -> bool {
        let Some((run, wait)) = read() else {
            return false;
        };
        let live_busy = self.live.as_ref().map_or(0, busy_ns);
        let at = nanos(self.origin.elapsed());
        self.update(Reading {
            run,
            wait,
            live_busy,
            at,
        })
    }

    /// Takes a reading; the verdict so far.
    fn update(&mut self, now: Reading) -> bool {
        let Some(start) = self.start else {
            self.start = Some(now);
            return false;
        };
        let run = now.run.saturating_sub(start.run);
        let wait = now.wait.saturating_sub(start.wait);
        if run + wait >= WINDOW_NS {
            #[allow(clippy::cast_precision_loss)] // ratios of durations
            let (share, live) = (
                wait as f64 / (run + wait) as f64,
                now.live_busy.saturating_sub(start.live_busy) as f64
                    / now.at.saturating_sub(start.at).max(1) as f64,
            );
            let limit = if live > LIVE_BUSY_SHARE {
                LIVE_WAIT_SHARE
            } else {
                CONTENDED_WAIT_SHARE
            };
            self.contended = share > limit;
            tracing::trace!(
                share,
                live,
                contended = self.contended,
                "the dump thread's wait for a CPU"
            );
            self.start = Some(now);
        }
        self.contended
    }
}

/// The busy time of all of `runtime`'s workers so far, in ns.
fn busy_ns(runtime: &RuntimeMetrics) -> u64 {
    (0..runtime.num_workers())
        .map(|w| nanos(runtime.worker_total_busy_duration(w)))
        .sum()
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The calling thread's (on-CPU ns, waiting ns); `None` where the kernel does not say. A
/// read of a procfs file the kernel fills from memory: it does not block.
#[cfg(target_os = "linux")]
fn read() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut fields = text.split_ascii_whitespace().map(str::parse::<u64>);
    Some((fields.next()?.ok()?, fields.next()?.ok()?))
}

#[cfg(not(target_os = "linux"))]
fn read() -> Option<(u64, u64)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// A reading with no live work: the live runtime idle, the clock at `at` ms.
    fn quiet(run: u64, wait: u64) -> Reading {
        Reading {
            run,
            wait,
            live_busy: 0,
            at: (run + wait) * 2,
        }
    }

    #[test]
    fn a_window_of_mostly_waiting_is_contended_until_one_of_mostly_running() {
        let mut c = Contention::new(None);
        let first = c.update(quiet(100 * MS, 50 * MS));
        assert!(!first, "the first reading only starts a window");
        // 5 ms on a CPU, 30 ms waiting: not a whole window yet, no verdict.
        assert!(!c.update(quiet(105 * MS, 80 * MS)));
        // Then 20 ms waiting more: 50 of 55 ms waiting.
        assert!(c.update(quiet(105 * MS, 100 * MS)));
        // The verdict holds until the next window completes.
        assert!(c.update(quiet(110 * MS, 100 * MS)));
        // 25 ms running, 25 ms waiting: half, as without other load.
        assert!(!c.update(quiet(130 * MS, 125 * MS)));
        // Exactly the limit is not above it: 5 ms running, 45 ms waiting.
        assert!(!c.update(quiet(135 * MS, 170 * MS)));
        assert!(c.update(quiet(139 * MS, 216 * MS)));
    }

    #[test]
    fn while_live_requests_are_served_a_lower_wait_share_is_contention() {
        let mut c = Contention::new(None);
        let at = |ms: u64| ms * MS;
        c.update(Reading {
            run: 0,
            wait: 0,
            live_busy: 0,
            at: at(0),
        });
        // 15 ms running, 35 waiting (0.7) over 100 ms while the live runtime was busy 30 ms.
        assert!(c.update(Reading {
            run: 15 * MS,
            wait: 35 * MS,
            live_busy: 30 * MS,
            at: at(100),
        }));
        // The same share with the live runtime busy 4 ms in 100 (below 5 %): not contended.
        assert!(!c.update(Reading {
            run: 30 * MS,
            wait: 70 * MS,
            live_busy: 34 * MS,
            at: at(200),
        }));
        // Live work again, but the dump thread waits less than half the time: not contended.
        assert!(!c.update(Reading {
            run: 60 * MS,
            wait: 90 * MS,
            live_busy: 80 * MS,
            at: at(300),
        }));
        // Without live work, above 0.9 still is.
        assert!(c.update(Reading {
            run: 64 * MS,
            wait: 136 * MS,
            live_busy: 80 * MS,
            at: at(400),
        }));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_live_runtime_s_busy_time_is_read() {
        let metrics = tokio::runtime::Handle::current().metrics();
        let before = busy_ns(&metrics);
        for _ in 0..20 {
            tokio::spawn(async {
                let started = Instant::now();
                while started.elapsed() < Duration::from_millis(2) {
                    std::hint::spin_loop();
                }
            })
            .await
            .unwrap();
        }
        // A worker adds its busy time when it parks.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            busy_ns(&metrics) >= before + 20 * MS,
            "40 ms of tasks count as busy time"
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_calling_thread_s_statistics_are_read() {
        let (run, wait) = read().expect("schedstat on Linux");
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(5) {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let (run2, wait2) = read().unwrap();
        assert!(
            run2 > run,
            "the thread's time on a CPU grows while it works"
        );
        assert!(wait2 >= wait);
    }
}
