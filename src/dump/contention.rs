//! Whether other work wants the machine the dump runs on: the dump thread's own wait for a
//! CPU.
//!
//! Owns `Contention`, read from the calling thread's scheduler statistics (Linux
//! `/proc/thread-self/schedstat`: nanoseconds on a CPU, nanoseconds runnable but waiting for
//! one). The dump thread is in the idle class (`runtime`), so it waits whenever live queries,
//! or anything else of normal priority, keep every core busy, and hardly at all otherwise.
//! Lowering its own priority is not enough when the rows come from a server process that
//! runs at normal priority (a PostgreSQL backend producing `COPY` output): each read the dump
//! makes lets that process fill the connection's buffers again, at the live queries'
//! expense. So a job pauses its reads while this says the machine is contended (see
//! `Run::pace`). Elsewhere than on Linux it never does. Must not know what a job does.

/// Runnable time (on a CPU or waiting for one) a decision is taken over, at least: shorter
/// windows are dominated by single scheduler slices.
const WINDOW_NS: u64 = 50_000_000;

/// Of the runnable time in a window, the share spent waiting above which the machine counts
/// as contended. Without other load the dump thread still waits about half the time on two
/// cores, sharing a core with its own upload thread while the server process it reads from
/// has the other (measured over PostgreSQL dumps of 1M rows: median 0.49–0.54, 90th
/// percentile 0.62–0.74, highest 0.85); under 8 clients' point selects it waits almost all
/// the time (median 0.98, first quartile 0.96).
const CONTENDED_WAIT_SHARE: f64 = 0.9;

/// Follows the calling thread's wait for a CPU (see the module doc).
#[derive(Debug, Default)]
pub(super) struct Contention {
    /// (on-CPU ns, waiting ns) at the start of the current window.
    start: Option<(u64, u64)>,
    /// The last window's verdict.
    contended: bool,
}

impl Contention {
    /// Whether the last complete window found the thread waiting for a CPU more than
    /// [`CONTENDED_WAIT_SHARE`] of its runnable time. Must be called on the thread it
    /// follows (the dump's own, where each job runs).
    pub(super) fn contended(&mut self) -> bool {
        match read() {
            Some(now) => self.update(now),
            None => false,
        }
    }

    /// Takes a reading of (on-CPU ns, waiting ns); the verdict so far.
    fn update(&mut self, now: (u64, u64)) -> bool {
        let Some((run0, wait0)) = self.start else {
            self.start = Some(now);
            return false;
        };
        let (run, wait) = (now.0.saturating_sub(run0), now.1.saturating_sub(wait0));
        if run + wait >= WINDOW_NS {
            #[allow(clippy::cast_precision_loss)] // a ratio of durations
            let share = wait as f64 / (run + wait) as f64;
            self.contended = share > CONTENDED_WAIT_SHARE;
            tracing::trace!(
                share,
                contended = self.contended,
                "the dump thread's wait for a CPU"
            );
            self.start = Some(now);
        }
        self.contended
    }
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

    #[test]
    fn a_window_of_mostly_waiting_is_contended_until_one_of_mostly_running() {
        let mut c = Contention::default();
        let first = c.update((100 * MS, 50 * MS));
        assert!(!first, "the first reading only starts a window");
        // 5 ms on a CPU, 30 ms waiting: not a whole window yet, no verdict.
        assert!(!c.update((105 * MS, 80 * MS)));
        // Then 20 ms waiting more: 50 of 55 ms waiting.
        assert!(c.update((105 * MS, 100 * MS)));
        // The verdict holds until the next window completes.
        assert!(c.update((110 * MS, 100 * MS)));
        // 25 ms running, 25 ms waiting: half, as without other load.
        assert!(!c.update((130 * MS, 125 * MS)));
        // Exactly the limit is not above it: 5 ms running, 45 ms waiting.
        assert!(!c.update((135 * MS, 170 * MS)));
        assert!(c.update((139 * MS, 216 * MS)));
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
