// SAXPY as a CUDA kernel in a PyTorch extension, compiled by torch.utils.cpp_extension.load_inline
// (cuda_sources=...). It works on tensors that are already on the GPU and writes into `out`, so the
// caller allocates device memory once and times the kernel apart from the host<->device copies.
#include <torch/extension.h>

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

__global__ void saxpy_kernel(int64_t n, double a, const double* __restrict__ x, const double* __restrict__ y,
                             double* __restrict__ out) {
    const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i < n) {
        // __dmul_rn/__dadd_rn round after the multiply and after the add, as the CPU does. Plain
        // `a * x[i] + y[i]` lets nvcc fuse them into one FMA (one rounding): 1 ulp away from NumPy.
        out[i] = __dadd_rn(__dmul_rn(a, x[i]), y[i]);
    }
}

// out = a * x + y on the GPU; x, y and out are 1-D float64 CUDA tensors of the same length.
void saxpy_into(double a, torch::Tensor x, torch::Tensor y, torch::Tensor out) {
    // TORCH_CHECK raises a Python RuntimeError with this message when the condition fails.
    TORCH_CHECK(x.is_cuda() && y.is_cuda() && out.is_cuda(), "x, y and out must be CUDA tensors");
    TORCH_CHECK(x.device() == y.device() && x.device() == out.device(), "x, y and out must be on one GPU");
    TORCH_CHECK(x.scalar_type() == torch::kFloat64 && y.scalar_type() == torch::kFloat64 &&
                out.scalar_type() == torch::kFloat64, "x, y and out must be float64");
    TORCH_CHECK(x.dim() == 1 && x.sizes() == y.sizes() && x.sizes() == out.sizes(),
                "x, y and out must be 1-D tensors of the same length");
    TORCH_CHECK(x.is_contiguous() && y.is_contiguous() && out.is_contiguous(), "x, y and out must be contiguous");
    const int64_t n = x.numel();
    if (n == 0) {
        return;
    }
    // Launch on the tensors' GPU and on torch's current stream, where the caller records its CUDA events.
    const c10::cuda::CUDAGuard guard(x.device());
    const int threads = 256;
    const int64_t blocks = (n + threads - 1) / threads;
    saxpy_kernel<<<static_cast<unsigned int>(blocks), threads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        n, a, x.data_ptr<double>(), y.data_ptr<double>(), out.data_ptr<double>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
}
