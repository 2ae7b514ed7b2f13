//! The host's one seeded generator: ChaCha8 (`rand_chacha`), with normal draws.
//! Runs derive a fresh generator per (seed, step, group), so a resumed run draws
//! exactly what an uninterrupted one would, with no generator state to
//! checkpoint. (The guest SDK keeps a small generator of its own: guests are
//! built without these crates.)

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Debug)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// The generator for one stream of a run, e.g. `(seed, [step, group])`:
    /// each level keys a fresh ChaCha8 from the level above and the index.
    pub fn derive(seed: u64, stream: &[u64]) -> Rng {
        let mut rng = Rng::new(seed);
        for &s in stream {
            let mut key = [0u8; 32];
            rng.0.fill_bytes(&mut key[..24]);
            key[24..].copy_from_slice(&s.to_le_bytes());
            rng = Rng(ChaCha8Rng::from_seed(key));
        }
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in (0, 1): never exactly 0, so its logarithm is finite.
    pub fn next_f64(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal draw (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.next_f64(), self.next_f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_draws_have_unit_moments_and_streams_differ() {
        let mut rng = Rng::new(1);
        let xs: Vec<f64> = (0..100_000).map(|_| rng.normal()).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.02, "{mean} {var}");
        assert_ne!(Rng::derive(5, &[1, 2]).next_u64(), Rng::derive(5, &[2, 1]).next_u64());
        assert_eq!(Rng::derive(5, &[1, 2]).next_u64(), Rng::derive(5, &[1, 2]).next_u64());
    }
}
