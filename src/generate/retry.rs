//! Retries: which failures get another try, how long to wait (the provider's
//! `Retry-After`, else exponential backoff with jitter), and when to give up (attempts and
//! total wait from `[limits]`). Also the batch's stop signal, which cuts any wait short.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

use super::providers::{ProviderError, Seeded};
use super::throttle::Gate;
use crate::config::Limits;

/// First backoff step; each retry doubles it, jitter takes it down to half at random.
const BACKOFF_BASE: Duration = Duration::from_millis(500);

/// Set once by the first Ctrl-C (or a caller): no new work starts, waits end at once.
#[derive(Debug, Clone)]
pub struct Stop {
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            tx: std::sync::Arc::new(watch::channel(false).0),
        }
    }
}

impl Stop {
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    pub fn is_set(&self) -> bool {
        *self.tx.borrow()
    }

    /// Resolves when the stop is triggered.
    pub async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// How many attempts a stage had and why each retry happened.
#[derive(Debug, Clone, Default)]
pub struct Attempts {
    pub count: u32,
    pub reasons: Vec<String>,
    /// The last failure was transient, but attempts or retry time ran out: the same
    /// request may still succeed later (`resume`).
    pub gave_up: bool,
}

/// Announced before each wait: attempt number that failed, reason, wait.
pub type OnRetry<'a> = &'a (dyn Fn(u32, &str, Duration) + Send + Sync);

/// Calls `call` until it succeeds, fails for good, runs out of attempts or retry time, or
/// the batch stops. Each attempt passes through `gate` (per-provider limits).
pub async fn with_retries<T, F, Fut>(
    limits: &Limits,
    gate: &Gate,
    stop: &Stop,
    on_retry: OnRetry<'_>,
    mut call: F,
) -> (Result<T, ProviderError>, Attempts)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ProviderError>>,
{
    let max_attempts = limits.max_attempts.max(1);
    let max_wait = Duration::from_secs_f64(limits.max_retry_wait_secs.max(0.0));
    let mut attempts = Attempts::default();
    let mut waited = Duration::ZERO;
    let mut jitter = Seeded::from_parts(&[&nanos().to_le_bytes()]);
    loop {
        if let Some(reason) = gate.refused() {
            let reason = format!("not sent: an earlier request was refused: {reason}");
            return (Err(ProviderError::Refused { reason }), attempts);
        }
        attempts.count += 1;
        let result = {
            let _slot = gate.enter().await;
            call().await
        };
        let (reason, retry_after) = match result {
            Ok(value) => return (Ok(value), attempts),
            Err(ProviderError::Retryable {
                reason,
                retry_after,
            }) => (reason, retry_after),
            Err(ProviderError::Refused { reason }) => {
                gate.refuse(&reason);
                return (Err(ProviderError::Refused { reason }), attempts);
            }
            Err(other) => return (Err(other), attempts),
        };
        if attempts.count >= max_attempts {
            attempts.gave_up = true;
            let reason = format!(
                "{reason}; gave up after {} attempts (limits.max_attempts)",
                attempts.count
            );
            return (Err(ProviderError::Fatal { reason }), attempts);
        }
        let wait = retry_after.unwrap_or_else(|| backoff(attempts.count, jitter.unit()));
        if waited + wait > max_wait {
            attempts.gave_up = true;
            let reason = format!(
                "{reason}; gave up: waiting {:.1} s more would pass limits.max_retry_wait_secs = {}",
                wait.as_secs_f64(),
                limits.max_retry_wait_secs
            );
            return (Err(ProviderError::Fatal { reason }), attempts);
        }
        attempts.reasons.push(format!(
            "attempt {}: {reason}; waited {} ms",
            attempts.count,
            wait.as_millis()
        ));
        on_retry(attempts.count, &reason, wait);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait() => return (Err(ProviderError::Interrupted), attempts),
        }
        waited += wait;
    }
}

/// `base × 2^(n-1)`, scaled by a jitter in [0.5, 1.0) so that runs which failed together
/// do not all come back together.
pub fn backoff(failed_attempt: u32, unit: f64) -> Duration {
    let exp = BACKOFF_BASE.saturating_mul(1u32 << failed_attempt.saturating_sub(1).min(16));
    exp.mul_f64(0.5 + unit.clamp(0.0, 1.0) / 2.0)
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn limits(max_attempts: u32, max_wait: f64) -> Limits {
        Limits {
            max_attempts,
            max_retry_wait_secs: max_wait,
            ..Limits::default()
        }
    }

    #[test]
    fn backoff_doubles_with_jitter() {
        assert_eq!(backoff(1, 0.0), Duration::from_millis(250));
        assert_eq!(backoff(3, 0.0), Duration::from_millis(1000));
        assert!(backoff(3, 0.999) < Duration::from_millis(2000));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_then_succeeds_and_records_reasons() {
        let calls = AtomicU32::new(0);
        let (result, attempts) = with_retries(
            &limits(5, 60.0),
            &Gate::default(),
            &Stop::default(),
            &|_, _, _| {},
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        Err(ProviderError::Retryable {
                            reason: "HTTP 500".into(),
                            retry_after: Some(Duration::from_secs(1)),
                        })
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(result.unwrap(), 2);
        assert_eq!(attempts.count, 3);
        assert_eq!(attempts.reasons.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn fatal_is_not_retried_and_caps_hold() {
        let calls = AtomicU32::new(0);
        let (result, attempts) = with_retries(
            &limits(5, 60.0),
            &Gate::default(),
            &Stop::default(),
            &|_, _, _| {},
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    Err::<(), _>(ProviderError::Fatal {
                        reason: "401".into(),
                    })
                }
            },
        )
        .await;
        assert!(result.is_err());
        assert_eq!((attempts.count, calls.load(Ordering::SeqCst)), (1, 1));

        let retry = || async {
            Err::<(), _>(ProviderError::Retryable {
                reason: "x".into(),
                retry_after: Some(Duration::from_secs(10)),
            })
        };
        let (result, attempts) = with_retries(
            &limits(2, 60.0),
            &Gate::default(),
            &Stop::default(),
            &|_, _, _| {},
            retry,
        )
        .await;
        assert!(result.unwrap_err().to_string().contains("max_attempts"));
        assert_eq!(attempts.count, 2);
        let (result, attempts) = with_retries(
            &limits(9, 15.0),
            &Gate::default(),
            &Stop::default(),
            &|_, _, _| {},
            retry,
        )
        .await;
        assert!(result
            .unwrap_err()
            .to_string()
            .contains("max_retry_wait_secs"));
        assert_eq!(attempts.count, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_cuts_a_wait_short() {
        let stop = Stop::default();
        let trigger = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            trigger.trigger();
        });
        let retry = || async {
            Err::<(), _>(ProviderError::Retryable {
                reason: "x".into(),
                retry_after: Some(Duration::from_secs(30)),
            })
        };
        let (result, _) = with_retries(
            &limits(5, 100.0),
            &Gate::default(),
            &stop,
            &|_, _, _| {},
            retry,
        )
        .await;
        assert!(matches!(result, Err(ProviderError::Interrupted)));
    }
}
