// SAXPY as a PyTorch C++ extension, compiled by torch.utils.cpp_extension.load_inline.
// load_inline writes the pybind11 module definition for the names passed in `functions=`.
#include <torch/extension.h>

torch::Tensor saxpy(double a, torch::Tensor x, torch::Tensor y) {
    // TORCH_CHECK raises a Python RuntimeError with this message when the condition fails.
    TORCH_CHECK(x.dim() == 1 && x.sizes() == y.sizes(), "x and y must be 1-D tensors of the same length");
    TORCH_CHECK(x.scalar_type() == torch::kFloat64 && y.scalar_type() == torch::kFloat64,
                "x and y must be float64 tensors");
    TORCH_CHECK(x.device().is_cpu() && y.device().is_cpu(), "this kernel is the CPU version");
    auto xc = x.contiguous();
    auto yc = y.contiguous();
    auto out = torch::empty_like(xc);
    const double* xp = xc.data_ptr<double>();
    const double* yp = yc.data_ptr<double>();
    double* op = out.data_ptr<double>();
    const int64_t n = xc.numel();
    for (int64_t i = 0; i < n; ++i) {
        op[i] = a * xp[i] + yp[i];
    }
    return out;
}
