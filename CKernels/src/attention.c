/* attention.c — multi-head attention: CSR sparse (fused online softmax), dense and masked (BLAS).
 *
 * Determinism: every output row is produced by exactly one thread, visiting its edges (sparse) or
 * columns (dense softmax) in a fixed order, so results do not depend on n_threads. The BLAS calls
 * are made from serial code; OpenBLAS splits a GEMM into independent output tiles, so its thread
 * count does not change the result either.
 */
#include <float.h>
#include <stdatomic.h>

#include "internal.h"

/* Shared with reference.c (not part of the ABI). */
__attribute__((visibility("hidden")))
sg_status sg__attention_check(const float *Q, int64_t n, int64_t ldq, const float *K, int64_t ldk,
                              const float *V, int64_t ldv, int64_t m, int64_t d, int64_t heads,
                              float scale, const float *O, int64_t ldo, int32_t n_threads);

/* Edges per step of the generic sparse path. Scores of a whole step are formed before the softmax
 * bookkeeping, so the running max is updated (and the accumulator rescaled) at most once per step
 * and the exponentials of step x heads scores run as one vector loop. (The SIMD path's step is
 * fixed at 16 edges: one vector of scores.) */
#define SG_ATT_STEP 16

/* Rows a thread claims at a time in the sparse kernel: amortises the shared counter. */
#define SG_ATT_ROWS_PER_CLAIM 32

/* Widest head (in 16-float chunks) for which the SIMD path splits the V accumulation into even /
 * odd partial sums; the second set lives in a fixed-size local array. */
#define SG_ATT_MAX_CHUNKS 8

/* Query rows per dense block. 256 rows keep OpenBLAS near its peak (measured at m = 2048..8192:
 * 128 rows cost about 10%, 64 rows about 30%); the score block (rows x m floats) is capped at 16 MB
 * so that a very wide m shrinks the block instead of growing the scratch. */
#define SG_ATT_BLOCK_MAX 256
#define SG_ATT_BLOCK_MIN 16
#define SG_ATT_BLOCK_FLOATS ((int64_t)1 << 22)

/* ---------------------------------------------------------------------------------------------
 * Small numeric helpers, written so that the loops around them vectorise without -ffast-math.
 * ------------------------------------------------------------------------------------------- */

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

/* Scores are clamped to the finite range: a GEMM or dot product of finite inputs can still
 * overflow, and an infinite max would turn s - max into NaN. NaN (from inf - inf inside a sum)
 * maps to -FLT_MAX, i.e. a negligible weight. */
static inline float sg__clamp_score(float s) {
    return fminf(fmaxf(s, -FLT_MAX), FLT_MAX);
}


/* Vectors never cross a function boundary (by-value vector arguments trip -Wpsabi in the
 * baseline clone); loads go through memcpy, which compiles to unaligned vector loads. The
 * horizontal sums use a fixed pairwise tree, so results are reproducible. */
static inline float sg__dot(const float *restrict a, const float *restrict b, int64_t len) {
    int64_t t = 0;
    float s = 0.0f;
    if (len >= 16) {
        sg_v16 acc, x, y;
        memcpy(&x, a, sizeof x);
        memcpy(&y, b, sizeof y);
        acc = x * y;
        for (t = 16; t + 16 <= len; t += 16) {
            memcpy(&x, a + t, sizeof x);
            memcpy(&y, b + t, sizeof y);
            acc += x * y;
        }
        sg_v8 h8 = __builtin_shufflevector(acc, acc, 0, 1, 2, 3, 4, 5, 6, 7) +
                   __builtin_shufflevector(acc, acc, 8, 9, 10, 11, 12, 13, 14, 15);
        sg_v4 h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) +
                   __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
        h4 += __builtin_shufflevector(h4, h4, 2, 3, 0, 1);
        s = h4[0] + h4[1];
    }
    if (t + 8 <= len) {
        sg_v8 x, y;
        memcpy(&x, a + t, sizeof x);
        memcpy(&y, b + t, sizeof y);
        x *= y;
        sg_v4 h4 = __builtin_shufflevector(x, x, 0, 1, 2, 3) + __builtin_shufflevector(x, x, 4, 5, 6, 7);
        h4 += __builtin_shufflevector(h4, h4, 2, 3, 0, 1);
        s += h4[0] + h4[1];
        t += 8;
    }
    for (; t < len; t++) s += a[t] * b[t];
    return s;
}

