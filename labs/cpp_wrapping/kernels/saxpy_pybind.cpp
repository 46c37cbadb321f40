// SAXPY through pybind11: out = a * x + y, taking and returning NumPy arrays.
// pybind11 generates the CPython glue: argument parsing, type conversion, errors as exceptions.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>

namespace py = pybind11;

// c_style | forcecast: accept any array-like, converting it to a contiguous float64 copy if needed.
using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

py::array_t<double> saxpy(double a, const Array& x, const Array& y) {
    if (x.ndim() != 1 || y.ndim() != 1 || x.size() != y.size()) {
        // pybind11 turns std::invalid_argument into Python's ValueError.
        throw std::invalid_argument("x and y must be 1-D arrays of the same length");
    }
    const py::ssize_t n = x.size();
    py::array_t<double> out(n);
    const double* xp = x.data();
    const double* yp = y.data();
    double* op = out.mutable_data();
    {
        // The loop touches no Python objects, so other Python threads may run meanwhile.
        py::gil_scoped_release release;
        for (py::ssize_t i = 0; i < n; ++i) {
            op[i] = a * xp[i] + yp[i];
        }
    }
    return out;
}

// A trivial function: calling it N times measures the binding's own per-call cost.
int add(int i, int j) { return i + j; }

PYBIND11_MODULE(saxpy_pybind, m) {
    m.doc() = "SAXPY (out = a*x + y) compiled with pybind11";
    m.def("saxpy", &saxpy, py::arg("a"), py::arg("x"), py::arg("y"), "Return a*x + y as a new array.");
    m.def("add", &add, py::arg("i"), py::arg("j"), "Return i + j (for timing the call itself).");
}
