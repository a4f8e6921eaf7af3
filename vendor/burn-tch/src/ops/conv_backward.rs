//! segsweep patch: convolution gradients from libtorch's `at::convolution_backward` (the
//! kernels PyTorch's autograd runs) instead of burn-backend's generic formulas. See
//! `csrc/convolution_backward.cpp` and `SEGSWEEP_PATCH.md`.

use crate::{LibTorch, TchTensor};
use burn_backend::ops::{ConvOptions, ConvTransposeOptions, conv::pad_asymmetric_conv_input};
use std::ffi::{CStr, c_char, c_int};

type CTensor = torch_sys::C_tensor;

unsafe extern "C" {
    fn segsweep_convolution_backward(
        grad_output: *const CTensor,
        input: *const CTensor,
        weight: *const CTensor,
        stride: *const i64,
        padding: *const i64,
        dilation: *const i64,
        output_padding: *const i64,
        spatial: i64,
        transposed: c_int,
        groups: i64,
        want_input: c_int,
        want_weight: c_int,
        grad_input: *mut *mut CTensor,
        grad_weight: *mut *mut CTensor,
    ) -> *mut c_char;
}

/// Which gradient of a convolution to compute.
#[derive(Clone, Copy)]
pub(crate) enum Wrt {
    Input,
    Weight,
}

/// The geometry of a (transposed) convolution, as libtorch takes it.
struct Geometry<const N: usize> {
    stride: [i64; N],
    padding: [i64; N],
    dilation: [i64; N],
    output_padding: [i64; N],
    transposed: bool,
    groups: i64,
}

fn to_i64<const N: usize>(values: [usize; N]) -> [i64; N] {
    values.map(|v| v as i64)
}

fn run<const N: usize>(
    grad_output: &tch::Tensor,
    input: &tch::Tensor,
    weight: &tch::Tensor,
    geometry: &Geometry<N>,
    wrt: Wrt,
) -> tch::Tensor {
    let mut grad_input: *mut CTensor = std::ptr::null_mut();
    let mut grad_weight: *mut CTensor = std::ptr::null_mut();
    let (want_input, want_weight) = match wrt {
        Wrt::Input => (1, 0),
        Wrt::Weight => (0, 1),
    };
    // SAFETY: the tensor pointers are live `torch::Tensor`s owned by the borrowed tch tensors;
    // the arrays hold `N` elements as `spatial` says; the shim writes only the requested output,
    // a new heap tensor that `tch::Tensor::from_ptr` takes ownership of.
    let error = unsafe {
        segsweep_convolution_backward(
            grad_output.as_ptr(),
            input.as_ptr(),
            weight.as_ptr(),
            geometry.stride.as_ptr(),
            geometry.padding.as_ptr(),
            geometry.dilation.as_ptr(),
            geometry.output_padding.as_ptr(),
            N as i64,
            geometry.transposed as c_int,
            geometry.groups,
            want_input,
            want_weight,
            &mut grad_input,
            &mut grad_weight,
        )
    };
    if !error.is_null() {
        // SAFETY: a non-null return is a NUL-terminated string from `strdup`.
        let message = unsafe { CStr::from_ptr(error) }.to_string_lossy().into_owned();
        unsafe { libc::free(error.cast()) };
        panic!("libtorch convolution_backward failed: {message}");
    }
    let grad = match wrt {
        Wrt::Input => grad_input,
        Wrt::Weight => grad_weight,
    };
    // SAFETY: on success the requested output is a new, owned tensor.
    unsafe { tch::Tensor::from_ptr(grad) }
}

/// Gradient of `conv{N}d(x, weight)` with respect to `x` or `weight`. Asymmetric padding is
/// applied to `x` first, as the forward pass does, and cropped off the input gradient.
pub(crate) fn conv<const N: usize>(
    x: TchTensor,
    weight: TchTensor,
    output_grad: TchTensor,
    options: ConvOptions<N>,
    wrt: Wrt,
) -> TchTensor {
    let padding = options.padding;
    let asymmetric = options.is_asymmetric();
    let input_shape = x.tensor.size();
    let (x, options) = pad_asymmetric_conv_input::<LibTorch, N>(x, options);
    let geometry = Geometry {
        stride: to_i64(options.stride),
        padding: to_i64(options.padding_begin()),
        dilation: to_i64(options.dilation),
        output_padding: [0; N],
        transposed: false,
        groups: options.groups as i64,
    };
    let mut grad = match (formula(&geometry), wrt) {
        (Formula::Libtorch, _) => run(&output_grad.tensor, &x.tensor, &weight.tensor, &geometry, wrt),
        // burn-backend's formulas: a transposed convolution of the output gradient for x; for
        // the weight, x and the output gradient with batch and channels swapped.
        (Formula::Burn, Wrt::Input) => {
            let output_padding: [i64; N] = std::array::from_fn(|d| {
                let (size_in, size_out) = (x.tensor.size()[d + 2], output_grad.tensor.size()[d + 2]);
                let kernel = weight.tensor.size()[d + 2];
                let span = (size_out - 1) * geometry.stride[d] - 2 * geometry.padding[d]
                    + geometry.dilation[d] * (kernel - 1)
                    + 1;
                size_in - span
            });
            output_grad.tensor.convolution(
                &weight.tensor,
                None::<tch::Tensor>,
                geometry.stride,
                geometry.padding,
                geometry.dilation,
                true,
                output_padding,
                geometry.groups,
            )
        }
        (Formula::Burn, Wrt::Weight) => burn_weight_gradient(&x.tensor, &output_grad.tensor, &geometry, &weight.tensor),
    };
    if asymmetric && matches!(wrt, Wrt::Input) {
        for (dim, (begin, _)) in padding.iter().enumerate() {
            grad = grad.narrow(dim as i64 + 2, *begin as i64, input_shape[dim + 2]);
        }
    }
    TchTensor::new(grad)
}