/* ---------------------------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------------------------- */

/* Each row region separately: the gaps between rows of a strided matrix may hold anything. */
static int rows_nonfinite(const float *X, int64_t rows, int64_t cols, int64_t ld, int nt) {
    int bad = 0;
    if (ld == cols) {
        /* Contiguous: chunks amortise the call per row when rows are short. */
        const int64_t total = rows * cols, chunk = (int64_t)1 << 14;
        const int64_t nchunks = (total + chunk - 1) / chunk;
        #pragma omp parallel for num_threads(nt) reduction(|:bad) schedule(static) if(nchunks > 4)
        for (int64_t c = 0; c < nchunks; c++) {
            int64_t lo = c * chunk, len = total - lo < chunk ? total - lo : chunk;
            bad |= sg_check_finite(X + lo, len) != SG_OK;
        }
    } else {
        #pragma omp parallel for num_threads(nt) reduction(|:bad) schedule(static) if(rows * cols > 65536)
        for (int64_t r = 0; r < rows; r++) bad |= sg_check_finite(X + r * ld, cols) != SG_OK;
    }
    return bad;
}

/* Everything but the graph / mask: pointers, sizes, strides, scale, finiteness of Q, K, V.
 * Sizes and strides are bounded by INT32_MAX: node indices are int32 and BLAS takes int sizes;
 * with that bound every index product below fits in int64. */
