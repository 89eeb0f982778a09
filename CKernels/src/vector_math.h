/* vector_math.h — internal: generic 16-lane vectors and the branch-free exp shared by the
 * attention and LightGlue kernels. Not part of the ABI. */
#ifndef SG_VECTOR_MATH_H
#define SG_VECTOR_MATH_H

#include <stdint.h>
#include <string.h>

/* Generic vectors and clang's vector builtins (no target flags needed): the compiler lowers them
 * to one zmm, two ymm or four xmm registers depending on the clone being compiled. A scalar
 * `s += a[t] * b[t]` is a serial dependency the compiler may not reorder without -ffast-math, and
 * left to the SLP vectoriser a 16-lane array became eight 2-wide pieces. */
typedef float sg_v16 __attribute__((vector_size(64)));
typedef float sg_v8 __attribute__((vector_size(32)));
typedef float sg_v4 __attribute__((vector_size(16)));
typedef int32_t sg_i16 __attribute__((vector_size(64)));
typedef uint8_t sg_u8x16 __attribute__((vector_size(16)));

/* e^x for softmax arguments (x <= 0 in practice; x < -87 or -inf gives 0, NaN never occurs).
 * libm's expf is a scalar call; this branch-free form vectorises inside a loop. Range reduction
 * x = k ln2 + r, |r| <= ln2 / 2, with ln2 split in two so k ln2 is exact; the degree-7 Taylor
 * polynomial then has truncation error < r^8 / 8! < 1e-8 relative, below float rounding. */
static inline float sg__exp(float x) {
    float xc = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    /* Adding and subtracting 1.5 * 2^23 rounds to the nearest integer (ties to even). */
    float kf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = xc - kf * 0.693145751953125f;  /* ln2 high part: 8 significant bits, exact product */
    r = r - kf * 1.42860682030941723e-6f;    /* ln2 low part */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)kf + 127) << 23;
    float two_k;
    memcpy(&two_k, &bits, sizeof two_k);
    return x < -87.0f ? 0.0f : p * two_k;
}

/* sg__exp on 16 consecutive floats in place, written with generic vectors so that it maps onto
 * one AVX-512 register (or two / four narrower ones) in every clone. Same formula as sg__exp. */
static inline void sg__exp16(float *restrict p) {
    sg_v16 x;
    memcpy(&x, p, sizeof x);
    const sg_v16 lo = (sg_v16){0} - 87.0f, hi = (sg_v16){0} + 88.0f;
    const sg_v16 xc = __builtin_elementwise_min(__builtin_elementwise_max(x, lo), hi);
    const sg_v16 kf = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    sg_v16 r = xc - kf * 0.693145751953125f;
    r = r - kf * 1.42860682030941723e-6f;
    sg_v16 q = (sg_v16){0} + 1.0f / 5040.0f;
    q = q * r + 1.0f / 720.0f;
    q = q * r + 1.0f / 120.0f;
    q = q * r + 1.0f / 24.0f;
    q = q * r + 1.0f / 6.0f;
    q = q * r + 0.5f;
    q = q * r + 1.0f;
    q = q * r + 1.0f;
    const sg_i16 bits = (__builtin_convertvector(kf, sg_i16) + 127) << 23;
    const sg_i16 under = x < lo; /* all ones where e^x is flushed to 0 (including x = -inf) */
    const sg_i16 res = (sg_i16)(q * (sg_v16)bits) & ~under;
    memcpy(p, &res, sizeof res);
}

#endif