/// Gradient of `conv_transpose{N}d(x, weight)` with respect to `weight`.
pub(crate) fn conv_transpose_weight<const N: usize>(
    x: TchTensor,
    weight: TchTensor,
    output_grad: TchTensor,
    options: ConvTransposeOptions<N>,
) -> TchTensor {
    let geometry = Geometry {
        stride: to_i64(options.stride),
        padding: to_i64(options.padding),
        dilation: to_i64(options.dilation),
        output_padding: to_i64(options.padding_out),
        transposed: true,
        groups: options.groups as i64,
    };
    let grad = match formula(&geometry) {
        Formula::Libtorch => run(&output_grad.tensor, &x.tensor, &weight.tensor, &geometry, Wrt::Weight),
        // burn-backend's formula: the output gradient convolved with x, batch and channels swapped.
        Formula::Burn => burn_weight_gradient(&output_grad.tensor, &x.tensor, &geometry, &weight.tensor),
    };
    TchTensor::new(grad)
}

/// How a gradient is computed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Formula {
    /// libtorch's `convolution_backward`.
    Libtorch,
    /// burn-backend's generic formula, run with libtorch's forward kernels.
    Burn,
}

/// libtorch's kernels; burn-backend's formulas when `SEGSWEEP_TCH_CONV_GRAD=upstream` (read
/// once), so `cargo xtask bench` can measure the patch against upstream burn-tch in one run.
/// Grouped convolutions always take libtorch's kernels (upstream's grouped formula is not
/// reproduced here).
///
/// Measured for the 3D U-Net (batch 1 × 32×128×128, 2 threads, same binary): 3.32 s per
/// training step with libtorch's kernels, 3.17 s with burn's formulas — within the run's noise,
/// although single layers differ by up to 6× either way; in 2D libtorch's kernels are faster in
/// every layer (`docs/performance.md`).
fn formula<const N: usize>(geometry: &Geometry<N>) -> Formula {
    static UPSTREAM: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let upstream =
        *UPSTREAM.get_or_init(|| std::env::var_os("SEGSWEEP_TCH_CONV_GRAD").is_some_and(|v| v == "upstream"));
    if upstream && geometry.groups == 1 { Formula::Burn } else { Formula::Libtorch }
}

/// burn-backend's weight gradient: `input` convolved with `kernel`, both with batch and channels
/// swapped, swapped back and cut to `weight`'s shape.
fn burn_weight_gradient<const N: usize>(
    input: &tch::Tensor,
    kernel: &tch::Tensor,
    geometry: &Geometry<N>,
    weight: &tch::Tensor,
) -> tch::Tensor {
    let swapped = convolve(&input.transpose(0, 1), &kernel.transpose(0, 1), geometry);
    fit(swapped.transpose(0, 1), weight)
}

/// The plain convolution burn-backend uses for weight gradients: stride and dilation swap roles.
fn convolve<const N: usize>(input: &tch::Tensor, kernel: &tch::Tensor, geometry: &Geometry<N>) -> tch::Tensor {
    input.convolution(
        kernel,
        None::<tch::Tensor>,
        geometry.dilation,
        geometry.padding,
        geometry.stride,
        false,
        [0; N],
        1,
    )
}

/// `grad` cut to `weight`'s shape (the formula can overshoot by the stride's remainder).
fn fit(mut grad: tch::Tensor, weight: &tch::Tensor) -> tch::Tensor {
    for (dim, size) in weight.size().into_iter().enumerate() {
        if grad.size()[dim] != size {
            grad = grad.narrow(dim as i64, 0, size);
        }
    }
    grad.contiguous()
}
