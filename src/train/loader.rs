//! Batches for one epoch, built ahead on a worker thread (samples of a batch in parallel with
//! rayon) and handed over through a bounded channel, so the model never waits for data and at
//! most two batches are in memory besides the one in use.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rayon::prelude::*;

use super::error::TrainError;
use super::samples::{Batch, SampleSet, pack};
use super::seed::derive;

/// Sample order of an epoch: shuffled for training (seeded by epoch), in order otherwise.
pub fn epoch_order(n: usize, shuffle: bool, seed: u64, epoch: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(derive(seed, "shuffle", &[epoch as u64])));
    }
    order
}

/// Starts building the batches of `order`; the receiver yields them in order.
pub fn spawn_batches(
    set: Arc<SampleSet>,
    order: Vec<usize>,
    batch_size: usize,
    epoch: usize,
) -> Receiver<Result<Batch, TrainError>> {
    let (sender, receiver) = sync_channel(2);
    std::thread::spawn(move || {
        for chunk in order.chunks(batch_size.max(1)) {
            let samples: Result<Vec<_>, TrainError> = chunk.par_iter().map(|&i| set.sample(i, epoch)).collect();
            let batch = samples.map(|s| pack(&s));
            let failed = batch.is_err();
            if sender.send(batch).is_err() || failed {
                return;
            }
        }
    });
    receiver
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_permutations_and_seeded() {
        let a = epoch_order(10, true, 1, 0);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
        assert_eq!(a, epoch_order(10, true, 1, 0));
        assert_ne!(a, epoch_order(10, true, 1, 1));
        assert_eq!(epoch_order(4, false, 1, 3), vec![0, 1, 2, 3]);
    }
}
