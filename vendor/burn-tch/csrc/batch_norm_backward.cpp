// segsweep patch: libtorch's own batch-norm gradient (at::native_batch_norm_backward, the
// kernel PyTorch's autograd runs for a training batch norm) for burn-tch's
// ModuleOps::batch_norm_train_backward, which tch 0.24 does not bind. Without it burn-tch
// inherits burn-backend's formula of about a dozen element-wise operations and reductions.
#include <ATen/ATen.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <exception>

extern "C" {

// Gradients of a training-mode batch norm (batch statistics, no running statistics) with
// respect to its input, weight and bias. `save_mean` and `save_invstd` are the batch mean and
// 1/sqrt(var + eps) per channel. Writes three new tensors (tch frees them). Returns null on
// success, otherwise a malloc'ed message the caller frees.
char *segsweep_batch_norm_backward(const at::Tensor *grad_output, const at::Tensor *input,
                                   const at::Tensor *weight, const at::Tensor *save_mean,
                                   const at::Tensor *save_invstd, double eps,
                                   at::Tensor **grad_input, at::Tensor **grad_weight,
                                   at::Tensor **grad_bias) {
  try {
    std::array<bool, 3> mask = {true, true, true};
    auto grads = at::native_batch_norm_backward(*grad_output, *input, *weight, std::nullopt,
                                                std::nullopt, *save_mean, *save_invstd,
                                                /*train=*/true, eps, mask);
    *grad_input = new at::Tensor(std::get<0>(grads));
    *grad_weight = new at::Tensor(std::get<1>(grads));
    *grad_bias = new at::Tensor(std::get<2>(grads));
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}

}  // extern "C"
