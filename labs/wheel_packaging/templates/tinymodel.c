/* tinymodel: the dense layer of the tiny model, as a C shared library.
 *
 * Built by setup.py into the wheel next to the Python package; Python loads it with ctypes,
 * and other programs can load it too (its exported symbols are its public API).
 */
#include <stddef.h>

#if defined(_WIN32)
#define TM_EXPORT __declspec(dllexport)
#else
#define TM_EXPORT __attribute__((visibility("default")))
#endif

/* y = W x + b, then ReLU when relu != 0. W is row-major with n_out rows of n_in values.
 * Returns 0 on success, -1 when the sizes make no sense. */
TM_EXPORT int tm_dense(const float *x, const float *w, const float *b, float *y,
                       int n_in, int n_out, int relu) {
    if (n_in <= 0 || n_out <= 0 || !x || !w || !b || !y) {
        return -1;
    }
    for (int r = 0; r < n_out; ++r) {
        float acc = b[r];
        const float *row = w + (size_t)r * (size_t)n_in;
        for (int c = 0; c < n_in; ++c) {
            acc += row[c] * x[c];
        }
        y[r] = (relu && acc < 0.0f) ? 0.0f : acc;
    }
    return 0;
}

TM_EXPORT const char *tm_version(void) { return "tinymodel 1.0"; }
