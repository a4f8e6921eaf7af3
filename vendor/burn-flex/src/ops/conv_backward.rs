//! segsweep patch: the gradients of conv2d and conv3d without burn-backend's detours.
//!
//! burn-backend computes the weight gradient as another convolution (the batch-swapped input
//! convolved with the batch-swapped output gradient, whose "filter" is a whole feature map) and
//! the input gradient as a transposed convolution (a GEMM, then a scatter-add of every column).
//! Here:
//! - **weight gradient**: one GEMM per tile of output positions, `dW += dY_tile · im2col(x)_tile`,
//!   with the forward pass's channels-last im2col; partial sums over fixed groups of tiles are
//!   added in a fixed order, so the result does not depend on the thread count;
//! - **input gradient** of a stride-1, ungrouped convolution: the forward convolution of the
//!   output gradient with the flipped, channel-transposed filter (padding `dilation·(k−1) − p`);
//!   anything else keeps burn-backend's transposed convolution.
//!
//! This file owns only these two gradients; the forward kernels stay in `conv.rs`.

use alloc::vec;
use alloc::vec::Vec;
use burn_backend::DType;
use burn_backend::ops::conv::{calculate_padding_out, pad_asymmetric_conv_input};
use burn_backend::ops::{ConvOptions, ConvTransposeOptions, FloatTensorOps, ModuleOps};
use burn_std::{Bytes, Shape, Slice, bf16, f16};

use super::conv::{gemm_parallelism, im2col_3d_tile, to_channels_last};
use crate::{Flex, FlexTensor, Layout};

/// Output positions per im2col tile of the weight gradient, bounded so that a tile of
/// `col_len` columns stays near 1 MiB of f32.
fn weight_grad_tile(col_len: usize) -> usize {
    (262_144 / col_len.max(1)).clamp(64, 512)
}

/// Upper bound on the memory of the per-group partial weight gradients (elements).
const PARTIAL_BUDGET: usize = 16 << 20;
/// At most this many partial sums: enough tasks for a many-core machine, few additions after.
const MAX_PARTIALS: usize = 16;

/// Gradient of `conv2d`'s weight.
pub(crate) fn conv2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: ConvOptions<2>,
) -> FlexTensor {
    let (x, options) = pad_asymmetric_conv_input::<Flex, 2>(x, options);
    weight_backward_2d(x, &weight, output_grad, &options)
}

/// A 2D weight gradient as the 3D one of depth 1.
fn weight_backward_2d(
    input: FlexTensor,
    weight: &FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let w_shape = weight.layout().shape().clone();
    let grad = conv3d_weight_backward_symmetric(
        unsqueeze_depth(input),
        &[w_shape[0], w_shape[1], 1, w_shape[2], w_shape[3]],
        unsqueeze_depth(output_grad),
        &options_3d(options),
        weight.dtype(),
    );
    grad.reshape(w_shape)
}

/// Gradient of `conv3d`'s weight.
pub(crate) fn conv3d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: ConvOptions<3>,
) -> FlexTensor {
    let (x, options) = pad_asymmetric_conv_input::<Flex, 3>(x, options);
    let w_shape: Vec<usize> = weight.layout().shape().to_vec();
    conv3d_weight_backward_symmetric(x, &w_shape, output_grad, &options, weight.dtype())
}

/// Gradient of `conv2d`'s input.
pub(crate) fn conv2d_x_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: ConvOptions<2>,
) -> FlexTensor {
    x_backward(x, weight, output_grad, options, Flex::conv2d, Flex::conv_transpose2d)
}

/// Gradient of `conv3d`'s input.
pub(crate) fn conv3d_x_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: ConvOptions<3>,
) -> FlexTensor {
    x_backward(x, weight, output_grad, options, Flex::conv3d, Flex::conv_transpose3d)
}

type Conv<const N: usize> = fn(FlexTensor, FlexTensor, Option<FlexTensor>, ConvOptions<N>) -> FlexTensor;
type ConvTranspose<const N: usize> =
    fn(FlexTensor, FlexTensor, Option<FlexTensor>, ConvTransposeOptions<N>) -> FlexTensor;

