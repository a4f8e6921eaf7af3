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
    let mut grad = run(&output_grad.tensor, &x.tensor, &weight.tensor, &geometry, wrt);
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
    TchTensor::new(run(
        &output_grad.tensor,
        &x.tensor,
        &weight.tensor,
        &geometry,
        Wrt::Weight,
    ))
}
