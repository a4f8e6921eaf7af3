//! Channel transforms: `GRAYSCALE` (the mean of the three channels of an RGB image, written to
//! all three) and `CHANNEL_SHUFFLE` (one random permutation of the channels for the whole
//! sample). Image only, never the mask; nothing moves in space. Pure computation, no I/O.

use rand::RngExt;
use rand::rngs::ChaCha8Rng;

use crate::data::Volume;

/// `GRAYSCALE`: every voxel's channels replaced by their mean. `config check` refuses it for
/// images without exactly 3 channels, as BiaPy does.
pub(super) fn grayscale(image: &mut Volume<f32>) {
    let nc = image.n_channels().max(1);
    for voxel in image.as_mut_slice().chunks_mut(nc) {
        let mean = voxel.iter().sum::<f32>() / nc as f32;
        voxel.fill(mean);
    }
}

/// `CHANNEL_SHUFFLE`: the channels of every voxel permuted by one uniform random permutation.
pub(super) fn channel_shuffle(image: &mut Volume<f32>, rng: &mut ChaCha8Rng) {
    let nc = image.n_channels().max(1);
    let mut order: Vec<usize> = (0..nc).collect();
    for i in (1..nc).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut scratch = vec![0.0f32; nc];
    for voxel in image.as_mut_slice().chunks_mut(nc) {
        for (dst, &src) in scratch.iter_mut().zip(&order) {
            *dst = voxel[src];
        }
        voxel.copy_from_slice(&scratch);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn grayscale_writes_the_channel_mean_to_every_channel() {
        let mut rgb = Volume::from_vec([1, 1, 2, 3], vec![0.0f32, 0.3, 0.6, 1.0, 1.0, 0.1]).unwrap();
        grayscale(&mut rgb);
        let v = rgb.as_slice();
        assert!(v[..3].iter().all(|&x| (x - 0.3).abs() < 1e-6) && v[3..].iter().all(|&x| (x - 0.7).abs() < 1e-6));
    }

    #[test]
    fn channel_shuffle_permutes_whole_channels() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            // Channel c of every voxel holds c, plus the voxel index in its tenths.
            let mut image =
                Volume::from_vec([1, 1, 4, 3], (0..12).map(|i| (i % 3) as f32 + (i / 3) as f32 / 10.0).collect())
                    .unwrap();
            channel_shuffle(&mut image, &mut rng);
            let v = image.as_slice();
            let order: Vec<usize> = v[..3].iter().map(|&x| x.floor() as usize).collect();
            for (voxel, chunk) in v.chunks(3).enumerate() {
                let expected: Vec<f32> = order.iter().map(|&c| c as f32 + voxel as f32 / 10.0).collect();
                assert!(
                    chunk.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-6),
                    "one permutation for all voxels"
                );
            }
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![0, 1, 2]);
            seen.insert(order);
        }
        assert_eq!(seen.len(), 6, "every permutation of 3 channels occurs");
    }
}
