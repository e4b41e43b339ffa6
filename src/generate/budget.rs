//! Cost estimates from the prices in chorus.toml, and the batch budget (`--max-cost`):
//! refuse a batch whose estimate is over, and stop starting runs once money spent plus
//! the estimates of runs in flight would pass it. Pure bookkeeping; no I/O.

use std::sync::Mutex;

use crate::config::{Artist, Brush, Price};

/// Used for the estimate when an Artist sets no `max_tokens`.
pub const ASSUMED_MAX_TOKENS: u32 = 1024;

/// Upper-bound estimate of one run, in dollars: prompt tokens (≈ chars / 4) at the input
/// price, `max_tokens` at the output price, one image. Stages already done cost nothing.
pub fn estimate_run(
    artist: &Artist,
    brush: &Brush,
    prompt: &str,
    artist_done: bool,
) -> Result<f64, String> {
    let artist_usd = if artist_done {
        0.0
    } else {
        estimate_artist(artist, prompt)?
    };
    Ok(artist_usd + estimate_brush(brush)?)
}

/// The Artist's share of [`estimate_run`].
pub fn estimate_artist(artist: &Artist, prompt: &str) -> Result<f64, String> {
    if artist.kind().is_some_and(|k| k.info().builtin()) {
        return Ok(0.0);
    }
    let input_tokens = (prompt.chars().count() / 4 + 1) as f64;
    let output_tokens = f64::from(artist.max_tokens.unwrap_or(ASSUMED_MAX_TOKENS));
    token_usd(input_tokens, output_tokens, &artist.price).ok_or_else(|| {
        format!(
            "artist {:?} has no price; add price = {{ input_per_mtok = .., output_per_mtok = .. }} to it in chorus.toml so --max-cost can estimate",
            artist.slug
        )
    })
}

/// Dollars for these tokens at chorus.toml's prices: the one token × price formula, for
/// estimates and for the cost of a reply that reports none.
pub fn token_usd(input: f64, output: f64, price: &Price) -> Option<f64> {
    Some((input * price.input_per_mtok? + output * price.output_per_mtok?) / 1e6)
}

/// The Brush's share of [`estimate_run`]: one image.
pub fn estimate_brush(brush: &Brush) -> Result<f64, String> {
    if brush.kind().is_some_and(|k| k.info().builtin()) {
        return Ok(0.0);
    }
    brush.price.per_image.ok_or_else(|| {
        format!(
            "brush {:?} has no price; add price = {{ per_image = .. }} to it in chorus.toml so --max-cost can estimate",
            brush.slug
        )
    })
}

/// Money spent in this batch and reserved for runs in flight.
#[derive(Debug)]
pub struct Budget {
    pub max_usd: f64,
    state: Mutex<(f64, f64)>,
}

impl Budget {
    pub fn new(max_usd: f64) -> Budget {
        Budget {
            max_usd,
            state: Mutex::new((0.0, 0.0)),
        }
    }

    /// Reserves `estimate` for a run about to start, unless that would pass the budget.
    pub fn try_reserve(&self, estimate: f64) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 + s.1 + estimate > self.max_usd + 1e-12 {
            return false;
        }
        s.1 += estimate;
        true
    }

    /// A run finished: release its reservation and count what it really cost.
    pub fn settle(&self, estimate: f64, spent: f64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.1 = (s.1 - estimate).max(0.0);
        s.0 += spent;
    }

    pub fn spent(&self) -> f64 {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_and_spending_share_the_budget() {
        let b = Budget::new(1.0);
        assert!(b.try_reserve(0.4));
        assert!(b.try_reserve(0.4));
        assert!(!b.try_reserve(0.4));
        b.settle(0.4, 0.1);
        assert!(b.try_reserve(0.4));
        assert!((b.spent() - 0.1).abs() < 1e-9);
    }
}
