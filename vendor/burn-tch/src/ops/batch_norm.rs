//! segsweep patch: batch normalisation with libtorch's own kernels — `at::batch_norm` with the
//! given statistics, `at::native_batch_norm` for a training batch and
//! `at::native_batch_norm_backward` (through `csrc/batch_norm_backward.cpp`) for its gradients,
//! as PyTorch runs them — instead of burn-backend's formulas composed of element-wise
//! operations and reductions. See `SEGSWEEP_PATCH.md`.

use crate::TchTensor;
use std::ffi::{CStr, c_char};

type CTensor = torch_sys::C_tensor;

unsafe extern "C" {
    fn segsweep_batch_norm_backward(
        grad_output: *const CTensor,
        input: *const CTensor,
        weight: *const CTensor,
        save_mean: *const CTensor,
        save_invstd: *const CTensor,
        eps: f64,
        grad_input: *mut *mut CTensor,
        grad_weight: *mut *mut CTensor,
        grad_bias: *mut *mut CTensor,
    ) -> *mut c_char;
}

/// `(x − mean) / sqrt(variance + ε) · γ + β` per channel (dimension 1).
pub(crate) fn inference(
    x: TchTensor,
    gamma: TchTensor,
    beta: TchTensor,
    mean: TchTensor,
    variance: TchTensor,
    epsilon: f64,
) -> TchTensor {
    TchTensor::new(x.tensor.batch_norm(
        Some(&gamma.tensor),
        Some(&beta.tensor),
        Some(&mean.tensor),
        Some(&variance.tensor),
        false,
        0.0,
        epsilon,
        true,
    ))
}

/// The normalised batch, with the batch mean and biased variance per channel (what burn's
/// running statistics take).
pub(crate) fn train(
    x: TchTensor,
    gamma: TchTensor,
    beta: TchTensor,
    epsilon: f64,
) -> (TchTensor, TchTensor, TchTensor) {
    let none: Option<&tch::Tensor> = None;
    let (output, mean, invstd) = x.tensor.native_batch_norm(
        Some(&gamma.tensor),
        Some(&beta.tensor),
        none,
        none,
        true,
        0.0,
        epsilon,
    );
    // libtorch keeps 1/sqrt(var + ε); burn's contract is the biased variance itself.
    let variance = invstd.pow_tensor_scalar(-2.0) - epsilon;
    (TchTensor::new(output), TchTensor::new(mean), TchTensor::new(variance))
}

/// Gradients of [`train`] with respect to `x`, `γ` and `β`, given `mean` and `variance` as it
/// returned them.
pub(crate) fn train_backward(
    x: TchTensor,
    gamma: TchTensor,
    mean: TchTensor,
    variance: TchTensor,
    epsilon: f64,
    output_grad: TchTensor,
) -> (TchTensor, TchTensor, TchTensor) {
    let invstd = (variance.tensor + epsilon).rsqrt();
    let mut grad_input: *mut CTensor = std::ptr::null_mut();
    let mut grad_weight: *mut CTensor = std::ptr::null_mut();
    let mut grad_bias: *mut CTensor = std::ptr::null_mut();
    // SAFETY: the tensor pointers are live `torch::Tensor`s owned by the tch tensors borrowed
    // here; on success the shim writes three new heap tensors that `from_ptr` takes over.
    let error = unsafe {
        segsweep_batch_norm_backward(
            output_grad.tensor.as_ptr(),
            x.tensor.as_ptr(),
            gamma.tensor.as_ptr(),
            mean.tensor.as_ptr(),
            invstd.as_ptr(),
            epsilon,
            &mut grad_input,
            &mut grad_weight,
            &mut grad_bias,
        )
    };
    if !error.is_null() {
        // SAFETY: a non-null return is a NUL-terminated string from `strdup`.
        let message = unsafe { CStr::from_ptr(error) }.to_string_lossy().into_owned();
        unsafe { libc::free(error.cast()) };
        panic!("libtorch native_batch_norm_backward failed: {message}");
    }
    // SAFETY: on success the three outputs are new, owned tensors.
    unsafe {
        (
            TchTensor::new(tch::Tensor::from_ptr(grad_input)),
            TchTensor::new(tch::Tensor::from_ptr(grad_weight)),
            TchTensor::new(tch::Tensor::from_ptr(grad_bias)),
        )
    }
}
