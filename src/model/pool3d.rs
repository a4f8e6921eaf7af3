//! 3D max-pooling, which burn 0.22.1 lacks: [`max_pool3d`], built from `max_pool2d` over
//! (y, x) and a max over groups of z slices, so it differentiates through burn's own ops.
//!
//! Only the non-overlapping case the U-Net needs (stride = kernel, no padding); it must not grow
//! options the model does not use.

use burn::tensor::Tensor;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;

/// Max-pools `[batch, channel, z, y, x]` with kernel = stride = `(kz, ky, kx)` into
/// `[batch, channel, z/kz, y/ky, x/kx]` (floored, as PyTorch's `MaxPool3d`: trailing slices
/// that do not fill a window are dropped).
///
/// # Panics
/// If a kernel size is 0.
pub fn max_pool3d(x: Tensor<5>, kernel: [usize; 3]) -> Tensor<5> {
    let [kz, ky, kx] = kernel;
    assert!(kz > 0 && ky > 0 && kx > 0, "max_pool3d: kernel sizes must be positive, got {kernel:?}");
    let [b, c, z, y, x_len] = x.dims();
    let (z_out, y_out, x_out) = (z / kz, y / ky, x_len / kx);
    let x = if z_out * kz != z { x.narrow(2, 0, z_out * kz) } else { x };
    let planes = if ky == 1 && kx == 1 {
        x.narrow(3, 0, y_out).narrow(4, 0, x_out)
    } else {
        let flat = x.reshape([b, c * z_out * kz, y, x_len]);
        max_pool2d(flat, MaxPoolOptions::new([ky, kx])).reshape([b, c, z_out * kz, y_out, x_out])
    };
    if kz == 1 {
        return planes;
    }
    planes.reshape([b, c, z_out, kz, y_out * x_out]).max_dim(3).reshape([b, c, z_out, y_out, x_out])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, TensorData, Tolerance};

    /// The textbook loop over every output voxel and its window.
    fn naive(data: &[f32], dims: [usize; 5], kernel: [usize; 3]) -> (Vec<f32>, [usize; 5]) {
        let [b, c, z, y, x] = dims;
        let [kz, ky, kx] = kernel;
        let out_dims = [b, c, z / kz, y / ky, x / kx];
        let mut out = Vec::new();
        for bi in 0..b {
            for ci in 0..c {
                for oz in 0..z / kz {
                    for oy in 0..y / ky {
                        for ox in 0..x / kx {
                            let mut best = f32::NEG_INFINITY;
                            for dz in 0..kz {
                                for dy in 0..ky {
                                    for dx in 0..kx {
                                        let (iz, iy, ix) = (oz * kz + dz, oy * ky + dy, ox * kx + dx);
                                        let idx = (((bi * c + ci) * z + iz) * y + iy) * x + ix;
                                        best = best.max(data[idx]);
                                    }
                                }
                            }
                            out.push(best);
                        }
                    }
                }
            }
        }
        (out, out_dims)
    }

    fn check(dims: [usize; 5], kernel: [usize; 3]) {
        let device = Device::flex();
        let input = Tensor::<5>::random(dims, Distribution::Normal(0.0, 1.0), &device);
        let data: Vec<f32> = input.to_data().try_to_vec().expect("f32 tensor");
        let (expected, out_dims) = naive(&data, dims, kernel);
        let got = max_pool3d(input, kernel);
        assert_eq!(got.dims(), out_dims);
        got.into_data().assert_approx_eq::<f32>(&TensorData::new(expected, out_dims), Tolerance::absolute(0.0));
    }

    #[test]
    fn matches_a_naive_loop_for_2x2x2() {
        check([2, 3, 4, 6, 8], [2, 2, 2]);
    }

    #[test]
    fn matches_a_naive_loop_for_1x2x2() {
        check([1, 2, 3, 4, 6], [1, 2, 2]);
    }

    #[test]
    fn floors_odd_sizes_like_pytorch() {
        check([1, 2, 5, 7, 5], [2, 2, 2]);
        check([1, 1, 4, 4, 4], [2, 1, 1]);
    }

    #[test]
    fn backward_gives_a_gradient_of_the_input_shape() {
        let device = Device::flex().autodiff();
        let input = Tensor::<5>::random([1, 2, 4, 4, 4], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let grads = max_pool3d(input.clone(), [2, 2, 2]).sum().backward();
        let grad = input.grad(&grads).expect("the input requires a gradient");
        assert_eq!(grad.dims(), [1, 2, 4, 4, 4]);
        // Each 2×2×2 window passes the gradient of its sum (1) to exactly one voxel (ties have
        // probability 0 with random normal data).
        let total: f32 = grad.sum().into_scalar();
        assert!((total - 16.0).abs() < 1e-4, "total gradient {total}");
    }
}
