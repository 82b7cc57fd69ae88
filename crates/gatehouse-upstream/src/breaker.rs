//! Circuit breakers: one per target and one for the whole cluster.
//!
//! A breaker is closed (requests pass), open (requests are refused until the cool-down ends) or
//! half-open (a limited number of concurrent probes pass; enough successes close it, one failure
//! re-opens it). Closed → open on `consecutive_failures` failures in a row, or when at least
//! `min_requests` requests in the rolling `window` failed in a proportion of at least
//! `failure_ratio`.
//!
//! The closed state, the common case, is lock-free: admission is one atomic load, a result is a
//! few atomic updates (the window is 10 buckets, each one packed `u64` updated by compare-and-swap).
//! Transitions and half-open probe accounting take a small mutex, never held across an `.await`.
//! Time is tokio's clock, so tests can pause and advance it.

mod window;

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use gatehouse_config::model::CircuitBreaker;
use tokio::time::Instant;

use window::Window;

/// The state of a circuit breaker (the metric value in parentheses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    /// Requests pass (0).
    Closed,
    /// A limited number of probes pass (1).
    HalfOpen,
    /// Requests are refused until the cool-down ends (2).
    Open,
}

impl CircuitState {
    /// The value of `gatehouse_upstream_circuit_state`: 0 closed, 1 half-open, 2 open.
    pub fn metric(self) -> u8 {
        self as u8
    }

    /// `closed`, `half_open` or `open` (logs and the `to` label of transition counts).
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::HalfOpen => "half_open",
            CircuitState::Open => "open",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => CircuitState::Closed,
            1 => CircuitState::HalfOpen,
            _ => CircuitState::Open,
        }
    }
}

impl fmt::Display for CircuitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a cluster cannot take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No target is usable (active or passive health), and no breaker explains it.
    NoTarget,
    /// The cluster's breaker, or every usable target's breaker, is open: retry after this long
    /// (the remaining cool-down; zero while half-open probes are all taken).
    CircuitOpen {
        /// Time until a probe may be let through.
        retry_after: Duration,
    },
}

/// A cluster's breakers, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitStatus {
    /// The cluster's own breaker.
    pub cluster: CircuitState,
    /// Each target's configured address and breaker state, in configuration order.
    pub targets: Vec<(String, CircuitState)>,
    /// Transitions so far into each state, the cluster's and the targets' together.
    pub transitions: [(CircuitState, u64); 3],
}

/// Permission to send one request through a breaker: a probe (with the half-open generation it
/// belongs to) or a normal closed-state request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Permit {
    probe: Option<u64>,
}

/// The half-open bookkeeping, behind the transition mutex.
#[derive(Debug, Default)]
struct Probes {
    /// Bumped on every transition, so that permits of an earlier episode are ignored.
    generation: u64,
    in_flight: u32,
    successes: u32,
}

/// One circuit breaker.
pub(crate) struct Breaker {
    cfg: CircuitBreaker,
    cluster: Arc<str>,
    /// The target's address, or `*` for the cluster's own breaker (logs only).
    scope: Arc<str>,
    base: Instant,
    state: AtomicU8,
    open_until_ms: AtomicU64,
    consecutive: AtomicU32,
    window: Window,
    probes: Mutex<Probes>,
    /// Transitions into closed, half-open and open, by [`CircuitState::metric`].
    transitions: [AtomicU64; 3],
}

impl Breaker {
    /// A closed breaker.
    pub(crate) fn new(cfg: &CircuitBreaker, cluster: Arc<str>, scope: Arc<str>) -> Self {
        Breaker {
            cfg: cfg.clone(),
            cluster,
            scope,
            base: Instant::now(),
            state: AtomicU8::new(CircuitState::Closed.metric()),
            open_until_ms: AtomicU64::new(0),
            consecutive: AtomicU32::new(0),
            window: Window::new(cfg.window),
            probes: Mutex::new(Probes::default()),
            transitions: Default::default(),
        }
    }

