// SAXPY for ctypes: out[i] = a * x[i] + y[i].
// `extern "C"` switches off C++ name mangling, so Python can find the symbol by its plain name.
// ctypes knows nothing about C++ types: the signature uses only C types and raw pointers.
#include <cstdint>

extern "C" void saxpy(int64_t n, double a, const double* x, const double* y, double* out) {
    for (int64_t i = 0; i < n; ++i) {
        out[i] = a * x[i] + y[i];
    }
}
