//! Per-provider throttles: how many requests may be in flight at one endpoint and how
//! many may start per minute. Endpoints are keyed by base URL, so Artists that share
//! OpenRouter share its limits. Holds no state about runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::{Artist, Brush};

/// One endpoint's limits. A permit is held for the length of one request, not for the
/// waits between retries.
#[derive(Debug, Default)]
pub struct Gate {
    permits: Option<Arc<Semaphore>>,
    /// Set when the endpoint refused the key or the account: later requests are not sent.
    refused: std::sync::Mutex<Option<String>>,
    spacing: Option<(Duration, Mutex<Option<Instant>>)>,
}

impl Gate {
    pub fn new(concurrency: Option<usize>, rpm: Option<u32>) -> Gate {
        Gate {
            permits: concurrency.map(|n| Arc::new(Semaphore::new(n.max(1)))),
            refused: std::sync::Mutex::new(None),
            // Evenly spaced starts: never a burst the provider would count against us.
            spacing: rpm.filter(|r| *r > 0).map(|r| {
                (
                    Duration::from_secs_f64(60.0 / f64::from(r)),
                    Mutex::new(None),
                )
            }),
        }
    }

    pub fn unlimited() -> Arc<Gate> {
        Arc::new(Gate::default())
    }

    /// Remembers that the endpoint refused us (bad key, quota), with its reason.
    pub fn refuse(&self, reason: &str) {
        *self.refused.lock().unwrap_or_else(|p| p.into_inner()) = Some(reason.to_string());
    }

    /// Why the endpoint refused an earlier request, if it did.
    pub fn refused(&self) -> Option<String> {
        self.refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Waits for a request slot; the returned guard frees it when dropped.
    pub async fn enter(&self) -> Option<OwnedSemaphorePermit> {
        let permit = match &self.permits {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        if let Some((interval, next)) = &self.spacing {
            let slot = {
                let mut next = next.lock().await;
                let now = Instant::now();
                let slot = next.map_or(now, |n| n.max(now));
                *next = Some(slot + *interval);
                slot
            };
            tokio::time::sleep_until(slot).await;
        }
        permit
    }
}

/// Which endpoint an Artist or Brush talks to; offline providers have none.
pub fn endpoint_key(provider: &str, base_url: Option<&str>) -> String {
    match base_url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => provider.to_string(),
    }
}

/// The gates for a batch: one per endpoint, each with the tightest limit any member set.
#[derive(Debug, Default)]
pub struct Gates {
    by_endpoint: HashMap<String, Arc<Gate>>,
}

impl Gates {
    pub fn new(artists: &[Artist], brushes: &[Brush]) -> Gates {
        let mut limits: HashMap<String, (Option<usize>, Option<u32>)> = HashMap::new();
        let members = artists
            .iter()
            .map(|a| {
                (
                    endpoint_key(&a.provider, a.base_url.as_deref()),
                    a.concurrency,
                    a.rpm,
                )
            })
            .chain(brushes.iter().map(|b| {
                (
                    endpoint_key(&b.provider, b.base_url.as_deref()),
                    b.concurrency,
                    b.rpm,
                )
            }));
        for (key, concurrency, rpm) in members {
            let entry = limits.entry(key).or_default();
            entry.0 = min_some(entry.0, concurrency);
            entry.1 = min_some(entry.1, rpm);
        }
        Gates {
            by_endpoint: limits
                .into_iter()
                .map(|(k, (c, r))| (k, Arc::new(Gate::new(c, r))))
                .collect(),
        }
    }

    pub fn for_artist(&self, a: &Artist) -> Arc<Gate> {
        self.get(&endpoint_key(&a.provider, a.base_url.as_deref()))
    }

    pub fn for_brush(&self, b: &Brush) -> Arc<Gate> {
        self.get(&endpoint_key(&b.provider, b.base_url.as_deref()))
    }

    fn get(&self, key: &str) -> Arc<Gate> {
        self.by_endpoint
            .get(key)
            .cloned()
            .unwrap_or_else(Gate::unlimited)
    }
}

fn min_some<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rpm_spaces_request_starts() {
        let gate = Gate::new(None, Some(120));
        let start = Instant::now();
        for _ in 0..3 {
            gate.enter().await;
        }
        // 120 rpm = one start every 0.5 s: the third starts at 1.0 s.
        assert_eq!(start.elapsed().as_millis(), 1000);
    }

    #[tokio::test]
    async fn concurrency_caps_permits() {
        let gate = Gate::new(Some(2), None);
        let a = gate.enter().await;
        let _b = gate.enter().await;
        assert!(
            tokio::time::timeout(Duration::from_millis(20), gate.enter())
                .await
                .is_err()
        );
        drop(a);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), gate.enter())
                .await
                .is_ok()
        );
    }
}
