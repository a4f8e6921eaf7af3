//! segsweep patch: batch normalisation as single kernels over the data (see `SEGSWEEP_PATCH.md`).
//!
//! burn-backend's default `batch_norm_train` and `batch_norm_train_backward` compose about a
//! dozen element-wise operations, transposes and reductions, each a pass over (and often a copy
//! of) the feature map. Here, for `f32` data `[batch, channels, …]`: the statistics of each
//! channel in one task per channel (two passes over its data, accumulated in `f64` lanes), then the
//! normalisation (or the input gradient) in one pass over contiguous `(sample, channel)` blocks.
//! Every sum runs in a fixed order inside one task, so the results do not depend on the number
//! of threads. Other dtypes keep burn-backend's formulas (`composed` below).

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::ops::FloatTensorOps;
use burn_backend::{DType, Scalar, Shape, TensorMetadata};
use burn_std::Bytes;

use crate::{Flex, FlexTensor, Layout};

#[cfg(feature = "rayon")]
use rayon::prelude::*;

/// `[batch, channels, rest]` of a batch-norm input.
fn geometry(shape: &Shape) -> (usize, usize, usize) {
    assert!(shape.num_dims() >= 2, "batch norm requires an input rank of at least 2");
    let (batch, channels) = (shape[0], shape[1]);
    let rest = shape.num_elements() / (batch * channels).max(1);
    (batch, channels, rest)
}

fn f32_tensor(values: Vec<f32>, shape: Shape) -> FlexTensor {
    FlexTensor::new(Bytes::from_elems(values), Layout::contiguous(shape), DType::F32)
}

/// Runs `f(channel, chunk)` on every `(sample, channel)` block of `rest` contiguous values.
fn for_each_block(out: &mut [f32], rest: usize, channels: usize, f: impl Fn(usize, usize, &mut [f32]) + Sync + Send) {
    let rest = rest.max(1);
    #[cfg(feature = "rayon")]
    out.par_chunks_mut(rest).enumerate().for_each(|(block, chunk)| f(block % channels, block, chunk));
    #[cfg(not(feature = "rayon"))]
    out.chunks_mut(rest).enumerate().for_each(|(block, chunk)| f(block % channels, block, chunk));
}

/// `f(channel)` for every channel, collected in order.
fn per_channel<T: Send>(channels: usize, f: impl Fn(usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(feature = "rayon")]
    return (0..channels).into_par_iter().map(f).collect();
    #[cfg(not(feature = "rayon"))]
    return (0..channels).map(f).collect();
}

/// The `rest` values of channel `c` in each sample of `data` (`[batch, channels, rest]`).
fn channel_blocks(data: &[f32], batch: usize, channels: usize, rest: usize, c: usize) -> impl Iterator<Item = &[f32]> {
    (0..batch).map(move |n| &data[(n * channels + c) * rest..(n * channels + c + 1) * rest])
}

/// Independent `f64` accumulators per sum: the sums vectorise instead of waiting on one
/// chain of additions (which made the statistics latency-bound), and element `i` of a channel
/// always goes to lane `i mod LANES`, so the result is the same bits on every run.
const LANES: usize = 8;

/// `acc[i mod LANES] += f(v_i)` over `values` (each block starts again at lane 0).
#[inline(always)]
fn lane_sum(values: &[f32], acc: &mut [f64; LANES], f: impl Fn(f64) -> f64) {
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for lane in 0..LANES {
            acc[lane] += f(chunk[lane] as f64);
        }
    }
    for (lane, &v) in chunks.remainder().iter().enumerate() {
        acc[lane] += f(v as f64);
    }
}

/// The lanes added in a fixed order.
fn lanes_total(acc: &[f64; LANES]) -> f64 {
    acc.iter().sum()
}

/// Mean and biased variance of every channel: two passes over its values, in `f64`.
fn statistics(data: &[f32], batch: usize, channels: usize, rest: usize) -> (Vec<f32>, Vec<f32>) {
    let count = (batch * rest).max(1) as f64;
    let stats = per_channel(channels, |c| {
        let mut sum = [0.0f64; LANES];
        for block in channel_blocks(data, batch, channels, rest, c) {
            lane_sum(block, &mut sum, |v| v);
        }
        let mean = lanes_total(&sum) / count;
        let mut squares = [0.0f64; LANES];
        for block in channel_blocks(data, batch, channels, rest, c) {
            lane_sum(block, &mut squares, |v| (v - mean) * (v - mean));
        }
        (mean as f32, (lanes_total(&squares) / count) as f32)
    });
    stats.into_iter().unzip()
}