    /// The current state (an open breaker whose cool-down ended reports open until the next
    /// admission turns it half-open).
    pub(crate) fn state(&self) -> CircuitState {
        CircuitState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Transitions into `to` so far.
    pub(crate) fn transitions(&self, to: CircuitState) -> u64 {
        self.transitions[usize::from(to.metric())].load(Ordering::Relaxed)
    }

    /// Whether [`admit`](Self::admit) would let a request through now (without taking a permit).
    pub(crate) fn could_admit(&self) -> bool {
        match self.state() {
            CircuitState::Closed => true,
            CircuitState::Open => self.now_ms() >= self.open_until_ms.load(Ordering::Acquire),
            CircuitState::HalfOpen => self.lock().in_flight < self.cfg.half_open_probes.max(1),
        }
    }

    /// Lets a request through, or says how long until one may pass.
    ///
    /// Open and cool-down over → half-open. Half-open: a probe permit while fewer than
    /// `half_open_probes` probes are in flight.
    pub(crate) fn admit(&self) -> Result<Permit, Duration> {
        if self.state() == CircuitState::Closed {
            return Ok(Permit { probe: None });
        }
        let now = self.now_ms();
        let until = self.open_until_ms.load(Ordering::Acquire);
        if self.state() == CircuitState::Open && now < until {
            return Err(Duration::from_millis(until - now));
        }
        let mut probes = self.lock();
        match self.state() {
            CircuitState::Closed => return Ok(Permit { probe: None }),
            CircuitState::Open => {
                let until = self.open_until_ms.load(Ordering::Acquire);
                if now < until {
                    return Err(Duration::from_millis(until - now));
                }
                self.enter(&mut probes, CircuitState::HalfOpen, "cool-down over");
            }
            CircuitState::HalfOpen => {}
        }
        if probes.in_flight >= self.cfg.half_open_probes.max(1) {
            return Err(Duration::ZERO);
        }
        probes.in_flight += 1;
        Ok(Permit {
            probe: Some(probes.generation),
        })
    }

    /// Records the outcome of a request let through with `permit`.
    ///
    /// Closed: counts it (consecutive failures, window) and opens on a trigger. Half-open, for a
    /// probe of the current episode: a failure re-opens, `half_open_probes` successes close.
    /// Results of requests admitted in an earlier state are ignored.
    pub(crate) fn record(&self, permit: Permit, ok: bool) {
        if let Some(generation) = permit.probe {
            let mut probes = self.lock();
            if probes.generation != generation || self.state() != CircuitState::HalfOpen {
                return;
            }
            if !ok {
                self.enter(&mut probes, CircuitState::Open, "probe failed");
            } else {
                probes.successes += 1;
                if probes.successes >= self.cfg.half_open_probes.max(1) {
                    self.enter(&mut probes, CircuitState::Closed, "probes succeeded");
                }
            }
            return;
        }
        if self.state() != CircuitState::Closed {
            return;
        }
        let now = self.now_ms();
        self.window.record(now, !ok);
        if ok {
            // Avoid dirtying the cache line when there is nothing to reset.
            if self.consecutive.load(Ordering::Relaxed) != 0 {
                self.consecutive.store(0, Ordering::Relaxed);
            }
            return;
        }
        let consecutive = self.consecutive.fetch_add(1, Ordering::AcqRel) + 1;
        let reason =
            if self.cfg.consecutive_failures > 0 && consecutive >= self.cfg.consecutive_failures {
                "consecutive failures"
            } else if self.ratio_exceeded(now) {
                "failure ratio"
            } else {
                return;
            };
        let mut probes = self.lock();
        if self.state() == CircuitState::Closed {
            self.enter(&mut probes, CircuitState::Open, reason);
        }
    }

    /// Gives back a permit's probe slot (the request ended, recorded or not).
    pub(crate) fn release(&self, permit: Permit) {
        if let Some(generation) = permit.probe {
            let mut probes = self.lock();
            if probes.generation == generation {
                probes.in_flight = probes.in_flight.saturating_sub(1);
            }
        }
    }

    /// Time until an open breaker lets a probe through (zero when not open).
    pub(crate) fn remaining(&self) -> Duration {
        if self.state() != CircuitState::Open {
            return Duration::ZERO;
        }
        let until = self.open_until_ms.load(Ordering::Acquire);
        Duration::from_millis(until.saturating_sub(self.now_ms()))
    }

    fn ratio_exceeded(&self, now: u64) -> bool {
        if self.cfg.failure_ratio <= 0.0 {
            return false;
        }
        let (total, failures) = self.window.counts(now);
        total >= u64::from(self.cfg.min_requests.max(1))
            && failures as f64 >= self.cfg.failure_ratio * total as f64
    }

    /// Moves to `to` (the caller holds the transition lock) and logs the change once.
    fn enter(&self, probes: &mut Probes, to: CircuitState, reason: &'static str) {
        let from = self.state();
        probes.generation += 1;
        probes.in_flight = 0;
        probes.successes = 0;
        match to {
            CircuitState::Open => {
                let until = self.now_ms().saturating_add(millis(self.cfg.cool_down));
                self.open_until_ms.store(until, Ordering::Release);
            }
            CircuitState::Closed => {
                self.consecutive.store(0, Ordering::Relaxed);
                self.window.reset();
            }
            CircuitState::HalfOpen => {}
        }
        self.state.store(to.metric(), Ordering::Release);
        self.transitions[usize::from(to.metric())].fetch_add(1, Ordering::Relaxed);
        if to == CircuitState::Closed {
            tracing::info!(cluster = %self.cluster, target = %self.scope, %from, to = %to, reason, "circuit breaker state changed");
        } else {
            tracing::warn!(cluster = %self.cluster, target = %self.scope, %from, to = %to, reason, cool_down = ?self.cfg.cool_down, "circuit breaker state changed");
        }
    }

    fn lock(&self) -> MutexGuard<'_, Probes> {
        self.probes.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now_ms(&self) -> u64 {
        millis(self.base.elapsed())
    }
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("scope", &self.scope)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

// === Circuits: the breakers of one cluster ===

/// The cluster's breaker and one per target (in configuration order).
#[derive(Debug)]
pub(crate) struct Circuits {
    pub(crate) cluster: Breaker,
    pub(crate) targets: Box<[Breaker]>,
}

impl Circuits {
    /// Breakers for `cluster` and each of `addresses`.
    pub(crate) fn new(cfg: &CircuitBreaker, cluster: &str, addresses: &[String]) -> Arc<Self> {
        let name: Arc<str> = Arc::from(cluster);
        Arc::new(Circuits {
            cluster: Breaker::new(cfg, name.clone(), Arc::from("*")),
            targets: addresses
                .iter()
                .map(|a| Breaker::new(cfg, name.clone(), Arc::from(a.as_str())))
                .collect(),
        })
    }

    /// Whether target `index`'s breaker would let a request through.
    pub(crate) fn target_could_admit(&self, index: usize) -> bool {
        self.targets.get(index).is_none_or(Breaker::could_admit)
    }

    /// Every breaker's state and the transition counts.
    pub(crate) fn status(&self) -> CircuitStatus {
        let all = || std::iter::once(&self.cluster).chain(self.targets.iter());
        let count = |to| all().map(|b| b.transitions(to)).sum();
        CircuitStatus {
            cluster: self.cluster.state(),
            targets: (self.targets.iter())
                .map(|b| (b.scope.to_string(), b.state()))
                .collect(),
            transitions: [
                CircuitState::Closed,
                CircuitState::HalfOpen,
                CircuitState::Open,
            ]
            .map(|to| (to, count(to))),
        }
    }

    /// The shortest remaining cool-down among open target breakers, if any is open.
    pub(crate) fn shortest_open(&self) -> Option<Duration> {
        self.targets
            .iter()
            .filter(|b| b.state() == CircuitState::Open)
            .map(Breaker::remaining)
            .min()
    }
}

/// The permits of one selected request (cluster and target breakers), released on drop.
#[derive(Debug)]
pub(crate) struct Admission {
    circuits: Arc<Circuits>,
    index: usize,
    cluster: Permit,
    target: Option<Permit>,
}

impl Admission {
    /// Passes the cluster's breaker, or says how long until it may.
    pub(crate) fn cluster(circuits: &Arc<Circuits>) -> Result<Admission, Duration> {
        let cluster = circuits.cluster.admit()?;
        Ok(Admission {
            circuits: circuits.clone(),
            index: 0,
            cluster,
            target: None,
        })
    }

    /// Passes target `index`'s breaker too.
    pub(crate) fn target(&mut self, index: usize) -> Result<(), Duration> {
        if let Some(breaker) = self.circuits.targets.get(index) {
            self.target = Some(breaker.admit()?);
            self.index = index;
        }
        Ok(())
    }

    /// Records the request's outcome in both breakers.
    pub(crate) fn record(&self, ok: bool) {
        self.circuits.cluster.record(self.cluster, ok);
        if let (Some(permit), Some(breaker)) = (self.target, self.circuits.targets.get(self.index))
        {
            breaker.record(permit, ok);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.circuits.cluster.release(self.cluster);
        if let (Some(permit), Some(breaker)) = (self.target, self.circuits.targets.get(self.index))
        {
            breaker.release(permit);
        }
    }
}
