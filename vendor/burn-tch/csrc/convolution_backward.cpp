// segsweep patch: libtorch's own convolution gradients (at::convolution_backward), which
// PyTorch's autograd uses, for burn-tch's ModuleOps::conv*_backward. Without it burn-tch
// inherits burn-backend's generic formulas (a weight gradient computed as a convolution whose
// channels are the batch and whose filter is the feature map), which libtorch runs slowly.
#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>

extern "C" {

// Gradients of a (transposed) convolution without bias. `spatial` is 1, 2 or 3; every int
// array has `spatial` elements. Writes a new tensor to `grad_input` / `grad_weight` when the
// matching `want_*` is non-zero (tch frees them). Returns null on success, otherwise a
// malloc'ed message the caller frees.
char *segsweep_convolution_backward(const at::Tensor *grad_output, const at::Tensor *input,
                                    const at::Tensor *weight, const int64_t *stride,
                                    const int64_t *padding, const int64_t *dilation,
                                    const int64_t *output_padding, int64_t spatial,
                                    int transposed, int64_t groups, int want_input,
                                    int want_weight, at::Tensor **grad_input,
                                    at::Tensor **grad_weight) {
  try {
    std::array<bool, 3> mask = {want_input != 0, want_weight != 0, false};
    auto grads = at::convolution_backward(
        *grad_output, *input, *weight, std::nullopt, at::IntArrayRef(stride, spatial),
        at::IntArrayRef(padding, spatial), at::IntArrayRef(dilation, spatial), transposed != 0,
        at::IntArrayRef(output_padding, spatial), groups, mask);
    if (want_input) *grad_input = new at::Tensor(std::get<0>(grads));
    if (want_weight) *grad_weight = new at::Tensor(std::get<1>(grads));
    return nullptr;
  } catch (const std::exception &e) {
    return strdup(e.what());
  }
}

}  // extern "C"
