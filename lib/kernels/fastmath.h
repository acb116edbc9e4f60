/* fastmath.h - e^-a and tanh written so that the loops calling them
 * vectorize (used by ops_*.c).
 *
 * glibc's expf and tanhf are accurate to an ulp but are scalar calls that
 * the compiler cannot turn into vector code, and the softmaxes, the loss
 * and GELU call them millions of times per training step (GELU's tanhf
 * alone was a third of a step).  These versions use only arithmetic,
 * integer compares and bit copies, which vectorize even at -O2 inside an
 * `omp simd` loop.  Accuracy: a few ulps (tests/unit/test_ops.c).
 */
#ifndef TFS_FASTMATH_H
#define TFS_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* e^-a for a >= 0 (a NaN gives NaN).
 *   e^x = 2^k e^r,  k = round(x log2 e),  r = x - k ln 2 in [-ln2/2, ln2/2]
 * r is computed with ln 2 split in two (Cody and Waite, "Software Manual
 * for the Elementary Functions", 1980): k * LN2_HI is exact because LN2_HI
 * has only 16 significant bits, so r keeps its precision even for large k.
 * e^r comes from its Taylor series to degree 7 (error below 1e-8 on that
 * range), 2^k is written straight into a float's exponent bits.  a is
 * clamped to 87 first (e^-87 = 1.6e-38, near the smallest normal float) so
 * 2^k stays representable; the clamp compares the bit patterns as integers
 * (for a >= 0 they order like the values, and +inf is clamped but NaN, whose
 * pattern lies above +inf, is not), because integer compares vectorize where
 * float compares, which may trap, do not. */
static inline float exp_neg(float a)
{
    const float LOG2E = 1.4426950408889634f, LN2_HI = 0.693145751953125f, LN2_LO = 1.4286067653e-6f;
    const float ROUND = 12582912.0f;                /* 1.5 * 2^23: adding it rounds to an integer */
    const float LIMIT = 87.0f;
    int32_t ab, lim;
    memcpy(&ab, &a, sizeof ab);
    memcpy(&lim, &LIMIT, sizeof lim);
    int32_t clamped = ab > lim ? lim : ab;
    ab = ab > 0x7f800000 ? ab : clamped;            /* NaN stays NaN */
    memcpy(&a, &ab, sizeof a);
    float x = -a;
    float k = (x * LOG2E + ROUND) - ROUND;
    float r = (x - k * LN2_HI) - k * LN2_LO;
    float p = 1 + r * (1 + r * (1.0f / 2 + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120
              + r * (1.0f / 720 + r * (1.0f / 5040)))))));
    /* the float 2^k: biased exponent k + 127 in bits 23..30 (for a NaN, k
     * converts to garbage, but p is NaN already) */
    uint32_t bits = (uint32_t)((int32_t)k + 127) << 23;
    float two_k;
    memcpy(&two_k, &bits, sizeof two_k);
    return p * two_k;
}

/* tanh(u) = sign(u) (1 - e) / (1 + e),  e = e^-2|u| in (0, 1] */
static inline float tanh_fast(float u)
{
    float e = exp_neg(2.0f * fabsf(u));
    return copysignf((1.0f - e) / (1.0f + e), u);
}

#endif
