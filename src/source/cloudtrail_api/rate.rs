//! One request budget per credentials + endpoint + region, shared by every source that uses them.
//!
//! LookupEvents allows about 2 requests per second per account and region. Requests are spaced
//! evenly (1 / rate seconds apart) through a process-wide registry, so several configurations of
//! one account never exceed the quota together, retries included.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::time::Instant;

/// Spaces requests at least `1 / rate` seconds apart.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next_slot: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter allowing `per_second` requests a second.
    pub fn new(per_second: u32) -> Self {
        RateLimiter { interval: Duration::from_secs(1) / per_second.max(1), next_slot: Mutex::new(None) }
    }

    /// Waits for this caller's turn.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next_slot.lock().expect("rate limiter lock");
            let now = Instant::now();
            let slot = next.map_or(now, |at| at.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The shared limiter of a budget key (credentials identity, endpoint, region).
pub fn shared(key: &str, per_second: u32) -> Arc<RateLimiter> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<RateLimiter>>>> = OnceLock::new();
    let registry = REGISTRY.get_or_init(Default::default);
    let mut limiters = registry.lock().expect("rate registry lock");
    Arc::clone(limiters.entry(key.to_string()).or_insert_with(|| Arc::new(RateLimiter::new(per_second))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_are_spaced_by_the_rate() {
        let limiter = RateLimiter::new(2);
        let started = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        assert_eq!(started.elapsed(), Duration::from_millis(2000));
    }

    #[tokio::test(start_paused = true)]
    async fn one_budget_per_key() {
        let a = shared("key-a", 2);
        let again = shared("key-a", 2);
        let b = shared("key-b", 2);
        assert!(Arc::ptr_eq(&a, &again));
        assert!(!Arc::ptr_eq(&a, &b));
    }
}
