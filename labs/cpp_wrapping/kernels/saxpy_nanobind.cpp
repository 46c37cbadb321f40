// SAXPY through nanobind: out = a * x + y, taking and returning NumPy arrays.
// nanobind is pybind11's successor by the same author: smaller binaries, less per-call work.
// Its core library (libnanobind) is compiled once from the sources nanobind ships, then linked in.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <stdexcept>

namespace nb = nanobind;

// Accept only 1-D, C-contiguous float64 CPU arrays (nanobind does no implicit conversion copies).
using In = nb::ndarray<const double, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Out = nb::ndarray<nb::numpy, double, nb::ndim<1>>;

Out saxpy(double a, In x, In y) {
    if (x.shape(0) != y.shape(0)) {
        // nanobind turns std::invalid_argument into Python's ValueError, as pybind11 does.
        throw std::invalid_argument("x and y must be 1-D arrays of the same length");
    }
    const size_t n = x.shape(0);
    double* op = new double[n];
    // The capsule frees the buffer when NumPy drops its last reference to the result.
    nb::capsule owner(op, [](void* p) noexcept { delete[] static_cast<double*>(p); });
    const double* xp = x.data();
    const double* yp = y.data();
    {
        // The loop touches no Python objects, so other Python threads may run meanwhile.
        nb::gil_scoped_release release;
        for (size_t i = 0; i < n; ++i) {
            op[i] = a * xp[i] + yp[i];
        }
    }
    return Out(op, {n}, owner);
}

// A trivial function: calling it N times measures the binding's own per-call cost.
int add(int i, int j) { return i + j; }

NB_MODULE(saxpy_nanobind, m) {
    m.doc() = "SAXPY (out = a*x + y) compiled with nanobind";
    m.def("saxpy", &saxpy, nb::arg("a"), nb::arg("x"), nb::arg("y"), "Return a*x + y as a new array.");
    m.def("add", &add, nb::arg("i"), nb::arg("j"), "Return i + j (for timing the call itself).");
}