/// The input gradient: the flipped-filter forward convolution where it exists, else
/// burn-backend's transposed convolution (cropped back for asymmetric padding).
fn x_backward<const N: usize>(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: ConvOptions<N>,
    conv: Conv<N>,
    conv_transpose: ConvTranspose<N>,
) -> FlexTensor {
    if let Some(flipped) = flipped_filter_options(&weight, &options) {
        return conv(output_grad, flip_and_transpose(weight), None, flipped);
    }
    let input_shape = x.layout().shape().clone();
    let padding = options.padding;
    let asymmetric = options.is_asymmetric();
    let (x, options) = pad_asymmetric_conv_input::<Flex, N>(x, options);
    let padding_out =
        transposed_padding_out(&x, &weight, &output_grad, &options.stride, &options.padding_begin(), &options.dilation);
    let transposed = ConvTransposeOptions::new(
        options.stride,
        options.padding_begin(),
        padding_out,
        options.dilation,
        options.groups,
    );
    let grad = conv_transpose(output_grad, weight, None, transposed);
    if asymmetric { crop_padding(grad, &input_shape, &padding) } else { grad }
}

/// Gradient of `conv_transpose2d`'s weight. A transposed convolution's weight gradient is a
/// convolution's weight gradient with the roles swapped: `dW[c_in, c_out, k] = Σ_b Σ_i x[b, c_in,
/// i] · dY[b, c_out, i·stride + k·dilation − padding]` — the convolution of `dY` (its input)
/// whose output gradient is `x`. burn-backend's default again convolves with a feature-map-sized
/// filter.
pub(crate) fn conv_transpose2d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: ConvTransposeOptions<2>,
) -> FlexTensor {
    let conv = ConvOptions::new(options.stride, options.padding, options.dilation, options.groups);
    weight_backward_2d(output_grad, &weight, x, &conv)
}

/// Gradient of `conv_transpose3d`'s weight (see [`conv_transpose2d_weight_backward`]).
pub(crate) fn conv_transpose3d_weight_backward(
    x: FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: ConvTransposeOptions<3>,
) -> FlexTensor {
    let w_shape: Vec<usize> = weight.layout().shape().to_vec();
    let conv = ConvOptions::new(options.stride, options.padding, options.dilation, options.groups);
    conv3d_weight_backward_symmetric(output_grad, &w_shape, x, &conv, weight.dtype())
}

/// The options of the forward convolution that gives the input gradient, when one exists:
/// stride 1, no groups, symmetric padding of at most `dilation·(k−1)` on every axis.
fn flipped_filter_options<const N: usize>(weight: &FlexTensor, options: &ConvOptions<N>) -> Option<ConvOptions<N>> {
    if options.groups != 1 || options.is_asymmetric() || options.stride.iter().any(|&s| s != 1) {
        return None;
    }
    let w_shape = weight.layout().shape();
    let padding_begin = options.padding_begin();
    let mut padding = [0; N];
    for axis in 0..N {
        let reach = options.dilation[axis] * (w_shape[2 + axis] - 1);
        padding[axis] = reach.checked_sub(padding_begin[axis])?;
    }
    Some(ConvOptions::new([1; N], padding, options.dilation, 1))
}

/// `[c_out, c_in, k…]` → `[c_in, c_out, k…]` with every spatial axis reversed.
fn flip_and_transpose(weight: FlexTensor) -> FlexTensor {
    let weight = weight.to_contiguous();
    let shape = weight.layout().shape().to_vec();
    let (c_out, c_in) = (shape[0], shape[1]);
    let k: usize = shape[2..].iter().product();
    let mut new_shape = shape.clone();
    new_shape.swap(0, 1);
    let dtype = weight.dtype();
    fn permute<T: bytemuck::Pod>(w: &[T], c_out: usize, c_in: usize, k: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(w.len());
        for i in 0..c_in {
            for o in 0..c_out {
                let src = &w[(o * c_in + i) * k..][..k];
                out.extend(src.iter().rev());
            }
        }
        out
    }
    let bytes = match dtype {
        DType::F32 => Bytes::from_elems(permute::<f32>(weight.storage(), c_out, c_in, k)),
        DType::F64 => Bytes::from_elems(permute::<f64>(weight.storage(), c_out, c_in, k)),
        DType::F16 => Bytes::from_elems(permute::<f16>(weight.storage(), c_out, c_in, k)),
        DType::BF16 => Bytes::from_elems(permute::<bf16>(weight.storage(), c_out, c_in, k)),
        dtype => panic!("conv backward: unsupported dtype {dtype:?}"),
    };
    FlexTensor::new(bytes, Layout::contiguous(Shape::from(new_shape)), dtype)
}

