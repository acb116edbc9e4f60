/* ops_pointwise.c - elementwise layers: GELU and the residual connection
 * (see ops.h for the conventions).  n is the number of elements. */
#include "kernels/ops.h"
#include "kernels/isa.h"
#include "kernels/fastmath.h"

/* sqrt(2 / pi), the constant of the tanh approximation of GELU
 * (Hendrycks and Gimpel, "Gaussian Error Linear Units", 2016, section 2). */
#define GELU_K 0.7978845608028654f
#define GELU_A 0.044715f

/* tanh u, u = k (x + a x^3): the one transcendental of GELU and of its slope */
static inline float gelu_tanh(float x)
{
    return tanh_fast(GELU_K * (x + GELU_A * x * x * x));
}

void gelu_forward(float *out, const float *inp, long n)
{
    ISA_DISPATCH(gelu_forward, out, inp, n);
    #pragma omp parallel for simd
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + gelu_tanh(x));
    }
}

/* forward:  y = x/2 (1 + tanh u),  u = k (x + a x^3)
 * =>        dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) k (1 + 3 a x^2)
 *           dinp += dout * dy/dx
 * gelu_dydx takes tanh u (th) from its caller, which may need it for y too. */
static inline float gelu_dydx(float x, float th)
{
    float dudx = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
    return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * dudx;
}

static inline float gelu_slope(float x)
{
    return gelu_dydx(x, gelu_tanh(x));
}

void gelu_backward(float *dinp, const float *dout, const float *inp, long n)
{
    ISA_DISPATCH(gelu_backward, dinp, dout, inp, n);
    if (dinp == dout) {             /* in place (ops.h): no sum */
        #pragma omp parallel for simd
        for (long i = 0; i < n; i++) dinp[i] = dout[i] * gelu_slope(inp[i]);
    } else {
        #pragma omp parallel for simd
        for (long i = 0; i < n; i++) dinp[i] += dout[i] * gelu_slope(inp[i]);
    }
}

/* The forward pass that also keeps the backward's factor: out = gelu(x)
 * and slope = dy/dx (gelu_slope above), from the one tanh u.  slope may be
 * inp itself: the training forward keeps the slope in place of GELU's
 * input, which its backward then no longer needs, so the backward is one
 * multiply (gelu_backward_slope) instead of a second tanh per element. */
void gelu_forward_slope(float *out, float *slope, const float *inp, long n)
{
    ISA_DISPATCH(gelu_forward_slope, out, slope, inp, n);
    #pragma omp parallel for simd
    for (long i = 0; i < n; i++) {
        float x = inp[i], th = gelu_tanh(x);
        out[i] = 0.5f * x * (1.0f + th);
        slope[i] = gelu_dydx(x, th);
    }
}

/* dinp += dout * slope (dinp == dout: in place, dinp = dout * slope) */
void gelu_backward_slope(float *dinp, const float *dout, const float *slope, long n)
{
    ISA_DISPATCH(gelu_backward_slope, dinp, dout, slope, n);
    if (dinp == dout) {
        #pragma omp parallel for simd
        for (long i = 0; i < n; i++) dinp[i] = dout[i] * slope[i];
    } else {
        #pragma omp parallel for simd
        for (long i = 0; i < n; i++) dinp[i] += dout[i] * slope[i];
    }
}

void residual_forward(float *out, const float *a, const float *b, long n)
{
    ISA_DISPATCH(residual_forward, out, a, b, n);
    #pragma omp parallel for simd
    for (long i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* forward:  out = a + b   =>   da += dout,  db += dout */
void residual_backward(float *da, float *db, const float *dout, long n)
{
    ISA_DISPATCH(residual_backward, da, db, dout, n);
    #pragma omp parallel for simd
    for (long i = 0; i < n; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}