/// `(x − mean) · γ / sqrt(variance + ε) + β` per channel, as `scale · x + shift`.
fn normalise(
    data: &[f32],
    shape: Shape,
    gamma: &[f32],
    beta: &[f32],
    mean: &[f32],
    variance: &[f32],
    epsilon: f64,
) -> FlexTensor {
    let (_, channels, rest) = geometry(&shape);
    let scale: Vec<f32> =
        (0..channels).map(|c| (gamma[c] as f64 / (variance[c] as f64 + epsilon).sqrt()) as f32).collect();
    let shift: Vec<f32> = (0..channels).map(|c| beta[c] - mean[c] * scale[c]).collect();
    let mut out = vec![0.0f32; data.len()];
    for_each_block(&mut out, rest, channels, |c, block, chunk| {
        let input = &data[block * rest..(block + 1) * rest];
        let (s, t) = (scale[c], shift[c]);
        for (o, &x) in chunk.iter_mut().zip(input) {
            *o = x * s + t;
        }
    });
    f32_tensor(out, shape)
}

/// `ModuleOps::batch_norm`: the given statistics.
pub fn inference(
    x: FlexTensor,
    gamma: FlexTensor,
    beta: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
) -> FlexTensor {
    if x.dtype() != DType::F32 {
        return composed::batch_norm(x, gamma, beta, mean, variance, epsilon);
    }
    let shape = x.shape();
    let (x, gamma, beta, mean, variance) =
        (x.to_contiguous(), gamma.to_contiguous(), beta.to_contiguous(), mean.to_contiguous(), variance.to_contiguous());
    normalise(x.storage(), shape, gamma.storage(), beta.storage(), mean.storage(), variance.storage(), epsilon)
}

/// `ModuleOps::batch_norm_train`: the normalised batch, its mean and biased variance.
pub fn train(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, epsilon: f64) -> (FlexTensor, FlexTensor, FlexTensor) {
    if x.dtype() != DType::F32 {
        return composed::batch_norm_train(x, gamma, beta, epsilon);
    }
    let shape = x.shape();
    let (batch, channels, rest) = geometry(&shape);
    let (x, gamma, beta) = (x.to_contiguous(), gamma.to_contiguous(), beta.to_contiguous());
    let (mean, variance) = statistics(x.storage(), batch, channels, rest);
    let output = normalise(x.storage(), shape, gamma.storage(), beta.storage(), &mean, &variance, epsilon);
    (output, f32_tensor(mean, Shape::new([channels])), f32_tensor(variance, Shape::new([channels])))
}

/// `ModuleOps::batch_norm_train_backward`: the gradients of [`train`] with respect to `x`, `γ`
/// and `β`. With `x̂ = (x − mean)/σ`, `σ = sqrt(variance + ε)` and `M` values per channel:
/// `dβ = Σ dy`, `dγ = Σ dy·x̂`, `dx = γ/σ · (dy − dβ/M − x̂·dγ/M)`.
pub fn train_backward(
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    output_grad: FlexTensor,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    if x.dtype() != DType::F32 {
        return composed::batch_norm_train_backward(x, gamma, mean, variance, epsilon, output_grad);
    }
    let shape = x.shape();
    let (batch, channels, rest) = geometry(&shape);
    let (x, gamma, mean, variance, grad) = (
        x.to_contiguous(),
        gamma.to_contiguous(),
        mean.to_contiguous(),
        variance.to_contiguous(),
        output_grad.to_contiguous(),
    );
    let (data, dy): (&[f32], &[f32]) = (x.storage(), grad.storage());
    let (gamma, mean, variance): (&[f32], &[f32], &[f32]) = (gamma.storage(), mean.storage(), variance.storage());
    let inv_std: Vec<f64> = variance.iter().map(|&v| 1.0 / (v as f64 + epsilon).sqrt()).collect();
    // `Σ dy` and `Σ dy·x̂ = (Σ dy·(x − mean))/σ`, in `LANES` accumulators each (see `lane_sum`).
    let sums = per_channel(channels, |c| {
        let m = mean[c] as f64;
        let mut sum_dy = [0.0f64; LANES];
        let mut sum_dy_centered = [0.0f64; LANES];
        for (xs, gs) in channel_blocks(data, batch, channels, rest, c).zip(channel_blocks(dy, batch, channels, rest, c)) {
            lane_sum(gs, &mut sum_dy, |g| g);
            let mut xs_chunks = xs.chunks_exact(LANES);
            let mut gs_chunks = gs.chunks_exact(LANES);
            for (x, g) in (&mut xs_chunks).zip(&mut gs_chunks) {
                for lane in 0..LANES {
                    sum_dy_centered[lane] += g[lane] as f64 * (x[lane] as f64 - m);
                }
            }
            for (lane, (&x, &g)) in xs_chunks.remainder().iter().zip(gs_chunks.remainder()).enumerate() {
                sum_dy_centered[lane] += g as f64 * (x as f64 - m);
            }
        }
        (lanes_total(&sum_dy), lanes_total(&sum_dy_centered) * inv_std[c])
    });
    let count = (batch * rest).max(1) as f64;
    let mut x_grad = vec![0.0f32; data.len()];
    for_each_block(&mut x_grad, rest, channels, |c, block, chunk| {
        let (sum_dy, sum_dy_xhat) = sums[c];
        let (m, s) = (mean[c], inv_std[c] as f32);
        let scale = gamma[c] * s;
        let (mean_dy, mean_dy_xhat) = ((sum_dy / count) as f32, (sum_dy_xhat / count) as f32);
        let range = block * rest..(block + 1) * rest;
        for ((o, &x), &g) in chunk.iter_mut().zip(&data[range.clone()]).zip(&dy[range]) {
            let x_hat = (x - m) * s;
            *o = scale * (g - mean_dy - x_hat * mean_dy_xhat);
        }
    });
    let beta_grad: Vec<f32> = sums.iter().map(|&(d, _)| d as f32).collect();
    let gamma_grad: Vec<f32> = sums.iter().map(|&(_, d)| d as f32).collect();
    (
        f32_tensor(x_grad, shape),
        f32_tensor(gamma_grad, Shape::new([channels])),
        f32_tensor(beta_grad, Shape::new([channels])),
    )
}