fn transposed_padding_out<const N: usize>(
    x: &FlexTensor,
    weight: &FlexTensor,
    output_grad: &FlexTensor,
    stride: &[usize; N],
    padding: &[usize; N],
    dilation: &[usize; N],
) -> [usize; N] {
    let (x_shape, w_shape, g_shape) = (x.layout().shape(), weight.layout().shape(), output_grad.layout().shape());
    core::array::from_fn(|axis| {
        calculate_padding_out(
            w_shape[2 + axis],
            stride[axis],
            padding[axis],
            dilation[axis],
            x_shape[2 + axis],
            g_shape[2 + axis],
        )
    })
}

/// The input gradient of an asymmetrically padded convolution, cut back to the input's extent.
fn crop_padding<const N: usize>(grad: FlexTensor, input_shape: &Shape, padding: &[(usize, usize); N]) -> FlexTensor {
    let mut ranges: Vec<Slice> = input_shape.iter().map(|&size| Slice::from(0..size)).collect();
    for (axis, (begin, _)) in padding.iter().enumerate() {
        ranges[axis + 2] = Slice::from(*begin..*begin + input_shape[axis + 2]);
    }
    Flex::float_slice(grad, &ranges)
}

fn unsqueeze_depth(t: FlexTensor) -> FlexTensor {
    let s = t.layout().shape().to_vec();
    t.reshape(Shape::from(vec![s[0], s[1], 1, s[2], s[3]]))
}

fn options_3d(options: &ConvOptions<2>) -> ConvOptions<3> {
    ConvOptions::new(
        [1, options.stride[0], options.stride[1]],
        [0, options.padding_begin()[0], options.padding_begin()[1]],
        [1, options.dilation[0], options.dilation[1]],
        options.groups,
    )
}

fn conv3d_weight_backward_symmetric(
    x: FlexTensor,
    w_shape: &[usize],
    output_grad: FlexTensor,
    options: &ConvOptions<3>,
    dtype: DType,
) -> FlexTensor {
    let x = x.to_contiguous();
    let output_grad = output_grad.to_contiguous();
    let geometry = Geometry::new(x.layout().shape(), w_shape, output_grad.layout().shape(), options);
    let bytes = match dtype {
        DType::F32 => Bytes::from_elems(weight_grad::<f32>(x.storage(), output_grad.storage(), &geometry)),
        DType::F64 => Bytes::from_elems(weight_grad::<f64>(x.storage(), output_grad.storage(), &geometry)),
        DType::F16 => Bytes::from_elems(weight_grad::<f16>(x.storage(), output_grad.storage(), &geometry)),
        DType::BF16 => {
            let x = super::conv_common::convert_bf16_to_f32(&x);
            let g = super::conv_common::convert_bf16_to_f32(&output_grad);
            let grad = weight_grad::<f32>(x.storage(), g.storage(), &geometry);
            Bytes::from_elems(grad.into_iter().map(bf16::from_f32).collect::<Vec<_>>())
        }
        dtype => panic!("conv backward: unsupported dtype {dtype:?}"),
    };
    FlexTensor::new(bytes, Layout::contiguous(Shape::from(w_shape.to_vec())), dtype)
}

/// Shapes of one 3D convolution (`[batch, channels, d, h, w]`, symmetric padding).
struct Geometry {
    batch: usize,
    c_in: usize,
    input: [usize; 3],
    c_out: usize,
    groups: usize,
    kernel: [usize; 3],
    output: [usize; 3],
    stride: [usize; 3],
    padding: [usize; 3],
    dilation: [usize; 3],
}

impl Geometry {
    fn new(x: &[usize], w: &[usize], g: &[usize], options: &ConvOptions<3>) -> Self {
        Self {
            batch: x[0],
            c_in: x[1],
            input: [x[2], x[3], x[4]],
            c_out: w[0],
            groups: options.groups,
            kernel: [w[2], w[3], w[4]],
            output: [g[2], g[3], g[4]],
            stride: options.stride,
            padding: options.padding_begin(),
            dilation: options.dilation,
        }
    }

