//! Progress and cancellation: how a front end watches and stops a use case.

use std::sync::atomic::{AtomicBool, Ordering};

/// What a use case reports while it works.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// A single run stands at simulated day `day` of `end`.
    Day {
        /// Simulated day now.
        day: f64,
        /// Last day of the run.
        end: f64,
    },
    /// `done` of `total` ensemble members have finished.
    Members {
        /// Members finished.
        done: usize,
        /// Members in all.
        total: usize,
    },
    /// A named stage began (writing outputs, delivery, ...).
    Stage(&'static str),
}

/// Watches a use case. Called from worker threads (ensemble members run in parallel), so it is
/// `Sync`; `cancelled` is polled after every step of every simulation, so a cancel takes effect
/// within one step.
pub trait Observer: Sync {
    /// Progress, as often as every step; keep it cheap.
    fn progress(&self, _progress: Progress) {}
    /// Return true to stop: the use case ends with a cancelled error and writes nothing.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Watches nothing, never cancels.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {}

/// A stop flag that another thread (a signal handler, a web request) can raise.
#[derive(Debug, Default)]
pub struct CancelFlag(AtomicBool);

impl CancelFlag {
    /// A lowered flag.
    pub fn new() -> CancelFlag {
        CancelFlag::default()
    }

    /// Ask the use case to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Observer for CancelFlag {
    fn cancelled(&self) -> bool {
        self.is_cancelled()
    }
}
