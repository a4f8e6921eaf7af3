//! Train/validation split of training samples (spec §3.3, `DATA.VAL.FROM_TRAIN`), by a fraction
//! or by cross-validation folds (`DATA.VAL.CROSS_VAL`).
//!
//! Owns: [`split_train_val`] and [`cross_val_fold`], which pick sample indices. Must not: read files or decide what a
//! sample is (whole images or patches: the caller decides).
//!
//! Like scikit-learn's `train_test_split(test_size=SPLIT_TRAIN)`, validation gets
//! `ceil(SPLIT_TRAIN · n)` samples, computed in f64 as Python does (so `0.07 · 100` gives 8).
//! **Deviation from BiaPy:** the random split uses a seeded ChaCha8 shuffle, not NumPy's
//! Mersenne Twister, so for the same seed it picks other samples than BiaPy does.
//!
//! ```
//! use segsweep::data::split::split_train_val;
//! let (train, val) = split_train_val(10, 0.2, false, 0).unwrap();
//! assert_eq!(train, (0..8).collect::<Vec<_>>());
//! assert_eq!(val, vec![8, 9]);
//! ```

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;

/// A split that is impossible with the given fraction and number of samples.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// The fraction is not in `(0, 1)`.
    #[error("`DATA.VAL.SPLIT_TRAIN` is {fraction} but must be a fraction in (0, 1)")]
    Fraction {
        /// The fraction given.
        fraction: f64,
    },
    /// `CROSS_VAL_NFOLD` folds of `n` samples, or a fold number outside `1..=nfold`.
    #[error(
        "`DATA.VAL.CROSS_VAL_NFOLD` {nfold} with `DATA.VAL.CROSS_VAL_FOLD` {fold} over {n} samples: expected 2 ≤ \
         folds ≤ samples and 1 ≤ fold ≤ folds"
    )]
    Folds {
        /// Samples to split.
        n: usize,
        /// Folds asked for.
        nfold: usize,
        /// The fold asked for (1-based).
        fold: usize,
    },
    /// One side of the split would be empty.
    #[error(
        "`DATA.VAL.SPLIT_TRAIN` {fraction} of {n} samples leaves {n_train} for training and {n_val} for \
         validation; both need at least one"
    )]
    Empty {
        /// Samples to split.
        n: usize,
        /// The fraction given.
        fraction: f64,
        /// Training samples left.
        n_train: usize,
        /// Validation samples.
        n_val: usize,
    },
}

/// Splits sample indices `0..n` into `(train, validation)`, both sorted.
///
/// `n_val = ceil(fraction · n)`. With `random`, the validation samples are the first `n_val` of a
/// ChaCha8 shuffle seeded with `seed`; without, they are the last `n_val` indices.
pub fn split_train_val(
    n: usize,
    fraction: f64,
    random: bool,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), SplitError> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(SplitError::Fraction { fraction });
    }
    let n_val = (fraction * n as f64).ceil() as usize;
    if n_val == 0 || n_val >= n {
        return Err(SplitError::Empty { n, fraction, n_train: n.saturating_sub(n_val), n_val });
    }
    let mut order: Vec<usize> = (0..n).collect();
    if random {
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    } else {
        // Validation is taken from the front below: rotate the last `n_val` there.
        order.rotate_right(n_val);
    }
    let mut val = order[..n_val].to_vec();
    let mut train = order[n_val..].to_vec();
    val.sort_unstable();
    train.sort_unstable();
    Ok((train, val))
}