    fn in_per_group(&self) -> usize {
        self.c_in / self.groups
    }

    fn out_per_group(&self) -> usize {
        self.c_out / self.groups
    }

    fn k_spatial(&self) -> usize {
        self.kernel.iter().product()
    }

    /// im2col row length: `(kd, kh, kw, channel-in-group)`.
    fn col_len(&self) -> usize {
        self.k_spatial() * self.in_per_group()
    }

    fn spatial_out(&self) -> usize {
        self.output.iter().product()
    }
}

/// `dW[o, c, k] = Σ_b Σ_p dY[b, o, p] · x[b, c, p·stride + k·dilation − padding]`, in `T`.
fn weight_grad<T>(x: &[T], dy: &[T], g: &Geometry) -> Vec<T>
where
    T: burn_backend::Element + bytemuck::Pod + Copy + Send + Sync + 'static + core::ops::Add<Output = T>,
{
    let zero = T::from_elem(0.0f32);
    let one = T::from_elem(1.0f32);
    let [in_d, in_h, in_w] = g.input;
    let spatial_out = g.spatial_out();
    let col_len = g.col_len();
    let (cpg, ocpg) = (g.in_per_group(), g.out_per_group());
    let partial_len = g.c_out * col_len;

    let x_nhwc = to_channels_last(x, g.batch, g.c_in, in_d * in_h * in_w, zero);
    let nhwc_stride = (in_d * in_h * in_w * g.c_in, in_h * in_w * g.c_in, in_w * g.c_in, g.c_in, 1);

    let tile = weight_grad_tile(col_len);
    let tiles_per_sample = spatial_out.div_ceil(tile);
    let items = g.batch * tiles_per_sample;
    let partials = items.min(MAX_PARTIALS).min((PARTIAL_BUDGET / partial_len.max(1)).max(1));

    // One partial gradient `[c_out, col_len]` per fixed range of (sample, tile) items.
    let accumulate = |part: usize| -> Vec<T> {
        let mut acc = vec![zero; partial_len];
        let mut col_tile = vec![zero; tile * col_len];
        let (first, last) = (part * items / partials, (part + 1) * items / partials);
        for item in first..last {
            let (b, t) = (item / tiles_per_sample, item % tiles_per_sample);
            let tile_start = t * tile;
            let tile_end = (tile_start + tile).min(spatial_out);
            let rows = tile_end - tile_start;
            for group in 0..g.groups {
                col_tile[..rows * col_len].fill(zero);
                im2col_3d_tile(
                    &mut col_tile,
                    &x_nhwc,
                    tile_start,
                    tile_end,
                    g.output[1],
                    g.output[2],
                    g.kernel[0],
                    g.kernel[1],
                    g.kernel[2],
                    g.stride[0],
                    g.stride[1],
                    g.stride[2],
                    g.dilation[0],
                    g.dilation[1],
                    g.dilation[2],
                    g.padding[0],
                    g.padding[1],
                    g.padding[2],
                    in_d,
                    in_h,
                    in_w,
                    cpg,
                    col_len,
                    b,
                    group * cpg,
                    nhwc_stride,
                );
                let dy_tile = &dy[(b * g.c_out + group * ocpg) * spatial_out + tile_start..];
                let acc_group = &mut acc[group * ocpg * col_len..(group + 1) * ocpg * col_len];
                // SAFETY: `acc_group` is `ocpg × col_len` row-major; `dy_tile` holds `ocpg` rows
                // of `rows` values `spatial_out` apart; `col_tile` is `rows × col_len` row-major.
                unsafe {
                    gemm::gemm(
                        ocpg,
                        col_len,
                        rows,
                        acc_group.as_mut_ptr(),
                        1,
                        col_len as isize,
                        true,
                        dy_tile.as_ptr(),
                        1,
                        spatial_out as isize,
                        col_tile.as_ptr(),
                        1,
                        col_len as isize,
                        one,
                        one,
                        false,
                        false,
                        false,
                        // One partial: the GEMM may thread itself; several: they are the tasks.
                        if partials == 1 { gemm_parallelism(ocpg, rows, col_len) } else { gemm::Parallelism::None },
                    );
                }
            }
        }
        acc
    };

    #[cfg(feature = "rayon")]
    let parts: Vec<Vec<T>> = {
        use rayon::prelude::*;
        (0..partials).into_par_iter().map(accumulate).collect()
    };
    #[cfg(not(feature = "rayon"))]
    let parts: Vec<Vec<T>> = (0..partials).map(accumulate).collect();

    // Fixed order: partial 0 + partial 1 + …, element by element.
    let mut parts = parts.into_iter();
    let mut sum = parts.next().expect("at least one partial gradient");
    for part in parts {
        for (s, p) in sum.iter_mut().zip(part) {
            *s = *s + p;
        }
    }

    // `[c_out, (k, c)]` → `[c_out, c, k]`.
    let k_spatial = g.k_spatial();
    let mut grad = vec![zero; partial_len];
    for o in 0..g.c_out {
        let src = &sum[o * col_len..(o + 1) * col_len];
        let dst = &mut grad[o * col_len..(o + 1) * col_len];
        for k in 0..k_spatial {
            for c in 0..cpg {
                dst[c * k_spatial + k] = src[k * cpg + c];
            }
        }
    }
    grad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(shape: &[usize], seed: u64) -> FlexTensor {
        let n: usize = shape.iter().product();
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let values: Vec<f32> = (0..n)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect();
        FlexTensor::new(Bytes::from_elems(values), Layout::contiguous(Shape::from(shape.to_vec())), DType::F32)
    }

    fn values(t: &FlexTensor) -> Vec<f32> {
        let t = t.to_contiguous();
        let v: &[f32] = t.storage();
        v.to_vec()
    }

    /// One 3D case (2D when `d` is 1 and kernel depth 1), all in f64, straight from the
    /// definition: `y[b,o,p] = Σ_c Σ_k w[o,c,k] · x[b, g·cpg + c, p·s + k·d − pad]`.
    struct Case {
        batch: usize,
        c_in: usize,
        c_out: usize,
        groups: usize,
        input: [usize; 3],
        kernel: [usize; 3],
        stride: [usize; 3],
        padding: [usize; 3],
        dilation: [usize; 3],
    }

    impl Case {
        fn output(&self) -> [usize; 3] {
            core::array::from_fn(|a| {
                (self.input[a] + 2 * self.padding[a] - self.dilation[a] * (self.kernel[a] - 1) - 1) / self.stride[a] + 1
            })
        }

        /// (y, dx, dw), the last two of `Σ y · dy`.
        fn reference(&self, x: &[f32], w: &[f32], dy: &[f32]) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
            let [id, ih, iw] = self.input;
            let [kd, kh, kw] = self.kernel;
            let [od, oh, ow] = self.output();
            let (cpg, ocpg) = (self.c_in / self.groups, self.c_out / self.groups);
            let mut out = vec![0f64; dy.len()];
            let mut dx = vec![0f64; x.len()];
            let mut dw = vec![0f64; w.len()];
            for b in 0..self.batch {
                for o in 0..self.c_out {
                    let group = o / ocpg;
                    for (pz, py, px) in (0..od).flat_map(|z| (0..oh).flat_map(move |y| (0..ow).map(move |x| (z, y, x))))
                    {
                        let yi = (((b * self.c_out + o) * od + pz) * oh + py) * ow + px;
                        let g = dy[yi] as f64;
                        for c in 0..cpg {
                            let ci = group * cpg + c;
                            for (a, bb, cc) in
                                (0..kd).flat_map(|a| (0..kh).flat_map(move |bb| (0..kw).map(move |cc| (a, bb, cc))))
                            {
                                let z =
                                    (pz * self.stride[0] + a * self.dilation[0]) as isize - self.padding[0] as isize;
                                let y =
                                    (py * self.stride[1] + bb * self.dilation[1]) as isize - self.padding[1] as isize;
                                let xx =
                                    (px * self.stride[2] + cc * self.dilation[2]) as isize - self.padding[2] as isize;
                                if z < 0 || y < 0 || xx < 0 || z >= id as isize || y >= ih as isize || xx >= iw as isize
                                {
                                    continue;
                                }
                                let xi =
                                    (((b * self.c_in + ci) * id + z as usize) * ih + y as usize) * iw + xx as usize;
                                let wi = (((o * cpg + c) * kd + a) * kh + bb) * kw + cc;
                                out[yi] += w[wi] as f64 * x[xi] as f64;
                                dw[wi] += g * x[xi] as f64;
                                dx[xi] += g * w[wi] as f64;
                            }
                        }
                    }
                }
            }
            (out, dx, dw)
        }

        fn check(&self, two_d: bool) {
            let [od, oh, ow] = self.output();
            let [id, ih, iw] = self.input;
            let [kd, kh, kw] = self.kernel;
            let (x_shape, w_shape, g_shape): (Vec<usize>, Vec<usize>, Vec<usize>) = if two_d {
                (
                    vec![self.batch, self.c_in, ih, iw],
                    vec![self.c_out, self.c_in / self.groups, kh, kw],
                    vec![self.batch, self.c_out, oh, ow],
                )
            } else {
                (
                    vec![self.batch, self.c_in, id, ih, iw],
                    vec![self.c_out, self.c_in / self.groups, kd, kh, kw],
                    vec![self.batch, self.c_out, od, oh, ow],
                )
            };
            let (x, w, dy) = (tensor(&x_shape, 1), tensor(&w_shape, 2), tensor(&g_shape, 3));
            let (y_ref, dx_ref, dw_ref) = self.reference(&values(&x), &values(&w), &values(&dy));
            let (y, dx, dw) = if two_d {
                let o = ConvOptions::new(
                    [self.stride[1], self.stride[2]],
                    [self.padding[1], self.padding[2]],
                    [self.dilation[1], self.dilation[2]],
                    self.groups,
                );
                (
                    Flex::conv2d(x.clone(), w.clone(), None, o.clone()),
                    Flex::conv2d_x_backward(x.clone(), w.clone(), dy.clone(), o.clone()),
                    Flex::conv2d_weight_backward(x, w, dy, o),
                )
            } else {
                let o = ConvOptions::new(self.stride, self.padding, self.dilation, self.groups);
                (
                    Flex::conv3d(x.clone(), w.clone(), None, o.clone()),
                    Flex::conv3d_x_backward(x.clone(), w.clone(), dy.clone(), o.clone()),
                    Flex::conv3d_weight_backward(x, w, dy, o),
                )
            };
            assert_eq!(dx.layout().shape().to_vec(), x_shape);
            assert_eq!(dw.layout().shape().to_vec(), w_shape);
            assert_eq!(y.layout().shape().to_vec(), g_shape);
            for (name, got, want) in
                [("y", values(&y), y_ref), ("dx", values(&dx), dx_ref), ("dw", values(&dw), dw_ref)]
            {
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!((*g as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()), "{name}[{i}]: {g} vs {w}");
                }
            }
        }
    }

    fn case2d(
        batch: usize,
        c_in: usize,
        c_out: usize,
        groups: usize,
        hw: [usize; 2],
        k: [usize; 2],
        s: usize,
        p: usize,
        d: usize,
    ) -> Case {
        Case {
            batch,
            c_in,
            c_out,
            groups,
            input: [1, hw[0], hw[1]],
            kernel: [1, k[0], k[1]],
            stride: [1, s, s],
            padding: [0, p, p],
            dilation: [1, d, d],
        }
    }

    #[test]
    fn conv2d_and_its_gradients_match_the_definition() {
        // U-Net 3×3 "same" (the flipped-filter input gradient), one input channel, tiles that
        // do not divide the output, stride 2 and dilation (burn-backend's input gradient),
        // groups, no padding, a 1×1 filter and a rectangular one.
        case2d(2, 3, 4, 1, [9, 7], [3, 3], 1, 1, 1).check(true);
        case2d(3, 1, 5, 1, [40, 31], [3, 3], 1, 1, 1).check(true);
        case2d(2, 4, 6, 1, [11, 10], [3, 3], 2, 1, 1).check(true);
        case2d(1, 3, 2, 1, [12, 12], [3, 3], 1, 2, 2).check(true);
        case2d(2, 4, 6, 2, [8, 9], [3, 3], 1, 1, 1).check(true);
        case2d(2, 5, 3, 1, [7, 8], [3, 3], 1, 0, 1).check(true);
        case2d(2, 6, 4, 1, [6, 5], [1, 1], 1, 0, 1).check(true);
        case2d(1, 2, 3, 1, [9, 11], [2, 4], 1, 1, 1).check(true);
    }

    #[test]
    fn conv3d_and_its_gradients_match_the_definition() {
        let base = Case {
            batch: 2,
            c_in: 3,
            c_out: 4,
            groups: 1,
            input: [5, 6, 7],
            kernel: [3, 3, 3],
            stride: [1, 1, 1],
            padding: [1, 1, 1],
            dilation: [1, 1, 1],
        };
        base.check(false);
        Case { stride: [2, 1, 2], ..base }.check(false);
        Case { batch: 1, c_in: 4, groups: 2, kernel: [1, 3, 3], padding: [0, 1, 1], ..base }.check(false);
    }

    /// `conv_transpose2d`'s weight gradient against the definition, with `y = convT(x, w)`:
    /// `y[b, g·ocpg + o, i·s + k·d − p] += x[b, c, i] · w[c, o, k]` for `c` in group `g`.
    fn check_transposed_2d(
        batch: usize,
        c_in: usize,
        ocpg: usize,
        groups: usize,
        hw: [usize; 2],
        k: [usize; 2],
        s: usize,
        p: usize,
        d: usize,
        pad_out: usize,
    ) {
        let out: [usize; 2] = core::array::from_fn(|a| (hw[a] - 1) * s + d * (k[a] - 1) + 1 + pad_out - 2 * p);
        let c_out = ocpg * groups;
        let (x, w, dy) = (
            tensor(&[batch, c_in, hw[0], hw[1]], 4),
            tensor(&[c_in, ocpg, k[0], k[1]], 5),
            tensor(&[batch, c_out, out[0], out[1]], 6),
        );
        let (xv, dyv) = (values(&x), values(&dy));
        let cpg = c_in / groups;
        let mut want = vec![0f64; c_in * ocpg * k[0] * k[1]];
        for b in 0..batch {
            for c in 0..c_in {
                let g = c / cpg;
                for (i, j) in (0..hw[0]).flat_map(|i| (0..hw[1]).map(move |j| (i, j))) {
                    for o in 0..ocpg {
                        for (ki, kj) in (0..k[0]).flat_map(|a| (0..k[1]).map(move |bb| (a, bb))) {
                            let (y0, y1) =
                                ((i * s + ki * d) as isize - p as isize, (j * s + kj * d) as isize - p as isize);
                            if y0 < 0 || y1 < 0 || y0 >= out[0] as isize || y1 >= out[1] as isize {
                                continue;
                            }
                            let xi = ((b * c_in + c) * hw[0] + i) * hw[1] + j;
                            let yi = ((b * c_out + g * ocpg + o) * out[0] + y0 as usize) * out[1] + y1 as usize;
                            want[((c * ocpg + o) * k[0] + ki) * k[1] + kj] += xv[xi] as f64 * dyv[yi] as f64;
                        }
                    }
                }
            }
        }
        let options = ConvTransposeOptions::new([s, s], [p, p], [pad_out, pad_out], [d, d], groups);
        let got = values(&Flex::conv_transpose2d_weight_backward(x, w, dy, options));
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((*g as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()), "dw[{i}]: {g} vs {w}");
        }
    }

    #[test]
    fn conv_transpose2d_weight_gradient_matches_the_definition() {
        // The U-Net's 2×2 stride-2 up-sampling, then padding, dilation, output padding, groups.
        check_transposed_2d(2, 6, 3, 1, [5, 7], [2, 2], 2, 0, 1, 0);
        check_transposed_2d(1, 4, 5, 1, [6, 5], [3, 3], 2, 1, 1, 1);
        check_transposed_2d(2, 3, 2, 1, [4, 6], [3, 2], 1, 1, 2, 0);
        check_transposed_2d(2, 4, 3, 2, [5, 5], [3, 3], 2, 1, 1, 0);
    }

    #[test]
    fn weight_gradient_does_not_depend_on_the_thread_count() {
        let x = tensor(&[4, 8, 64, 48], 7);
        let dy = tensor(&[4, 16, 64, 48], 8);
        let w = tensor(&[16, 8, 3, 3], 9);
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| values(&Flex::conv2d_weight_backward(x.clone(), w.clone(), dy.clone(), options.clone())))
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(3));
    }
}
