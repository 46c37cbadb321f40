// SAXPY as a CUDA kernel in a plain shared library, called from Python through ctypes.
// The host function copies the inputs to the GPU, launches one thread per element and copies back.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>

__global__ void saxpy_kernel(int64_t n, double a, const double* x, const double* y, double* out) {
    int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (i < n) {
        // Round after the multiply and after the add, as the CPU does (no fused multiply-add), so the
        // result is bit for bit NumPy's: plain `a * x[i] + y[i]` lets nvcc emit one FMA instead.
        out[i] = __dadd_rn(__dmul_rn(a, x[i]), y[i]);
    }
}

// Number of CUDA devices, or -1 with the CUDA runtime's own error message in `msg`.
extern "C" int cuda_device_count(char* msg, int msg_len) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        snprintf(msg, msg_len, "%s", cudaGetErrorString(err));
        return -1;
    }
    return count;
}

// out = a * x + y for host arrays; returns 0, or a cudaError_t code (message in `msg`).
extern "C" int saxpy_cuda(int64_t n, double a, const double* x, const double* y, double* out,
                          char* msg, int msg_len) {
    double *dx = nullptr, *dy = nullptr, *dout = nullptr;
    const size_t bytes = static_cast<size_t>(n) * sizeof(double);
    cudaError_t err = cudaMalloc(&dx, bytes);
    if (err == cudaSuccess) err = cudaMalloc(&dy, bytes);
    if (err == cudaSuccess) err = cudaMalloc(&dout, bytes);
    if (err == cudaSuccess) err = cudaMemcpy(dx, x, bytes, cudaMemcpyHostToDevice);
    if (err == cudaSuccess) err = cudaMemcpy(dy, y, bytes, cudaMemcpyHostToDevice);
    if (err == cudaSuccess) {
        const int threads = 256;
        const int64_t blocks = (n + threads - 1) / threads;
        saxpy_kernel<<<static_cast<unsigned int>(blocks), threads>>>(n, a, dx, dy, dout);
        err = cudaGetLastError();
    }
    if (err == cudaSuccess) err = cudaMemcpy(out, dout, bytes, cudaMemcpyDeviceToHost);
    cudaFree(dx);
    cudaFree(dy);
    cudaFree(dout);
    if (err != cudaSuccess) {
        snprintf(msg, msg_len, "%s", cudaGetErrorString(err));
    }
    return static_cast<int>(err);
}