/// Cross-validation: splits `0..n` into `nfold` folds and returns `(train, validation)` for fold
/// `fold` (1-based, as `DATA.VAL.CROSS_VAL_FOLD`), both sorted.
///
/// Fold sizes are scikit-learn's `StratifiedKFold` over BiaPy's one dummy class: the first
/// `n % nfold` folds hold one sample more. Without `random` the folds are consecutive runs of
/// indices; with it the fold of each sample comes from a ChaCha8 shuffle seeded with `seed` (not
/// NumPy's generator, so other folds than BiaPy's for the same seed — and BiaPy crashes without
/// `DATA.VAL.RANDOM`, where scikit-learn refuses a seed without shuffling).
pub fn cross_val_fold(
    n: usize,
    nfold: usize,
    fold: usize,
    random: bool,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>), SplitError> {
    if nfold < 2 || nfold > n || fold == 0 || fold > nfold {
        return Err(SplitError::Folds { n, nfold, fold });
    }
    let mut folds: Vec<usize> =
        (0..nfold).flat_map(|f| std::iter::repeat_n(f, n / nfold + usize::from(f < n % nfold))).collect();
    if random {
        folds.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    }
    let (val, train): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| folds[i] == fold - 1);
    Ok((train, val))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_random_takes_the_last() {
        let (train, val) = split_train_val(5, 0.1, false, 9).unwrap();
        assert_eq!((train, val), (vec![0, 1, 2, 3], vec![4]));
        let (train, val) = split_train_val(7, 0.3, false, 0).unwrap();
        assert_eq!((train, val), (vec![0, 1, 2, 3], vec![4, 5, 6]));
    }

    #[test]
    fn n_val_is_python_ceil_in_f64() {
        assert_eq!(split_train_val(100, 0.07, false, 0).unwrap().1.len(), 8);
        assert_eq!(split_train_val(10, 0.1, false, 0).unwrap().1.len(), 1);
        assert_eq!(split_train_val(13, 0.7, false, 0).unwrap().1.len(), 10);
    }

    #[test]
    fn random_is_seeded_sorted_and_a_partition() {
        let (train, val) = split_train_val(20, 0.25, true, 42).unwrap();
        assert_eq!(val.len(), 5);
        assert_eq!(train.len(), 15);
        assert!(val.is_sorted() && train.is_sorted());
        let mut all: Vec<_> = train.iter().chain(&val).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
        assert_eq!(split_train_val(20, 0.25, true, 42).unwrap(), (train, val.clone()));
        assert_ne!(split_train_val(20, 0.25, true, 43).unwrap().1, val);
        assert_ne!(val, vec![15, 16, 17, 18, 19]);
    }

    #[test]
    fn folds_are_consecutive_without_random_and_larger_first() {
        // 7 samples in 3 folds: sizes 3, 2, 2.
        assert_eq!(cross_val_fold(7, 3, 1, false, 0).unwrap(), (vec![3, 4, 5, 6], vec![0, 1, 2]));
        assert_eq!(cross_val_fold(7, 3, 2, false, 0).unwrap(), (vec![0, 1, 2, 5, 6], vec![3, 4]));
        assert_eq!(cross_val_fold(7, 3, 3, false, 0).unwrap(), (vec![0, 1, 2, 3, 4], vec![5, 6]));
    }

    #[test]
    fn random_folds_partition_the_samples_and_follow_the_seed() {
        let vals: Vec<Vec<usize>> = (1..=4).map(|f| cross_val_fold(10, 4, f, true, 7).unwrap().1).collect();
        assert_eq!(vals.iter().map(Vec::len).collect::<Vec<_>>(), vec![3, 3, 2, 2]);
        let mut all: Vec<usize> = vals.concat();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        for (f, val) in vals.iter().enumerate() {
            let (train, again) = cross_val_fold(10, 4, f + 1, true, 7).unwrap();
            assert_eq!(&again, val);
            assert!(train.is_sorted() && val.is_sorted());
            assert!(train.iter().all(|i| !val.contains(i)));
        }
        assert_ne!(vals[0], cross_val_fold(10, 4, 1, true, 8).unwrap().1);
        assert_ne!(vals[0], vec![0, 1, 2]);
    }

    #[test]
    fn impossible_folds_name_the_keys() {
        for (n, nfold, fold) in [(5, 1, 1), (3, 4, 1), (10, 5, 0), (10, 5, 6)] {
            let err = cross_val_fold(n, nfold, fold, false, 0).unwrap_err().to_string();
            assert!(err.contains("`DATA.VAL.CROSS_VAL_NFOLD`") && err.contains("`DATA.VAL.CROSS_VAL_FOLD`"), "{err}");
        }
    }

    #[test]
    fn impossible_splits_name_the_key() {
        let err = split_train_val(1, 0.1, true, 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`DATA.VAL.SPLIT_TRAIN` 0.1 of 1 samples leaves 0 for training and 1 for validation; both need at least one"
        );
        assert!(matches!(split_train_val(0, 0.5, false, 0), Err(SplitError::Empty { n_val: 0, .. })));
        assert!(matches!(split_train_val(10, 0.95, false, 0), Err(SplitError::Empty { n_train: 0, .. })));
        let err = split_train_val(10, 1.0, false, 0).unwrap_err();
        assert_eq!(err.to_string(), "`DATA.VAL.SPLIT_TRAIN` is 1 but must be a fraction in (0, 1)");
        assert!(split_train_val(10, f64::NAN, false, 0).is_err());
    }
}
