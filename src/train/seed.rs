//! Seeds (D11): the seed a run uses is derived from `SYSTEM.SEED` and the run_id, so five
//! run_ids are five independent repeats; every random stream of a run (split, shuffling,
//! augmentation of each sample in each epoch, weight initialisation) is derived from it by
//! label and indices, so no result depends on thread scheduling. The cross-validation folds are
//! the exception: they follow `SYSTEM.SEED` alone, so a fold is the same images in every run.

use sha2::{Digest, Sha256};

/// The effective seed of run `run_id` with `SYSTEM.SEED = seed`.
pub fn run_seed(seed: u64, run_id: u64) -> u64 {
    derive(seed, "run", &[run_id])
}

/// The seed of the cross-validation folds: `SYSTEM.SEED` alone, not the run's, so every run_id
/// and the test phase (`DATA.TEST.USE_VAL_AS_TEST`) see the same folds.
pub fn cross_val_seed(config: &crate::config::Config) -> u64 {
    derive(config.system.seed, "cross-validation", &[])
}

/// A seed for the stream `label` at `indices`, derived from `seed`.
pub fn derive(seed: u64, label: &str, indices: &[u64]) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update(label.as_bytes());
    for i in indices {
        hasher.update(i.to_le_bytes());
    }
    let digest = hasher.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("sha256 has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_by_run_id_and_are_stable() {
        assert_ne!(run_seed(0, 1), run_seed(0, 2));
        assert_eq!(run_seed(0, 1), run_seed(0, 1));
        assert_ne!(derive(5, "augment", &[0, 1]), derive(5, "augment", &[1, 0]));
        assert_ne!(derive(5, "augment", &[0]), derive(5, "shuffle", &[0]));
    }
}
