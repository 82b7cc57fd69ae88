//! The two algorithms as pure functions over nanosecond timestamps, so that they are exact and
//! testable without a clock. The Redis scripts implement the same arithmetic (in microseconds).

/// The result of one check, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Time until the allowance is fully restored.
    pub reset_after: u64,
    /// When refused: time until the same request would be allowed.
    pub retry_after: Option<u64>,
}

/// GCRA parameters: emission interval `t` and the bucket size `burst`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gcra {
    /// Emission interval `per / requests` (at least 1 ns).
    pub t: u64,
    /// Requests allowed at once.
    pub burst: u64,
}

impl Gcra {
    /// `requests` per `per_ns`, bucket `burst` (default `requests`, at least 1).
    pub fn new(requests: u64, per_ns: u64, burst: Option<u64>) -> Self {
        Gcra {
            t: (per_ns / requests.max(1)).max(1),
            burst: burst.unwrap_or(requests).max(1),
        }
    }

    /// Checks `cost` requests at `now` against the theoretical arrival time `tat` (0 = new key).
    /// Returns the outcome and the TAT to store.
    pub fn check(&self, tat: u64, now: u64, cost: u64) -> (Outcome, u64) {
        // The bucket is full when TAT <= now; every request pushes TAT by `t`; a request is
        // allowed while TAT stays within `t * burst` of now.
        let dvt = self.t.saturating_mul(self.burst);
        let tat = tat.max(now);
        let new_tat = tat.saturating_add(self.t.saturating_mul(cost));
        if new_tat - now <= dvt {
            let outcome = Outcome {
                allowed: true,
                limit: self.burst,
                remaining: (dvt - (new_tat - now)) / self.t,
                reset_after: new_tat - now,
                retry_after: None,
            };
            (outcome, new_tat)
        } else {
            let outcome = Outcome {
                allowed: false,
                limit: self.burst,
                remaining: dvt.saturating_sub(tat - now) / self.t,
                reset_after: tat - now,
                retry_after: Some((new_tat - dvt).saturating_sub(now)),
            };
            (outcome, tat)
        }
    }
}

/// Sliding-window counter state: counts of the current and the previous fixed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Window {
    /// Index of the current window (`now / per`).
    pub index: u64,
    /// Requests counted in the current window.
    pub current: u64,
    /// Requests counted in the previous window.
    pub previous: u64,
}

impl Window {
    /// Checks `cost` requests at `now` against `limit` per `per_ns`; returns the outcome and the
    /// state to store.
    pub fn check(self, now: u64, per_ns: u64, limit: u64, cost: u64) -> (Outcome, Window) {
        let w = per_ns.max(1);
        let index = now / w;
        let e = now % w;
        let mut state = self;
        if state.index + 1 == index {
            state = Window {
                index,
                current: 0,
                previous: state.current,
            };
        } else if state.index != index {
            state = Window {
                index,
                current: 0,
                previous: 0,
            };
        }
        let weighted = weighted(state.previous, w, e);
        let used = state.current.saturating_add(weighted);
        if used.saturating_add(cost) <= limit {
            state.current += cost;
            let outcome = Outcome {
                allowed: true,
                limit,
                remaining: limit - used - cost,
                reset_after: reset_after(&state, w, e),
                retry_after: None,
            };
            (outcome, state)
        } else {
            let outcome = Outcome {
                allowed: false,
                limit,
                remaining: limit.saturating_sub(used),
                reset_after: reset_after(&state, w, e),
                retry_after: Some(retry_after(&state, w, e, limit, cost)),
            };
            (outcome, state)
        }
    }
}

/// `ceil(previous * (w - e) / w)`: the previous window's count weighted by its overlap with the
/// sliding window, rounded up so that the estimate never undercounts.
fn weighted(previous: u64, w: u64, e: u64) -> u64 {
    let num = u128::from(previous) * u128::from(w - e);
    u64::try_from(num.div_ceil(u128::from(w))).unwrap_or(u64::MAX)
}

/// Time until the estimate is back to zero.
fn reset_after(state: &Window, w: u64, e: u64) -> u64 {
    if state.current > 0 {
        (w - e).saturating_add(w)
    } else if state.previous > 0 && e < w {
        w - e
    } else {
        0
    }
}

/// Earliest wait after which `cost` fits, assuming no other request is counted meanwhile.
fn retry_after(state: &Window, w: u64, e: u64, limit: u64, cost: u64) -> u64 {
    // Earliest offset `x` in a window with `previous = p` such that ceil(p * (w - x) / w) <= room:
    // p * (w - x) <= room * w  <=>  x >= w - floor(room * w / p).
    let earliest = |p: u64, room: u64| -> u64 {
        if p == 0 {
            return 0;
        }
        let span = (u128::from(room) * u128::from(w)) / u128::from(p);
        w - u64::try_from(span.min(u128::from(w))).unwrap_or(w)
    };
    if state.current.saturating_add(cost) <= limit {
        earliest(state.previous, limit - state.current - cost).saturating_sub(e)
    } else if cost <= limit {
        (w - e).saturating_add(earliest(state.current, limit - cost))
    } else {
        // Never fits: the time until the estimate is zero.
        reset_after(state, w, e).max(1)
    }
}