sg_status sg__attention_check(const float *Q, int64_t n, int64_t ldq, const float *K, int64_t ldk,
                              const float *V, int64_t ldv, int64_t m, int64_t d, int64_t heads,
                              float scale, const float *O, int64_t ldo, int32_t n_threads) {
    if (!Q || !K || !V || !O) return SG_ERR_NULL;
    if (n < 1 || m < 1 || d < 1 || heads < 1) return SG_ERR_SIZE;
    if (n > SG_BLAS_INT_MAX || m > SG_BLAS_INT_MAX || d > SG_BLAS_INT_MAX) return SG_ERR_SIZE;
    if (d % heads != 0) return SG_ERR_SHAPE; /* includes heads > d */
    if (ldq < d || ldk < d || ldv < d || ldo < d) return SG_ERR_SHAPE;
    if (ldq > SG_BLAS_INT_MAX || ldk > SG_BLAS_INT_MAX || ldv > SG_BLAS_INT_MAX ||
        ldo > SG_BLAS_INT_MAX)
        return SG_ERR_SIZE;
    if (!isfinite(scale)) return SG_ERR_NONFINITE;
    int nt = sg__threads(n_threads);
    if (rows_nonfinite(Q, n, d, ldq, nt) || rows_nonfinite(K, m, d, ldk, nt) ||
        rows_nonfinite(V, m, d, ldv, nt))
        return SG_ERR_NONFINITE;
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Sparse attention
 * ------------------------------------------------------------------------------------------- */

/* Per-thread scratch, in floats: accumulator (d), running max and sum (heads each), step scores
 * (SG_ATT_STEP x heads) for the generic path; vector sums (16 x heads) for the SIMD path. Padded
 * to whole cache lines so that threads never share one. */
static int64_t sparse_scratch_floats(int64_t d, int64_t heads) {
    int64_t f = d + 2 * heads + SG_ATT_STEP * heads + 16 * heads;
    return (f + 15) / 16 * 16;
}

/* Turns a row's raw scores (deg x heads, stored during the pass) into softmax weights, once the
 * row's final max and 1 / sum per head are known: w = e^(s - max) / sum. */
static inline void finish_weights(float *restrict w, int64_t deg, int64_t heads,
                                  const float *restrict mx, const float *restrict inv) {
    for (int64_t e = 0; e < deg; e++)
        for (int64_t h = 0; h < heads; h++) w[e * heads + h] -= mx[h];
    int64_t j = 0;
    for (; j + 16 <= deg * heads; j += 16) sg__exp16(w + j);
    for (; j < deg * heads; j++) w[j] = sg__exp(w[j]);
    for (int64_t e = 0; e < deg; e++)
        for (int64_t h = 0; h < heads; h++) w[e * heads + h] *= inv[h];
}

/* Generic path (dh not a multiple of 16): one query row, all heads. Each edge's K row and V row
 * are read once, contiguously, for all heads together.
 * Online softmax per head: mx = running max, sum = sum of e^(s - mx), acc = sum of e^(s - mx) v;
 * when a step raises mx, sum and acc are rescaled by e^(old - new). The first step rescales by
 * e^-inf = 0, which is harmless on the zero-initialised state. */
__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static void sparse_row_generic(const float *restrict q, const float *restrict K, int64_t ldk,
                               const float *restrict V, int64_t ldv, int64_t d, int64_t heads,
                               float scale, const int32_t *restrict cols, int64_t deg,
                               float *restrict o, float *restrict w, float *restrict scratch) {
    if (deg == 0) {
        for (int64_t t = 0; t < d; t++) o[t] = 0.0f;
        return;
    }
    const int64_t dh = d / heads;
    float *restrict acc = scratch;
    float *restrict mx = acc + d;
    float *restrict sum = mx + heads;
    float *restrict sc = sum + heads;
    for (int64_t t = 0; t < d; t++) acc[t] = 0.0f;
    for (int64_t h = 0; h < heads; h++) { mx[h] = -INFINITY; sum[h] = 0.0f; }

    for (int64_t e0 = 0; e0 < deg; e0 += SG_ATT_STEP) {
        const int64_t ne = deg - e0 < SG_ATT_STEP ? deg - e0 : SG_ATT_STEP;
        const int32_t *restrict c = cols + e0;

        for (int64_t e = 0; e < ne; e++) {
            const float *restrict k = K + (int64_t)c[e] * ldk;
            for (int64_t h = 0; h < heads; h++)
                sc[e * heads + h] = sg__clamp_score(scale * sg__dot(q + h * dh, k + h * dh, dh));
        }
        /* Raw scores for the weights; they are normalised once the row's final max is known. */
        if (w) memcpy(w + e0 * heads, sc, (size_t)(ne * heads) * sizeof(float));

        for (int64_t h = 0; h < heads; h++) {
            float cm = mx[h];
            for (int64_t e = 0; e < ne; e++) cm = sc[e * heads + h] > cm ? sc[e * heads + h] : cm;
            if (cm > mx[h]) {
                const float f = sg__exp(mx[h] - cm);
                sum[h] *= f;
                float *restrict a = acc + h * dh;
                for (int64_t t = 0; t < dh; t++) a[t] *= f;
                mx[h] = cm;
            }
        }
        for (int64_t e = 0; e < ne; e++)
            for (int64_t h = 0; h < heads; h++) sc[e * heads + h] -= mx[h];
        for (int64_t j = 0; j < ne * heads; j++) sc[j] = sg__exp(sc[j]);
        for (int64_t e = 0; e < ne; e++)
            for (int64_t h = 0; h < heads; h++) sum[h] += sc[e * heads + h];

        for (int64_t e = 0; e < ne; e++) {
            const float *restrict v = V + (int64_t)c[e] * ldv;
            for (int64_t h = 0; h < heads; h++) {
                const float p = sc[e * heads + h];
                float *restrict a = acc + h * dh;
                const float *restrict vh = v + h * dh;
                for (int64_t t = 0; t < dh; t++) a[t] += p * vh[t];
            }
        }
    }

    /* sum >= 1: the maximal score contributes e^0. */
    for (int64_t h = 0; h < heads; h++) sum[h] = 1.0f / sum[h];
    for (int64_t h = 0; h < heads; h++) {
        const float inv = sum[h];
        for (int64_t t = 0; t < dh; t++) o[h * dh + t] = acc[h * dh + t] * inv;
    }
    if (w) finish_weights(w, deg, heads, mx, sum);
}

/* SIMD path, dh a multiple of 16: the scores of one head of one query row for one step of up
 * to 16 edges. Per head the q slice stays in registers, and the 16 scores form one vector, so max,
 * exp and sum are vector operations.
 * always_inline with a constant dh lets the compiler unroll the chunk loops completely. */
static inline __attribute__((always_inline)) void
head_scores(const float *restrict qh, const float *restrict K, int64_t ldk, int64_t off,
            const int64_t dh, float scale, const int32_t *restrict c, int64_t ne,
            float *restrict s, float *restrict w, int64_t heads) {
    const int64_t nc = dh / 16;
    /* Padding lanes (e >= ne) reuse edge 0's row, so the loop below is branch-free and fully
     * unrolled; their scores are discarded. Two partial sums halve the FMA dependency chain. */
    sg_v16 dots[16];
    for (int e = 0; e < 16; e++) {
        const float *restrict k = K + (int64_t)c[e < ne ? e : 0] * ldk + off;
        sg_v16 a0 = {0}, a1 = {0};
        int64_t ch = 0;
        for (; ch + 2 <= nc; ch += 2) {
            sg_v16 x0, y0, x1, y1;
            memcpy(&x0, qh + 16 * ch, sizeof x0);
            memcpy(&y0, k + 16 * ch, sizeof y0);
            memcpy(&x1, qh + 16 * ch + 16, sizeof x1);
            memcpy(&y1, k + 16 * ch + 16, sizeof y1);
            a0 += x0 * y0;
            a1 += x1 * y1;
        }
        if (ch < nc) {
            sg_v16 x0, y0;
            memcpy(&x0, qh + 16 * ch, sizeof x0);
            memcpy(&y0, k + 16 * ch, sizeof y0);
            a0 += x0 * y0;
        }
        dots[e] = a0 + a1;
    }
    /* Transposing fold: lane e of the result is the sum of dots[e]'s 16 lanes, combined in the
     * same fixed tree for every edge. */
    sg_v16 f1[8], f2[4], f3[2];
    for (int j = 0; j < 8; j++)
        f1[j] = __builtin_shufflevector(dots[2 * j], dots[2 * j + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16,
                                        17, 18, 19, 20, 21, 22, 23) +
                __builtin_shufflevector(dots[2 * j], dots[2 * j + 1], 8, 9, 10, 11, 12, 13, 14, 15,
                                        24, 25, 26, 27, 28, 29, 30, 31);
    for (int j = 0; j < 4; j++)
        f2[j] = __builtin_shufflevector(f1[2 * j], f1[2 * j + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17,
                                        18, 19, 24, 25, 26, 27) +
                __builtin_shufflevector(f1[2 * j], f1[2 * j + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20,
                                        21, 22, 23, 28, 29, 30, 31);
    for (int j = 0; j < 2; j++)
        f3[j] = __builtin_shufflevector(f2[2 * j], f2[2 * j + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17,
                                        20, 21, 24, 25, 28, 29) +
                __builtin_shufflevector(f2[2 * j], f2[2 * j + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18,
                                        19, 22, 23, 26, 27, 30, 31);
    sg_v16 sv = __builtin_shufflevector(f3[0], f3[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
                                        24, 26, 28, 30) +
                __builtin_shufflevector(f3[0], f3[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23,
                                        25, 27, 29, 31);

    memcpy(s, &sv, sizeof sv);
    for (int e = 0; e < 16; e++) s[e] = sg__clamp_score(scale * s[e]);
    for (int e = (int)ne; e < 16; e++) s[e] = -INFINITY; /* padding lanes weigh 0 */
    if (w)
        for (int e = 0; e < ne; e++) w[e * heads] = s[e];
}

/* The online-softmax update of one step for one head: new max, rescaling, e^(s - max), and the
 * weighted sum of the step's V slices into the accumulator. */
static inline __attribute__((always_inline)) void
head_update(const float *restrict V, int64_t ldv, int64_t off, const int64_t dh,
            const int32_t *restrict c, int64_t ne, float *restrict s, float *restrict mxp,
            sg_v16 *restrict lsum, sg_v16 *restrict acc) {
    const int64_t nc = dh / 16;
    /* Tree max (a serial chain of 16 compares would sit on the critical path). */
    float t[16];
    memcpy(t, s, sizeof t);
    for (int width = 8; width >= 1; width >>= 1)
        for (int l = 0; l < width; l++) t[l] = t[l + width] > t[l] ? t[l + width] : t[l];
    /* Rescaling unconditionally (by 1 when the max holds) is cheaper than a branch that random
     * data mispredicts about half the time. */
    const float mx_old = *mxp, mx = t[0] > mx_old ? t[0] : mx_old;
    const float f = sg__exp(mx_old - mx);
    *lsum *= f;
    for (int64_t ch = 0; ch < nc; ch++) acc[ch] *= f;
    *mxp = mx;
    for (int e = 0; e < 16; e++) s[e] -= mx;
    sg__exp16(s);
    sg_v16 pv;
    memcpy(&pv, s, sizeof pv);
    *lsum += pv;

    /* Even and odd edges feed separate partial sums: one chain of dependent FMAs per chunk
     * would bound the loop by FMA latency rather than by loads. */
    sg_v16 odd[SG_ATT_MAX_CHUNKS];
    const int64_t nco = nc <= SG_ATT_MAX_CHUNKS ? nc : 0;
    for (int64_t ch = 0; ch < nco; ch++) odd[ch] = (sg_v16){0};
    int e = 0;
    if (nco > 0) {
        for (; e + 2 <= ne; e += 2) {
            const float *restrict v0 = V + (int64_t)c[e] * ldv + off;
            const float *restrict v1 = V + (int64_t)c[e + 1] * ldv + off;
            const float p0 = s[e], p1 = s[e + 1];
            for (int64_t ch = 0; ch < nco; ch++) {
                sg_v16 y0, y1;
                memcpy(&y0, v0 + 16 * ch, sizeof y0);
                memcpy(&y1, v1 + 16 * ch, sizeof y1);
                acc[ch] += p0 * y0;
                odd[ch] += p1 * y1;
            }
        }
    }
    for (; e < ne; e++) {
        const float *restrict v = V + (int64_t)c[e] * ldv + off;
        const float p = s[e];
        for (int64_t ch = 0; ch < nc; ch++) {
            sg_v16 y;
            memcpy(&y, v + 16 * ch, sizeof y);
            acc[ch] += p * y;
        }
    }
    for (int64_t ch = 0; ch < nco; ch++) acc[ch] += odd[ch];
}

/* All steps of one row for one head; accmem (dh floats of per-thread scratch) is the accumulator.
 * Writes this head's slice of o and its final max and 1 / sum (for the weights). */
static inline __attribute__((always_inline)) void
head_row(const float *restrict q, const float *restrict K, int64_t ldk, const float *restrict V,
         int64_t ldv, int64_t h, const int64_t dh, int64_t heads, float scale,
         const int32_t *restrict cols, int64_t deg, float *restrict o, float *restrict w,
         sg_v16 *restrict accmem, float *restrict mx_out, float *restrict inv_out) {
    const int64_t nc = dh / 16, off = h * dh;
    float mx = -INFINITY;
    sg_v16 lsum = {0};
    for (int64_t ch = 0; ch < nc; ch++) accmem[ch] = (sg_v16){0};
    /* One step of lookahead: the next step's K gathers are issued before this step's V
     * gathers and arithmetic, so more cache misses are in flight at once. */
    float sbuf[2][16];
    head_scores(q + off, K, ldk, off, dh, scale, cols, deg < 16 ? deg : 16, sbuf[0],
                w ? w + h : NULL, heads);
    int cur = 0;
    for (int64_t e0 = 0; e0 < deg; e0 += 16) {
        const int64_t ne = deg - e0 < 16 ? deg - e0 : 16;
        const int64_t e1 = e0 + 16;
        if (e1 < deg)
            head_scores(q + off, K, ldk, off, dh, scale, cols + e1, deg - e1 < 16 ? deg - e1 : 16,
                        sbuf[cur ^ 1], w ? w + e1 * heads + h : NULL, heads);
        head_update(V, ldv, off, dh, cols + e0, ne, sbuf[cur], &mx, &lsum, accmem);
        cur ^= 1;
    }
    float ls[16];
    memcpy(ls, &lsum, sizeof ls);
    float total = 0.0f;
    for (int l = 0; l < 16; l++) total += ls[l];
    const float inv = 1.0f / total; /* total >= 1: the maximal score contributes e^0 */
    for (int64_t ch = 0; ch < nc; ch++) {
        sg_v16 r = accmem[ch] * inv;
        memcpy(o + off + 16 * ch, &r, sizeof r);
    }
    *mx_out = mx;
    *inv_out = inv;
}

/* SIMD path for one query row: heads one after another over the whole row. This does not
 * gather more: head h touches only its own dh-wide slice of each K / V row, so every cache line
 * is still fetched once per query row; in exchange the accumulator stays in registers (measured
 * faster than edge-major order at m = 2048 and 8192). */
__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static void sparse_row_simd(const float *restrict q, const float *restrict K, int64_t ldk,
                            const float *restrict V, int64_t ldv, int64_t d, int64_t heads,
                            float scale, const int32_t *restrict cols, int64_t deg,
                            float *restrict o, float *restrict w, float *restrict scratch) {
    if (deg == 0) {
        for (int64_t t = 0; t < d; t++) o[t] = 0.0f;
        return;
    }
    const int64_t dh = d / heads;
    sg_v16 *accmem = (sg_v16 *)(void *)scratch;
    float *mx = scratch + d, *inv = mx + heads;
    for (int64_t h = 0; h < heads; h++) {
        float *mh = mx + h, *ih = inv + h;
        switch (dh) {
        case 16: head_row(q, K, ldk, V, ldv, h, 16, heads, scale, cols, deg, o, w, accmem, mh, ih); break;
        case 32: head_row(q, K, ldk, V, ldv, h, 32, heads, scale, cols, deg, o, w, accmem, mh, ih); break;
        case 64: head_row(q, K, ldk, V, ldv, h, 64, heads, scale, cols, deg, o, w, accmem, mh, ih); break;
        case 128: head_row(q, K, ldk, V, ldv, h, 128, heads, scale, cols, deg, o, w, accmem, mh, ih); break;
        default: head_row(q, K, ldk, V, ldv, h, dh, heads, scale, cols, deg, o, w, accmem, mh, ih); break;
        }
    }
    if (w) finish_weights(w, deg, heads, mx, inv);
}

sg_status sg_attention_sparse(const float *Q, int64_t n, int64_t ldq,
                              const float *K, int64_t ldk, const float *V, int64_t ldv, int64_t m,
                              int64_t d, int64_t heads, float scale,
                              const int64_t *row_ptr, const int32_t *col_idx,
                              float *restrict O, int64_t ldo, float *restrict weights,
                              int32_t n_threads) {
    if (!row_ptr) return SG_ERR_NULL;
    sg_status st = sg__attention_check(Q, n, ldq, K, ldk, V, ldv, m, d, heads, scale, O, ldo,
                                       n_threads);
    if (st != SG_OK) return st;
    st = sg_csr_validate(n, m, row_ptr, col_idx);
    if (st != SG_OK) return st;
    /* nnz <= n * m < 2^62 after validation; the weights index nnz * heads must fit as well. */
    if (weights && row_ptr[n] > INT64_MAX / heads) return SG_ERR_SIZE;

    const int nt = sg__threads(n_threads) < n ? sg__threads(n_threads) : (int)n;
    const int64_t stride = sparse_scratch_floats(d, heads);
    float *scratch = aligned_alloc(64, (size_t)(stride * nt) * sizeof(float));
    if (!scratch) return SG_ERR_ALLOC;

    /* Dynamic scheduling by hand (schedule(dynamic) does not link against Debian's libomp, see
     * internal.h): rows are claimed in chunks from a shared counter, since degrees vary and a
     * static split could leave a thread idle. */
    const int simd = (d / heads) % 16 == 0;
    _Atomic int64_t next_row = 0;
    #pragma omp parallel num_threads(nt)
    {
        float *own = scratch + (int64_t)omp_get_thread_num() * stride;
        for (;;) {
            const int64_t i0 = atomic_fetch_add_explicit(&next_row, SG_ATT_ROWS_PER_CLAIM,
                                                         memory_order_relaxed);
            if (i0 >= n) break;
            const int64_t i1 = n - i0 < SG_ATT_ROWS_PER_CLAIM ? n : i0 + SG_ATT_ROWS_PER_CLAIM;
            for (int64_t i = i0; i < i1; i++) {
                const int64_t e0 = row_ptr[i];
                /* The next query row: its misses otherwise stall the first dot products
                 * (about 10% at n = 8192); K / V rows are random and left to the hardware. */
                if (i + 1 < i1)
                    for (int64_t t = 0; t < d; t += 16) __builtin_prefetch(Q + (i + 1) * ldq + t);
                (simd ? sparse_row_simd : sparse_row_generic)(
                    Q + i * ldq, K, ldk, V, ldv, d, heads, scale, col_idx + e0,
                    row_ptr[i + 1] - e0, O + i * ldo, weights ? weights + e0 * heads : NULL,
                    own);
            }
        }
    }
    free(scratch);
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Dense and masked attention
 * ------------------------------------------------------------------------------------------- */

/* Turns one row of scaled scores into unnormalised probabilities e^(s - max) in place and returns
 * 1 / sum (0 for a fully masked row, whose probabilities are all 0). The 1 / sum is applied to the
 * dh-wide output row after the second GEMM instead of to the m-wide probability row. */
__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static float softmax_row(float *restrict s, int64_t m, const uint8_t *restrict mask) {
    /* Pass 1, read only: the max of the clamped scores, masked entries counting as -inf. Clamped
     * scores are finite, so a max of -inf means a fully masked row. */
    const sg_v16 ninf = (sg_v16){0} - INFINITY, smin = (sg_v16){0} - FLT_MAX,
                 smax = (sg_v16){0} + FLT_MAX;
    sg_v16 vmax = ninf;
    int64_t j = 0;
    for (; j + 16 <= m; j += 16) {
        sg_v16 x;
        memcpy(&x, s + j, sizeof x);
        x = __builtin_elementwise_min(__builtin_elementwise_max(x, smin), smax);
        if (mask) {
            sg_u8x16 b;
            memcpy(&b, mask + j, sizeof b);
            const sg_i16 keep = __builtin_convertvector(b, sg_i16) != 0;
            x = (sg_v16)(((sg_i16)x & keep) | ((sg_i16)ninf & ~keep));
        }
        vmax = __builtin_elementwise_max(vmax, x);
    }
    float mx = __builtin_reduce_max(vmax); /* max is exact: the reduction order is irrelevant */
    for (; j < m; j++) {
        const float x = mask && !mask[j] ? -INFINITY : sg__clamp_score(s[j]);
        mx = x > mx ? x : mx;
    }
    if (mx == -INFINITY) {
        for (j = 0; j < m; j++) s[j] = 0.0f;
        return 0.0f;
    }

    /* Pass 2: e^(s - max) in place (0 where masked) and its sum, in 16 lanes folded by a fixed
     * tree. The row is still in L1 from pass 1. */
    sg_v16 vsum = {0};
    for (j = 0; j + 16 <= m; j += 16) {
        sg_v16 x;
        memcpy(&x, s + j, sizeof x);
        x = __builtin_elementwise_min(__builtin_elementwise_max(x, smin), smax) - mx;
        if (mask) {
            sg_u8x16 b;
            memcpy(&b, mask + j, sizeof b);
            const sg_i16 keep = __builtin_convertvector(b, sg_i16) != 0;
            x = (sg_v16)(((sg_i16)x & keep) | ((sg_i16)ninf & ~keep));
        }
        memcpy(s + j, &x, sizeof x);
        sg__exp16(s + j);
        memcpy(&x, s + j, sizeof x);
        vsum += x;
    }
    float tail = 0.0f;
    for (; j < m; j++) {
        const float p = mask && !mask[j] ? 0.0f : sg__exp(sg__clamp_score(s[j]) - mx);
        s[j] = p;
        tail += p;
    }
    sg_v8 h8 = __builtin_shufflevector(vsum, vsum, 0, 1, 2, 3, 4, 5, 6, 7) +
               __builtin_shufflevector(vsum, vsum, 8, 9, 10, 11, 12, 13, 14, 15);
    sg_v4 h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
    h4 += __builtin_shufflevector(h4, h4, 2, 3, 0, 1);
    /* sum >= 1: the maximal score contributes e^0. */
    return 1.0f / ((h4[0] + h4[1]) + tail);
}

static sg_status dense_impl(const float *Q, int64_t n, int64_t ldq, const float *K, int64_t ldk,
                            const float *V, int64_t ldv, int64_t m, int64_t d, int64_t heads,
                            float scale, const uint8_t *mask, int64_t ldm, float *restrict O,
                            int64_t ldo, int32_t n_threads) {
    /* The softmax gets only the threads OpenBLAS leaves free (at least the caller's). OpenMP
     * workers that finish a parallel region spin for a while (KMP_BLOCKTIME) on the cores the
     * next GEMM's OpenBLAS threads need; on 2 cores with both pools at 2 threads that made the
     * whole call slower than a single-threaded softmax (measured at n = m = 2048 and 8192). */
    const int blas_threads = openblas_get_num_threads();
    int soft_threads = sg__threads(n_threads) - (blas_threads > 1 ? blas_threads : 1) + 1;
    if (soft_threads < 1) soft_threads = 1;
    const int64_t dh = d / heads;
    int64_t block = SG_ATT_BLOCK_FLOATS / m;
    if (block > SG_ATT_BLOCK_MAX) block = SG_ATT_BLOCK_MAX;
    if (block < SG_ATT_BLOCK_MIN) block = SG_ATT_BLOCK_MIN;
    if (block > n) block = n;
    /* block * m <= 256 * 2^31 floats: no size_t overflow; a failed malloc is reported. */
    float *S = malloc((size_t)(block * m) * sizeof(float));
    float *inv = malloc((size_t)block * sizeof(float));
    if (!S || !inv) {
        free(S);
        free(inv);
        return SG_ERR_ALLOC;
    }

    for (int64_t i0 = 0; i0 < n; i0 += block) {
        const int64_t nb = n - i0 < block ? n - i0 : block;
        for (int64_t h = 0; h < heads; h++) {
            cblas_sgemm(SG_CBLAS_ROW_MAJOR, SG_CBLAS_NO_TRANS, SG_CBLAS_TRANS, (int)nb, (int)m,
                        (int)dh, scale, Q + i0 * ldq + h * dh, (int)ldq, K + h * dh, (int)ldk,
                        0.0f, S, (int)m);
            #pragma omp parallel for num_threads(soft_threads) schedule(static) if(soft_threads > 1)
            for (int64_t r = 0; r < nb; r++)
                inv[r] = softmax_row(S + r * m, m, mask ? mask + (i0 + r) * ldm : NULL);
            float *Oh = O + i0 * ldo + h * dh;
            cblas_sgemm(SG_CBLAS_ROW_MAJOR, SG_CBLAS_NO_TRANS, SG_CBLAS_NO_TRANS, (int)nb,
                        (int)dh, (int)m, 1.0f, S, (int)m, V + h * dh, (int)ldv, 0.0f, Oh,
                        (int)ldo);
            for (int64_t r = 0; r < nb; r++) {
                const float f = inv[r];
                float *restrict o = Oh + r * ldo;
                for (int64_t t = 0; t < dh; t++) o[t] *= f;
            }
        }
    }
    free(S);
    free(inv);
    return SG_OK;
}

sg_status sg_attention_dense(const float *Q, int64_t n, int64_t ldq,
                             const float *K, int64_t ldk, const float *V, int64_t ldv, int64_t m,
                             int64_t d, int64_t heads, float scale,
                             float *restrict O, int64_t ldo, int32_t n_threads) {
    sg_status st = sg__attention_check(Q, n, ldq, K, ldk, V, ldv, m, d, heads, scale, O, ldo,
                                       n_threads);
    if (st != SG_OK) return st;
    return dense_impl(Q, n, ldq, K, ldk, V, ldv, m, d, heads, scale, NULL, 0, O, ldo, n_threads);
}

sg_status sg_attention_masked(const float *Q, int64_t n, int64_t ldq,
                              const float *K, int64_t ldk, const float *V, int64_t ldv, int64_t m,
                              int64_t d, int64_t heads, float scale,
                              const uint8_t *mask, int64_t ldm,
                              float *restrict O, int64_t ldo, int32_t n_threads) {
    if (!mask) return SG_ERR_NULL;
    sg_status st = sg__attention_check(Q, n, ldq, K, ldk, V, ldv, m, d, heads, scale, O, ldo,
                                       n_threads);
    if (st != SG_OK) return st;
    if (ldm < m) return SG_ERR_SHAPE;
    if (ldm > INT64_MAX / n) return SG_ERR_SIZE;
    return dense_impl(Q, n, ldq, K, ldk, V, ldv, m, d, heads, scale, mask, ldm, O, ldo, n_threads);
}