/// burn-backend 0.22.1's default formulas (`ModuleOps`'s provided methods), for the dtypes the
/// kernels above do not take. A trait's provided method cannot be called from its override, so
/// they are repeated here as upstream has them.
mod composed {
    use super::*;

    fn per_channel_shape(rank: usize, channels: usize) -> Shape {
        let mut dims = vec![1; rank];
        dims[1] = channels;
        Shape::from(dims)
    }

    pub fn batch_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
    ) -> FlexTensor {
        let shape = per_channel_shape(x.shape().num_dims(), x.shape()[1]);
        let gamma = Flex::float_reshape(gamma, shape.clone());
        let beta = Flex::float_reshape(beta, shape.clone());
        let mean = Flex::float_reshape(mean, shape.clone());
        let variance = Flex::float_reshape(variance, shape);
        let std = Flex::float_sqrt(Flex::float_add_scalar(variance, Scalar::Float(epsilon)));
        let normalized = Flex::float_div(Flex::float_sub(x, mean), std);
        Flex::float_add(Flex::float_mul(normalized, gamma), beta)
    }

    pub fn batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let shape = x.shape();
        let channels = shape[1];
        let flattened = Shape::new([channels, shape.num_elements() / channels]);
        let per_channel = per_channel_shape(shape.num_dims(), channels);
        let mean =
            Flex::float_mean_dim(Flex::float_reshape(Flex::float_swap_dims(x.clone(), 0, 1), flattened.clone()), 1);
        let mean = Flex::float_reshape(mean, per_channel);
        let centered = Flex::float_sub(x.clone(), mean.clone());
        let variance = Flex::float_mean_dim(
            Flex::float_reshape(Flex::float_swap_dims(Flex::float_mul(centered.clone(), centered), 0, 1), flattened),
            1,
        );
        let mean = Flex::float_reshape(mean, Shape::new([channels]));
        let variance = Flex::float_reshape(variance, Shape::new([channels]));
        let output = batch_norm(x, gamma, beta, mean.clone(), variance.clone(), epsilon);
        (output, mean, variance)
    }

    pub fn batch_norm_train_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        output_grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let shape = x.shape();
        let channels = shape[1];
        let flattened = Shape::new([channels, shape.num_elements() / channels]);
        let per_channel = per_channel_shape(shape.num_dims(), channels);
        let inv_std = Flex::float_reshape(
            Flex::float_recip(Flex::float_sqrt(Flex::float_add_scalar(variance, Scalar::Float(epsilon)))),
            per_channel.clone(),
        );
        let normalized =
            Flex::float_mul(Flex::float_sub(x, Flex::float_reshape(mean, per_channel.clone())), inv_std.clone());
        let output_grad_flat =
            Flex::float_reshape(Flex::float_swap_dims(output_grad.clone(), 0, 1), flattened.clone());
        let normalized_grad_flat = Flex::float_reshape(
            Flex::float_swap_dims(Flex::float_mul(output_grad.clone(), normalized.clone()), 0, 1),
            flattened,
        );
        let beta_grad = Flex::float_sum_dim(output_grad_flat.clone(), 1);
        let gamma_grad = Flex::float_sum_dim(normalized_grad_flat.clone(), 1);
        let mean_grad = Flex::float_reshape(Flex::float_mean_dim(output_grad_flat, 1), per_channel.clone());
        let mean_normalized_grad =
            Flex::float_reshape(Flex::float_mean_dim(normalized_grad_flat, 1), per_channel.clone());
        let centred_grad = Flex::float_sub(output_grad, mean_grad);
        let projected = Flex::float_mul(normalized, mean_normalized_grad);
        let scale = Flex::float_mul(Flex::float_reshape(gamma, per_channel), inv_std);
        let x_grad = Flex::float_mul(scale, Flex::float_sub(centred_grad, projected));
        (
            x_grad,
            Flex::float_reshape(gamma_grad, Shape::new([channels])),
            Flex::float_reshape(beta_grad, Shape::new([channels])),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn_backend::TensorData;

    fn tensor(values: &[f32], shape: &[usize]) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(values.to_vec(), shape.to_vec()))
    }

    fn values(t: FlexTensor) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Within 1e-4: the composed reference works in `f32` throughout, and on data with a mean
    /// of 100 and a spread of 2 its centred values already carry errors near 1e-5.
    fn close(a: &[f32], b: &[f32], name: &str) {
        assert_eq!(a.len(), b.len(), "{name}");
        for (i, (p, q)) in a.iter().zip(b).enumerate() {
            assert!((p - q).abs() <= 1e-4 * p.abs().max(1.0), "{name}[{i}]: {p} vs {q}");
        }
    }

    /// Data with a large mean (where a one-pass variance would lose digits) and some spread.
    fn data(shape: &[usize]) -> Vec<f32> {
        let n: usize = shape.iter().product();
        (0..n).map(|i| 100.0 + ((i * 7919) % 31) as f32 / 7.0 - 2.0).collect()
    }

    #[test]
    fn fused_batch_norm_matches_burns_formulas() {
        for shape in [vec![4, 3, 5, 6], vec![2, 2, 3, 4, 5], vec![1, 4, 7, 1]] {
            let channels = shape[1];
            let x = data(&shape);
            let gamma: Vec<f32> = (0..channels).map(|c| 0.5 + c as f32 * 0.25).collect();
            let beta: Vec<f32> = (0..channels).map(|c| c as f32 * 0.1 - 0.3).collect();
            let g: Vec<f32> = (0..x.len()).map(|i| ((i * 131) % 17) as f32 / 8.0 - 1.0).collect();
            let t = |v: &[f32], s: &[usize]| tensor(v, s);
            let fused = train(t(&x, &shape), t(&gamma, &[channels]), t(&beta, &[channels]), 1e-5);
            let reference =
                composed::batch_norm_train(t(&x, &shape), t(&gamma, &[channels]), t(&beta, &[channels]), 1e-5);
            let (mean, variance) = (values(fused.1.clone()), values(fused.2.clone()));
            close(&values(fused.0), &values(reference.0), "output");
            close(&mean, &values(reference.1), "mean");
            close(&variance, &values(reference.2), "variance");

            let backward = |f: bool| {
                let args = (t(&x, &shape), t(&gamma, &[channels]), t(&mean, &[channels]), t(&variance, &[channels]));
                if f {
                    train_backward(args.0, args.1, args.2, args.3, 1e-5, t(&g, &shape))
                } else {
                    composed::batch_norm_train_backward(args.0, args.1, args.2, args.3, 1e-5, t(&g, &shape))
                }
            };
            let (fused, reference) = (backward(true), backward(false));
            close(&values(fused.0), &values(reference.0), "x gradient");
            close(&values(fused.1), &values(reference.1), "gamma gradient");
            close(&values(fused.2), &values(reference.2), "beta gradient");

            let given = |f: bool| {
                let args = (t(&x, &shape), t(&gamma, &[channels]), t(&beta, &[channels]), t(&mean, &[channels]));
                let variance = t(&variance, &[channels]);
                if f {
                    inference(args.0, args.1, args.2, args.3, variance, 1e-3)
                } else {
                    composed::batch_norm(args.0, args.1, args.2, args.3, variance, 1e-3)
                }
            };
            close(&values(given(true)), &values(given(false)), "inference");
        }
    }

    #[cfg(feature = "rayon")]
    #[test]
    fn the_statistics_do_not_depend_on_the_thread_count() {
        let shape = [3, 5, 8, 8];
        let x = data(&shape);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let gamma = tensor(&[1.0; 5], &[5]);
                let beta = tensor(&[0.0; 5], &[5]);
                let (y, m, v) = train(tensor(&x, &shape), gamma, beta, 1e-5);
                (values(y), values(m), values(v))
            })
        };
        assert_eq!(run(1), run(3));
    }
}
