/* attention.c — multi-head attention: CSR sparse (fused per row: scores, softmax and weighted sum
 * in one kernel, exact two-pass softmax over each row's buffered scores, online across blocks of
 * very long rows), dense and masked (BLAS). docs/performance.md logs how the sparse kernel got
 * its speed.
 *
 * Determinism: every output row is produced by exactly one thread, visiting its edges (sparse) or
 * columns (dense softmax) in a fixed order, so results do not depend on n_threads. The BLAS calls
 * are made from serial code; OpenBLAS splits a GEMM into independent output tiles, so its thread
 * count does not change the result either.
 */
#include <float.h>
#include <stdatomic.h>

#include "internal.h"
#include "vector_math.h"

/* Shared with reference.c (not part of the ABI). */
__attribute__((visibility("hidden")))
sg_status sg__attention_check(const float *Q, int64_t n, int64_t ldq, const float *K, int64_t ldk,
                              const float *V, int64_t ldv, int64_t m, int64_t d, int64_t heads,
                              float scale, const float *O, int64_t ldo, int32_t n_threads);

/* Edges per step of the generic sparse path. Scores of a whole step are formed before the softmax
 * bookkeeping, so the running max is updated (and the accumulator rescaled) at most once per step
 * and the exponentials of step x heads scores run as one vector loop. */
#define SG_ATT_STEP 16

/* Edges per softmax block of the SIMD sparse paths: a row of at most this degree (every k-NN row
 * in practice) gets an exact two-pass softmax over its buffered scores; a longer row is processed
 * in blocks of this many edges, with the online-softmax rescale between blocks. */
#define SG_ATT_SOFTMAX_BLOCK 256

/* The sparse kernel's threads claim rows from a shared counter, guided-style: a claim is 1 / (2 x
 * threads) of the rows left, at least SG_ATT_ROWS_PER_CLAIM. Long runs of consecutive rows keep
 * a thread on one stretch of a space-filling order, whose K / V rows it then finds in its own
 * cache (measured 7% faster on 2 threads than fixed claims of 32 rows); the shrinking claims keep
 * the threads finishing together. A claim is cut into tiles of at most SG_ATT_TILE_ROWS
 * consecutive rows whose buffered scores fit in SG_ATT_TILE_SCORES floats (about 14 k-NN rows
 * with k = 32); each tile is processed phase by phase (see packed_tile). */
#define SG_ATT_ROWS_PER_CLAIM 32
#define SG_ATT_TILE_SCORES 2048
#define SG_ATT_TILE_ROWS 32

/* Aligned copies of K and V (see sg_attention_sparse): made when the graph reads each key row at
 * least SG_ATT_COPY_MIN_REUSE times on average and both copies together take at most
 * SG_ATT_COPY_MAX_FLOATS floats (8 MB: problems that live in cache gain, at n = 2048 about 1.2x;
 * at n = 8192 the kernel waits on memory either way and the copy gained nothing measurable). */
#define SG_ATT_COPY_MIN_REUSE 8
#define SG_ATT_COPY_MAX_FLOATS ((int64_t)1 << 21)

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

/* Vector types and sg__exp / sg__exp16: vector_math.h. */

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

/* check_copy: 1 if x[0..count) holds NaN or Inf, else 0; copies x to dst when dst is not NULL.
 * The same x * 0 sums as sg_check_finite, with four independent vector sums. */
__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static int check_copy(const float *restrict x, float *restrict dst, int64_t count) {
    if (!dst) return sg_check_finite(x, count) != SG_OK;
    sg_v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int64_t i = 0;
    for (; i + 64 <= count; i += 64) {
        sg_v16 v0, v1, v2, v3;
        memcpy(&v0, x + i, sizeof v0);
        memcpy(&v1, x + i + 16, sizeof v1);
        memcpy(&v2, x + i + 32, sizeof v2);
        memcpy(&v3, x + i + 48, sizeof v3);
        memcpy(dst + i, &v0, sizeof v0);
        memcpy(dst + i + 16, &v1, sizeof v1);
        memcpy(dst + i + 32, &v2, sizeof v2);
        memcpy(dst + i + 48, &v3, sizeof v3);
        a0 += v0 * 0.0f;
        a1 += v1 * 0.0f;
        a2 += v2 * 0.0f;
        a3 += v3 * 0.0f;
    }
    float acc = 0.0f;
    for (; i < count; i++) {
        dst[i] = x[i];
        acc += x[i] * 0.0f;
    }
    a0 += a1 + (a2 + a3);
    for (int l = 0; l < 16; l++) acc += a0[l];
    return acc != 0.0f;
}

/* Finiteness of Q (n rows), K and V (m rows each), d columns, in one parallel loop (one fork /
 * join instead of three). Work items are runs of whole rows of about SG_CHECK_CHUNK floats; each
 * row region is checked separately, since the gaps between rows of a strided matrix may hold
 * anything (a contiguous run is one call). With Kc / Vc not NULL, K and V are also copied there
 * (row stride ldc) in the same pass. */
#define SG_CHECK_CHUNK ((int64_t)1 << 14)

static int qkv_nonfinite(const float *Q, int64_t n, int64_t ldq, const float *K, int64_t ldk,
                         const float *V, int64_t ldv, int64_t m, int64_t d, int nt,
                         float *Kc, float *Vc, int64_t ldc) {
    const float *X[3] = {Q, K, V};
    float *Y[3] = {NULL, Kc, Vc};
    const int64_t rows[3] = {n, m, m}, ld[3] = {ldq, ldk, ldv};
    const int64_t per = d < SG_CHECK_CHUNK ? SG_CHECK_CHUNK / d : 1; /* rows per item */
    int64_t first[4] = {0};
    for (int t = 0; t < 3; t++) first[t + 1] = first[t] + (rows[t] + per - 1) / per;
    const int64_t items = first[3];
    int bad = 0;
    #pragma omp parallel for num_threads(nt) reduction(|:bad) schedule(static) if(items > 8)
    for (int64_t it = 0; it < items; it++) {
        const int t = it < first[1] ? 0 : it < first[2] ? 1 : 2;
        const int64_t r0 = (it - first[t]) * per;
        const int64_t r1 = rows[t] - r0 < per ? rows[t] : r0 + per;
        if (ld[t] == d && (!Y[t] || ldc == d)) {
            bad |= check_copy(X[t] + r0 * d, Y[t] ? Y[t] + r0 * d : NULL, (r1 - r0) * d);
        } else {
            for (int64_t r = r0; r < r1; r++)
                bad |= check_copy(X[t] + r * ld[t], Y[t] ? Y[t] + r * ldc : NULL, d);
        }
    }
    return bad;
}

/* Pointers, sizes, strides and scale (not the values). */
static sg_status attention_args(const float *Q, int64_t n, int64_t ldq, const float *K,
                                int64_t ldk, const float *V, int64_t ldv, int64_t m, int64_t d,
                                int64_t heads, float scale, const float *O, int64_t ldo) {
    if (!Q || !K || !V || !O) return SG_ERR_NULL;
    if (n < 1 || m < 1 || d < 1 || heads < 1) return SG_ERR_SIZE;
    if (n > SG_BLAS_INT_MAX || m > SG_BLAS_INT_MAX || d > SG_BLAS_INT_MAX) return SG_ERR_SIZE;
    if (d % heads != 0) return SG_ERR_SHAPE; /* includes heads > d */
    if (ldq < d || ldk < d || ldv < d || ldo < d) return SG_ERR_SHAPE;
    if (ldq > SG_BLAS_INT_MAX || ldk > SG_BLAS_INT_MAX || ldv > SG_BLAS_INT_MAX ||
        ldo > SG_BLAS_INT_MAX)
        return SG_ERR_SIZE;
    if (!isfinite(scale)) return SG_ERR_NONFINITE;
    return SG_OK;
}

/* Everything but the graph / mask: pointers, sizes, strides, scale, finiteness of Q, K, V.
 * Sizes and strides are bounded by INT32_MAX: node indices are int32 and BLAS takes int sizes;
 * with that bound every index product below fits in int64. */
sg_status sg__attention_check(const float *Q, int64_t n, int64_t ldq, const float *K, int64_t ldk,
                              const float *V, int64_t ldv, int64_t m, int64_t d, int64_t heads,
                              float scale, const float *O, int64_t ldo, int32_t n_threads) {
    sg_status st = attention_args(Q, n, ldq, K, ldk, V, ldv, m, d, heads, scale, O, ldo);
    if (st != SG_OK) return st;
    if (qkv_nonfinite(Q, n, ldq, K, ldk, V, ldv, m, d, sg__threads(n_threads), NULL, NULL, 0))
        return SG_ERR_NONFINITE;
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Sparse attention
 * ------------------------------------------------------------------------------------------- */

/* Per-thread scratch, in floats. Generic path: accumulator (d), running max and sum (heads
 * each), step scores (SG_ATT_STEP x heads). SIMD path: a block of scores, (max, 1 / sum) per row
 * of a tile and head, accumulators for heads too wide for registers (d). Padded to whole cache
 * lines so that threads never share one. */
static int64_t sparse_scratch_floats(int64_t d, int64_t heads) {
    const int64_t generic = d + 2 * heads + SG_ATT_STEP * heads;
    const int64_t simd = SG_ATT_TILE_SCORES + SG_ATT_SOFTMAX_BLOCK +
                         (2 * SG_ATT_TILE_ROWS * heads + 15) / 16 * 16 + d;
    const int64_t packed = SG_ATT_TILE_SCORES + 16 * SG_ATT_TILE_ROWS;
    int64_t f = generic > simd ? generic : simd;
    f = f > packed ? f : packed;
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

/* ---------------------------------------------------------------------------------------------
 * Per-head SIMD path, dh a multiple of 16 (any heads; the packed path below covers heads = 4).
 *
 * Per query row and head the row's scores are formed first, group by group of 16 edges, into a
 * small buffer; then the softmax is taken over the buffer in two exact passes (max, then e^(s -
 * max) and its sum); then the weighted V slices are summed. A row with at most
 * SG_ATT_SOFTMAX_BLOCK edges (every k-NN row in practice) needs no running max and no
 * rescaling, and only its last group can be partial. Longer rows are cut into blocks of that many
 * edges with the online-softmax rescale between blocks, so the scratch stays O(1) per thread.
 *
 * Score of one (edge, head): the dh-wide product is summed into one 16-lane vector; sixteen such
 * vectors are then folded into one vector of 16 scores by a transposing tree whose four levels
 * use only cheap shuffles (two 256-bit-half levels, two in-lane levels), each lane summed in the
 * same fixed order, so results are reproducible.
 * ------------------------------------------------------------------------------------------- */

/* The levels of the transposing fold: each sums pairs of lanes of a and of b and packs both
 * results into one vector. HALVES: lanes t and t + 8 (lanes 0-7 from a, 8-15 from b). QUARTERS:
 * the four 128-bit blocks pairwise (blocks 0, 1 of the result from a, 2, 3 from b). PAIRS and
 * SINGLES: lanes t and t + 2, then t and t + 1, within each 128-bit block (lanes 0-1 of every block
 * from a, 2-3 from b). The first two are 256- / 128-bit block moves, the last two in-lane shuffles:
 * all cheap on every x86 vector width. */
#define SG_FOLD_HALVES(a, b)                                                                       \
    (__builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +       \
     __builtin_shufflevector(a, b, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31))
#define SG_FOLD_QUARTERS(a, b)                                                                     \
    (__builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +     \
     __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31))
#define SG_FOLD_PAIRS(a, b)                                                                        \
    (__builtin_shufflevector(a, b, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) +     \
     __builtin_shufflevector(a, b, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31))
#define SG_FOLD_SINGLES(a, b)                                                                      \
    (__builtin_shufflevector(a, b, 0, 2, 16, 18, 4, 6, 20, 22, 8, 10, 24, 26, 12, 14, 28, 30) +    \
     __builtin_shufflevector(a, b, 1, 3, 17, 19, 5, 7, 21, 23, 9, 11, 25, 27, 13, 15, 29, 31))

/* Lane sums of 16 vectors into one: lane e of the result is the sum of x[e]'s 16 lanes. */
static inline __attribute__((always_inline)) void fold16(const sg_v16 *restrict x,
                                                       sg_v16 *restrict out) {
    sg_v16 e[4];
    /* Block j of e[p]: 4 partial sums of x[p + 4j]. */
    for (int p = 0; p < 4; p++)
        e[p] = SG_FOLD_QUARTERS(SG_FOLD_HALVES(x[p], x[p + 4]), SG_FOLD_HALVES(x[p + 8], x[p + 12]));
    /* Lane 4j + p: the sum of x[4j + p]. */
    *out = SG_FOLD_SINGLES(SG_FOLD_PAIRS(e[0], e[1]), SG_FOLD_PAIRS(e[2], e[3]));
}

/* The 16 lanes of one vector summed (same tree shape as sg__dot's). */
static inline __attribute__((always_inline)) float hsum16(const sg_v16 *restrict p) {
    const sg_v16 v = *p;
    sg_v8 h8 = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
               __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
    sg_v4 h4 = __builtin_shufflevector(h8, h8, 0, 1, 2, 3) + __builtin_shufflevector(h8, h8, 4, 5, 6, 7);
    h4 += __builtin_shufflevector(h4, h4, 2, 3, 0, 1);
    return h4[0] + h4[1];
}

/* Lane-wise products of one head's q slice and k slice, summed over the dh / 16 chunks (two
 * partial sums halve the FMA dependency chain). */
static inline __attribute__((always_inline)) void dot_lanes(const float *restrict qh,
                                                            const float *restrict k,
                                                            const int64_t nc,
                                                            sg_v16 *restrict out) {
    sg_v16 a0, a1 = {0}, x, y;
    memcpy(&x, qh, sizeof x);
    memcpy(&y, k, sizeof y);
    a0 = x * y;
    int64_t ch = 1;
    for (; ch + 2 <= nc; ch += 2) {
        sg_v16 x1, y1;
        memcpy(&x, qh + 16 * ch, sizeof x);
        memcpy(&y, k + 16 * ch, sizeof y);
        memcpy(&x1, qh + 16 * ch + 16, sizeof x1);
        memcpy(&y1, k + 16 * ch + 16, sizeof y1);
        a1 += x * y;
        a0 += x1 * y1;
    }
    if (ch < nc) {
        memcpy(&x, qh + 16 * ch, sizeof x);
        memcpy(&y, k + 16 * ch, sizeof y);
        a1 += x * y;
    }
    *out = a0 + a1;
}

/* Scaled, clamped scores of ne <= 16 edges c[0..ne) for one head into s[0..16); lanes past ne
 * are set to -inf (weight 0). Whole-vector stores only: a vector load of scalar stores would
 * stall on store forwarding. */
static inline __attribute__((always_inline)) void
group_scores(const float *restrict qh, const float *restrict K, int64_t ldk, int64_t off,
             const int64_t dh, float scale, const int32_t *restrict c, int64_t ne,
             float *restrict s) {
    const int64_t nc = dh / 16;
    sg_v16 x[16];
    if (ne == 16) {
        for (int e = 0; e < 16; e++) dot_lanes(qh, K + (int64_t)c[e] * ldk + off, nc, &x[e]);
    } else {
        for (int e = 0; e < 16; e++) {
            x[e] = (sg_v16){0};
            if (e < ne) dot_lanes(qh, K + (int64_t)c[e] * ldk + off, nc, &x[e]);
        }
    }
    sg_v16 sv;
    fold16(x, &sv);
    const sg_v16 smin = (sg_v16){0} - FLT_MAX, smax = (sg_v16){0} + FLT_MAX;
    /* maxnum semantics: a NaN score becomes -FLT_MAX, like sg__clamp_score. */
    sv = __builtin_elementwise_min(__builtin_elementwise_max(sv * scale, smin), smax);
    const sg_i16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const sg_i16 keep = lane < (int32_t)ne;
    const sg_v16 ninf = (sg_v16){0} - INFINITY;
    sv = (sg_v16)(((sg_i16)sv & keep) | ((sg_i16)ninf & ~keep));
    memcpy(s, &sv, sizeof sv);
}

/* Pass 1 for one head of one row: the scores of edges c[0..nb) into s[0..nbp), nbp = nb rounded
 * up to 16 (padding -inf); raw scores also go to w (stride heads) when w is not NULL. */
static inline __attribute__((always_inline)) void
row_scores(const float *restrict qh, const float *restrict K, int64_t ldk, int64_t off,
           const int64_t dh, float scale, const int32_t *restrict c, int64_t nb,
           float *restrict s, float *restrict w, int64_t heads) {
    for (int64_t g0 = 0; g0 < nb; g0 += 16)
        group_scores(qh, K, ldk, off, dh, scale, c + g0, nb - g0 < 16 ? nb - g0 : 16, s + g0);
    if (w)
        for (int64_t e = 0; e < nb; e++) w[e * heads] = s[e];
}

/* The max of s[0..nbp) (nbp a multiple of 16). Exact, so the reduction order does not matter. */
static inline __attribute__((always_inline)) float row_max(const float *restrict s, int64_t nbp) {
    sg_v16 vmax = (sg_v16){0} - INFINITY;
    for (int64_t g0 = 0; g0 < nbp; g0 += 16) {
        sg_v16 x;
        memcpy(&x, s + g0, sizeof x);
        vmax = __builtin_elementwise_max(vmax, x);
    }
    return __builtin_reduce_max(vmax);
}

/* Pass 2: s = e^(s - mx) in place over s[0..nbp), added lane-wise to *lsum. */
static inline __attribute__((always_inline)) void row_exp(float *restrict s, int64_t nbp, float mx,
                                                          sg_v16 *restrict lsum) {
    for (int64_t g0 = 0; g0 < nbp; g0 += 16) {
        sg_v16 x;
        memcpy(&x, s + g0, sizeof x);
        x -= mx;
        memcpy(s + g0, &x, sizeof x);
        sg__exp16(s + g0);
        memcpy(&x, s + g0, sizeof x);
        *lsum += x;
    }
}

/* Pass 3: acc += sum over edges e < nb of p[e] * V[c[e], off .. off + dh). */
static inline __attribute__((always_inline)) void
row_values(const float *restrict V, int64_t ldv, int64_t off, const int64_t dh,
           const int32_t *restrict c, int64_t nb, const float *restrict p, sg_v16 *restrict acc,
           sg_v16 *restrict odd) {
    const int64_t nc = dh / 16;
    /* Even and odd edges feed separate partial sums: one chain of dependent FMAs per chunk
     * would bound the loop by FMA latency rather than by loads. */
    const int64_t nco = nc <= SG_ATT_MAX_CHUNKS ? nc : 0;
    for (int64_t ch = 0; ch < nco; ch++) odd[ch] = (sg_v16){0};
    int64_t e = 0;
    if (nco > 0) {
        for (; e + 2 <= nb; e += 2) {
            const float *restrict v0 = V + (int64_t)c[e] * ldv + off;
            const float *restrict v1 = V + (int64_t)c[e + 1] * ldv + off;
            const float p0 = p[e], p1 = p[e + 1];
            for (int64_t ch = 0; ch < nco; ch++) {
                sg_v16 y0, y1;
                memcpy(&y0, v0 + 16 * ch, sizeof y0);
                memcpy(&y1, v1 + 16 * ch, sizeof y1);
                acc[ch] += p0 * y0;
                odd[ch] += p1 * y1;
            }
        }
    }
    for (; e < nb; e++) {
        const float *restrict v = V + (int64_t)c[e] * ldv + off;
        const float pe = p[e];
        for (int64_t ch = 0; ch < nc; ch++) {
            sg_v16 y;
            memcpy(&y, v + 16 * ch, sizeof y);
            acc[ch] += pe * y;
        }
    }
    for (int64_t ch = 0; ch < nco; ch++) acc[ch] += odd[ch];
}

/* o[off .. off + dh) = acc / sum(lsum); returns 1 / sum (sum >= 1: the max contributes e^0). */
static inline __attribute__((always_inline)) float row_store(float *restrict o, int64_t off,
                                                            const int64_t dh,
                                                            const sg_v16 *restrict acc,
                                                            const sg_v16 *restrict lsum) {
    const float inv = 1.0f / hsum16(lsum);
    for (int64_t ch = 0; ch < dh / 16; ch++) {
        sg_v16 r = acc[ch] * inv;
        memcpy(o + off + 16 * ch, &r, sizeof r);
    }
    return inv;
}

/* A long row (deg > SG_ATT_SOFTMAX_BLOCK), one head: blocks of SG_ATT_SOFTMAX_BLOCK edges with
 * the online-softmax rescale between blocks. s holds one block of scores. */
static inline __attribute__((always_inline)) void
long_row(const float *restrict q, const float *restrict K, int64_t ldk, const float *restrict V,
         int64_t ldv, int64_t off, const int64_t dh, int64_t heads, float scale,
         const int32_t *restrict cols, int64_t deg, float *restrict o, float *restrict w,
         float *restrict s, sg_v16 *restrict acc, sg_v16 *restrict odd, float *restrict mx_out,
         float *restrict inv_out) {
    for (int64_t ch = 0; ch < dh / 16; ch++) acc[ch] = (sg_v16){0};
    float mx = -INFINITY;
    sg_v16 lsum = {0};
    for (int64_t b0 = 0; b0 < deg; b0 += SG_ATT_SOFTMAX_BLOCK) {
        const int64_t nb = deg - b0 < SG_ATT_SOFTMAX_BLOCK ? deg - b0 : SG_ATT_SOFTMAX_BLOCK;
        const int64_t nbp = (nb + 15) / 16 * 16;
        row_scores(q + off, K, ldk, off, dh, scale, cols + b0, nb, s, w ? w + b0 * heads : NULL,
                   heads);
        const float bmax = row_max(s, nbp);
        if (b0 > 0 && bmax > mx) {
            const float f = sg__exp(mx - bmax);
            lsum *= f;
            for (int64_t ch = 0; ch < dh / 16; ch++) acc[ch] *= f;
        }
        mx = bmax > mx ? bmax : mx;
        row_exp(s, nbp, mx, &lsum);
        row_values(V, ldv, off, dh, cols + b0, nb, s, acc, odd);
    }
    *inv_out = row_store(o, off, dh, acc, &lsum);
    *mx_out = mx;
}

/* One head over a tile of query rows [i0, i1), dh a compile-time constant after inlining (the
 * accumulators then live in registers). Rows of degree <= SG_ATT_SOFTMAX_BLOCK: pass 1 for all
 * rows of the tile, then pass 2 for all, then pass 3 for all. Consecutive rows of a space-filling
 * order share most neighbours, so within one phase a K (or V) slice read for one row is still in
 * L1 for the next (alternating K and V row by row evicts it), and the rows' softmax latency
 * chains are independent and overlap. Longer rows go through long_row. */
static inline __attribute__((always_inline)) void
head_tile(const float *restrict Q, int64_t ldq, const float *restrict K, int64_t ldk,
          const float *restrict V, int64_t ldv, int64_t h, const int64_t dh, int64_t heads,
          float scale, const int64_t *restrict row_ptr, const int32_t *restrict col_idx,
          int64_t i0, int64_t i1, float *restrict O, int64_t ldo, float *restrict weights,
          float *restrict S, float *restrict stats, sg_v16 *restrict accmem) {
    sg_v16 accl[SG_ATT_MAX_CHUNKS], oddl[SG_ATT_MAX_CHUNKS];
    sg_v16 *acc = dh / 16 <= SG_ATT_MAX_CHUNKS ? accl : accmem;
    const int64_t off = h * dh;
    /* Pass 1 for the tile. */
    float *sr = S;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t e0 = row_ptr[i], deg = row_ptr[i + 1] - e0;
        if (deg == 0 || deg > SG_ATT_SOFTMAX_BLOCK) continue;
        row_scores(Q + i * ldq + off, K, ldk, off, dh, scale, col_idx + e0, deg, sr,
                   weights ? weights + e0 * heads + h : NULL, heads);
        sr += (deg + 15) / 16 * 16;
    }
    /* Pass 2 for the tile: softmax numerators in place and 1 / sum. Rows are independent, so the
     * out-of-order core overlaps their max -> exp -> sum latency chains. */
    sr = S;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t deg = row_ptr[i + 1] - row_ptr[i];
        if (deg == 0 || deg > SG_ATT_SOFTMAX_BLOCK) continue;
        float *st = stats + 2 * (i - i0) * heads + h; /* max; 1 / sum at st[heads] */
        const int64_t nbp = (deg + 15) / 16 * 16;
        const float mx = row_max(sr, nbp);
        sg_v16 lsum = {0};
        row_exp(sr, nbp, mx, &lsum);
        st[0] = mx;
        st[heads] = 1.0f / hsum16(&lsum); /* sum >= 1: the maximal score contributes e^0 */
        sr += nbp;
    }
    /* Pass 3 for the tile: the weighted V sums. */
    sr = S;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t e0 = row_ptr[i], deg = row_ptr[i + 1] - e0;
        float *st = stats + 2 * (i - i0) * heads + h;
        if (deg == 0) continue;
        if (deg > SG_ATT_SOFTMAX_BLOCK) {
            long_row(Q + i * ldq, K, ldk, V, ldv, off, dh, heads, scale, col_idx + e0, deg,
                     O + i * ldo, weights ? weights + e0 * heads + h : NULL,
                     S + SG_ATT_TILE_SCORES, acc, oddl, st, st + heads);
            continue;
        }
        for (int64_t ch = 0; ch < dh / 16; ch++) acc[ch] = (sg_v16){0};
        row_values(V, ldv, off, dh, col_idx + e0, deg, sr, acc, oddl);
        const float inv = st[heads];
        for (int64_t ch = 0; ch < dh / 16; ch++) {
            sg_v16 r = acc[ch] * inv;
            memcpy(O + i * ldo + off + 16 * ch, &r, sizeof r);
        }
        sr += (deg + 15) / 16 * 16;
    }
}

/* SIMD path for a tile of query rows [i0, i1) whose short rows' padded degrees sum to at most
 * SG_ATT_TILE_SCORES: heads one after another, each over the whole tile. A head touches only its
 * own dh-wide slice of each K / V row, so every cache line is still fetched at most once per
 * row; in exchange the accumulators stay in registers. */
__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static void sparse_tile_simd(const float *restrict Q, int64_t ldq, const float *restrict K,
                             int64_t ldk, const float *restrict V, int64_t ldv, int64_t d,
                             int64_t heads, float scale, const int64_t *restrict row_ptr,
                             const int32_t *restrict col_idx, int64_t i0, int64_t i1,
                             float *restrict O, int64_t ldo, float *restrict weights,
                             float *restrict scratch) {
    const int64_t dh = d / heads;
    float *S = scratch; /* tile scores, then one block for long rows */
    float *stats = S + SG_ATT_TILE_SCORES + SG_ATT_SOFTMAX_BLOCK;
    sg_v16 *accmem = (sg_v16 *)(void *)(stats + (2 * SG_ATT_TILE_ROWS * heads + 15) / 16 * 16);
    for (int64_t h = 0; h < heads; h++) {
        switch (dh) {
        case 16: head_tile(Q, ldq, K, ldk, V, ldv, h, 16, heads, scale, row_ptr, col_idx, i0, i1, O, ldo, weights, S, stats, accmem); break;
        case 32: head_tile(Q, ldq, K, ldk, V, ldv, h, 32, heads, scale, row_ptr, col_idx, i0, i1, O, ldo, weights, S, stats, accmem); break;
        case 64: head_tile(Q, ldq, K, ldk, V, ldv, h, 64, heads, scale, row_ptr, col_idx, i0, i1, O, ldo, weights, S, stats, accmem); break;
        case 128: head_tile(Q, ldq, K, ldk, V, ldv, h, 128, heads, scale, row_ptr, col_idx, i0, i1, O, ldo, weights, S, stats, accmem); break;
        default: head_tile(Q, ldq, K, ldk, V, ldv, h, dh, heads, scale, row_ptr, col_idx, i0, i1, O, ldo, weights, S, stats, accmem); break;
        }
    }
    for (int64_t i = i0; i < i1; i++) {
        const int64_t e0 = row_ptr[i], deg = row_ptr[i + 1] - e0;
        if (deg == 0) {
            for (int64_t t = 0; t < d; t++) O[i * ldo + t] = 0.0f;
        } else if (weights) {
            const float *st = stats + 2 * (i - i0) * heads;
            finish_weights(weights + e0 * heads, deg, heads, st, st + heads);
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Packed SIMD path: heads = 4, d in {64, 128, 256} (the shapes of the models), rows of degree
 * <= SG_ATT_SOFTMAX_BLOCK.
 *
 * All four heads of an edge are handled together: the query row lives in registers, each K row
 * and each V row is read once, whole and contiguously, and the 4 x 4 scores of four edges fill
 * one vector (lane 4h + e: head h, edge e of the group). Compared with one head at a time this
 * computes each edge's address once instead of four times, pads a row's last group to 4 edges
 * instead of 16 per head, and runs max / exp / sum over a row's 4 heads in the same vectors.
 * Scores are buffered per row, so the softmax is exact in two passes, with no rescaling.
 * ------------------------------------------------------------------------------------------- */

/* The 4-lane blocks of v reduced in place: every lane of block j gets max (or sum) of block j. The
 * sum tree is symmetric, so all four lanes get the same bits. */
#define SG_BLOCK_SWAP1(v) __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14)
#define SG_BLOCK_SWAP2(v) __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)

/* Scores of edges c[0..ne), ne <= 4, all four heads: *out lane 4h + e = clamp(scale <q_h, k_h>),
 * -inf for e >= ne. qv holds the query row (nc = d / 16 chunks, nc / 4 per head). */
static inline __attribute__((always_inline)) void
packed_scores(const sg_v16 *restrict qv, const int64_t nc, const float *restrict K, int64_t ldk,
              const int32_t *restrict c, int64_t ne, float scale, sg_v16 *restrict out) {
    const int64_t cph = nc / 4;
    sg_v16 E[4];
    for (int e = 0; e < 4; e++) {
        E[e] = (sg_v16){0};
        if (e < ne) {
            const float *restrict k = K + (int64_t)c[e] * ldk;
            sg_v16 x[4];
            for (int h = 0; h < 4; h++) {
                sg_v16 y;
                memcpy(&y, k + 16 * (h * cph), sizeof y);
                x[h] = qv[h * cph] * y;
                for (int64_t t = 1; t < cph; t++) {
                    memcpy(&y, k + 16 * (h * cph + t), sizeof y);
                    x[h] += qv[h * cph + t] * y;
                }
            }
            /* Block h of E[e]: 4 partial sums of head h. */
            E[e] = SG_FOLD_QUARTERS(SG_FOLD_HALVES(x[0], x[1]), SG_FOLD_HALVES(x[2], x[3]));
        }
    }
    sg_v16 f = SG_FOLD_SINGLES(SG_FOLD_PAIRS(E[0], E[1]), SG_FOLD_PAIRS(E[2], E[3]));
    const sg_v16 smin = (sg_v16){0} - FLT_MAX, smax = (sg_v16){0} + FLT_MAX;
    /* maxnum semantics: a NaN score becomes -FLT_MAX, like sg__clamp_score. */
    f = __builtin_elementwise_min(__builtin_elementwise_max(f * scale, smin), smax);
    if (ne < 4) {
        const sg_i16 lane_e = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
        const sg_i16 keep = lane_e < (int32_t)ne;
        const sg_v16 ninf = (sg_v16){0} - INFINITY;
        f = (sg_v16)(((sg_i16)f & keep) | ((sg_i16)ninf & ~keep));
    }
    *out = f;
}

/* Passes 1 and 2 for one row: scores of all edges into s (ng = ceil(deg / 4) vectors), then
 * e^(s - max_h) in place; *inv_out lane 4h + e = 1 / sum_h. Weights, when asked, are written
 * edge-major (w[e * 4 + h]). */
static inline __attribute__((always_inline)) void
packed_row_softmax(const float *restrict q, const int64_t nc, const float *restrict K,
                   int64_t ldk, const int32_t *restrict cols, int64_t deg, float scale,
                   float *restrict s, sg_v16 *restrict inv_out, float *restrict w) {
    sg_v16 qv[16];
    for (int64_t t = 0; t < nc; t++) memcpy(&qv[t], q + 16 * t, sizeof qv[t]);
    const int64_t ng = (deg + 3) / 4;
    sg_v16 vmax = (sg_v16){0} - INFINITY;
    for (int64_t g = 0; g < ng; g++) {
        sg_v16 f;
        packed_scores(qv, nc, K, ldk, cols + 4 * g, deg - 4 * g < 4 ? deg - 4 * g : 4, scale, &f);
        vmax = __builtin_elementwise_max(vmax, f);
        memcpy(s + 16 * g, &f, sizeof f);
    }
    /* Per-head max (exact, so the order is irrelevant), in every lane of the head's block. */
    vmax = __builtin_elementwise_max(vmax, SG_BLOCK_SWAP1(vmax));
    vmax = __builtin_elementwise_max(vmax, SG_BLOCK_SWAP2(vmax));
    sg_v16 lsum = {0};
    for (int64_t g = 0; g < ng; g++) {
        sg_v16 x;
        memcpy(&x, s + 16 * g, sizeof x);
        x -= vmax;
        memcpy(s + 16 * g, &x, sizeof x);
        sg__exp16(s + 16 * g);
        memcpy(&x, s + 16 * g, sizeof x);
        lsum += x;
    }
    lsum += SG_BLOCK_SWAP1(lsum);
    lsum += SG_BLOCK_SWAP2(lsum);
    /* Each head's sum >= 1: its maximal score contributes e^0. */
    const sg_v16 inv = ((sg_v16){0} + 1.0f) / lsum;
    *inv_out = inv;
    if (w) {
        for (int64_t e = 0; e < deg; e++) {
            const int64_t g = e / 4, p = e % 4;
            for (int h = 0; h < 4; h++) w[e * 4 + h] = s[16 * g + 4 * h + p] * inv[4 * h];
        }
    }
}

/* Pass 3 for one row: o = sum over edges of p_h(e) V[c[e]] per head, times 1 / sum_h. */
static inline __attribute__((always_inline)) void
packed_row_values(const float *restrict V, int64_t ldv, const int64_t nc,
                  const int32_t *restrict cols, int64_t deg, const float *restrict s,
                  const sg_v16 *restrict invp, float *restrict o) {
    const int64_t cph = nc / 4;
    sg_v16 acc[16], odd[8];
    for (int64_t t = 0; t < nc; t++) acc[t] = (sg_v16){0};
    int64_t e = 0;
    if (nc <= 8) {
        /* Narrow rows: even and odd edges in separate sums, or the loop waits on FMA latency. */
        for (int64_t t = 0; t < nc; t++) odd[t] = (sg_v16){0};
        for (; e + 2 <= deg; e += 2) {
            const float *restrict v0 = V + (int64_t)cols[e] * ldv;
            const float *restrict v1 = V + (int64_t)cols[e + 1] * ldv;
            const float *restrict p0 = s + 16 * (e / 4) + e % 4, *restrict p1 = p0 + 1;
            for (int h = 0; h < 4; h++)
                for (int64_t t = h * cph; t < (h + 1) * cph; t++) {
                    sg_v16 y0, y1;
                    memcpy(&y0, v0 + 16 * t, sizeof y0);
                    memcpy(&y1, v1 + 16 * t, sizeof y1);
                    acc[t] += p0[4 * h] * y0;
                    odd[t] += p1[4 * h] * y1;
                }
        }
        for (int64_t t = 0; t < nc; t++) acc[t] += odd[t];
    }
    for (; e < deg; e++) {
        const float *restrict v = V + (int64_t)cols[e] * ldv;
        const float *restrict p = s + 16 * (e / 4) + e % 4;
        for (int h = 0; h < 4; h++)
            for (int64_t t = h * cph; t < (h + 1) * cph; t++) {
                sg_v16 y;
                memcpy(&y, v + 16 * t, sizeof y);
                acc[t] += p[4 * h] * y;
            }
    }
    const sg_v16 inv = *invp;
    for (int h = 0; h < 4; h++)
        for (int64_t t = h * cph; t < (h + 1) * cph; t++) {
            const sg_v16 r = acc[t] * inv[4 * h];
            memcpy(o + 16 * t, &r, sizeof r);
        }
}

/* Short rows of a tile [i0, i1) whose scores (16 floats per 4 edges) fit in S: passes 1-2 for all
 * of them, then pass 3, so that consecutive rows (which share most neighbours in a space-filling
 * order) find the K rows, then the V rows, of the previous rows still in L1. Rows without edges
 * get zeros; long rows are left to the caller. */
static inline __attribute__((always_inline)) void
packed_tile(const float *restrict Q, int64_t ldq, const float *restrict K, int64_t ldk,
            const float *restrict V, int64_t ldv, const int64_t d, float scale,
            const int64_t *restrict row_ptr, const int32_t *restrict col_idx, int64_t i0,
            int64_t i1, float *restrict O, int64_t ldo, float *restrict weights,
            float *restrict S, sg_v16 *restrict invs) {
    const int64_t nc = d / 16;
    float *sr = S;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t e0 = row_ptr[i], deg = row_ptr[i + 1] - e0;
        if (deg == 0 || deg > SG_ATT_SOFTMAX_BLOCK) continue;
        packed_row_softmax(Q + i * ldq, nc, K, ldk, col_idx + e0, deg, scale, sr, &invs[i - i0],
                           weights ? weights + e0 * 4 : NULL);
        sr += 16 * ((deg + 3) / 4);
    }
    sr = S;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t e0 = row_ptr[i], deg = row_ptr[i + 1] - e0;
        if (deg == 0) {
            for (int64_t t = 0; t < d; t++) O[i * ldo + t] = 0.0f;
            continue;
        }
        if (deg > SG_ATT_SOFTMAX_BLOCK) continue;
        packed_row_values(V, ldv, nc, col_idx + e0, deg, sr, &invs[i - i0], O + i * ldo);
        sr += 16 * ((deg + 3) / 4);
    }
}

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static void sparse_tile_packed(const float *restrict Q, int64_t ldq, const float *restrict K,
                               int64_t ldk, const float *restrict V, int64_t ldv, int64_t d,
                               float scale, const int64_t *restrict row_ptr,
                               const int32_t *restrict col_idx, int64_t i0, int64_t i1,
                               float *restrict O, int64_t ldo, float *restrict weights,
                               float *restrict scratch) {
    float *S = scratch;
    sg_v16 *invs = (sg_v16 *)(void *)(S + SG_ATT_TILE_SCORES);
    switch (d) {
    case 64: packed_tile(Q, ldq, K, ldk, V, ldv, 64, scale, row_ptr, col_idx, i0, i1, O, ldo, weights, S, invs); break;
    case 128: packed_tile(Q, ldq, K, ldk, V, ldv, 128, scale, row_ptr, col_idx, i0, i1, O, ldo, weights, S, invs); break;
    default: packed_tile(Q, ldq, K, ldk, V, ldv, 256, scale, row_ptr, col_idx, i0, i1, O, ldo, weights, S, invs); break;
    }
}

sg_status sg_attention_sparse(const float *Q, int64_t n, int64_t ldq,
                              const float *K, int64_t ldk, const float *V, int64_t ldv, int64_t m,
                              int64_t d, int64_t heads, float scale,
                              const int64_t *row_ptr, const int32_t *col_idx,
                              float *restrict O, int64_t ldo, float *restrict weights,
                              int32_t n_threads) {
    if (!row_ptr) return SG_ERR_NULL;
    sg_status st = attention_args(Q, n, ldq, K, ldk, V, ldv, m, d, heads, scale, O, ldo);
    if (st != SG_OK) return st;

    /* Aligned copies of K and V, made in the finiteness pass that reads them anyway, when their
     * rows do not start on 64-byte boundaries (Swift arrays, for one, start 16 to 48 bytes past
     * one): every 64-byte load of a gathered row would otherwise straddle two cache lines, and
     * the kernel is bound by those loads (misaligned inputs measured 1.4x slower at n = 2048,
     * d = 256; the copy wins back 1.2x). Only when the graph reads each key row several times
     * (row_ptr[n] is only a hint here: the graph is validated below), when the copies are small
     * enough to stay in cache (SG_ATT_COPY_MAX_FLOATS), and when the memory is there: the copy
     * is an optimisation, a failed allocation just skips it. */
    const int64_t ldc = (d + 15) / 16 * 16;
    const int misaligned = ((uintptr_t)K % 64 != 0 || ldk % 16 != 0) ||
                           ((uintptr_t)V % 64 != 0 || ldv % 16 != 0);
    float *Kc = NULL, *Vc = NULL;
    if (misaligned && row_ptr[n] / SG_ATT_COPY_MIN_REUSE >= m &&
        m <= SG_ATT_COPY_MAX_FLOATS / 2 / ldc) {
        Kc = aligned_alloc(64, (size_t)(2 * m * ldc) * sizeof(float));
        Vc = Kc ? Kc + m * ldc : NULL;
    }
    if (qkv_nonfinite(Q, n, ldq, K, ldk, V, ldv, m, d, sg__threads(n_threads), Kc, Vc, ldc)) {
        free(Kc);
        return SG_ERR_NONFINITE;
    }
    st = sg_csr_validate(n, m, row_ptr, col_idx);
    /* nnz <= n * m < 2^62 after validation; the weights index nnz * heads must fit as well. */
    if (st == SG_OK && weights && row_ptr[n] > INT64_MAX / heads) st = SG_ERR_SIZE;
    const int nt = sg__threads(n_threads) < n ? sg__threads(n_threads) : (int)n;
    const int64_t stride = sparse_scratch_floats(d, heads);
    float *scratch = st == SG_OK ? aligned_alloc(64, (size_t)(stride * nt) * sizeof(float)) : NULL;
    if (st == SG_OK && !scratch) st = SG_ERR_ALLOC;
    if (st != SG_OK) {
        free(Kc);
        return st;
    }
    if (Kc) {
        K = Kc;
        V = Vc;
        ldk = ldv = ldc;
    }

    /* Dynamic scheduling by hand (schedule(dynamic / guided) does not link against Debian's
     * libomp, see internal.h): rows are claimed in chunks from a shared counter, since degrees
     * vary and a static split could leave a thread idle. Every row is computed by one thread
     * alone, in the same way whichever thread it is and whichever tile it falls in, so results do
     * not depend on the thread count. */
    const int simd = (d / heads) % 16 == 0;
    const int packed = heads == 4 && (d == 64 || d == 128 || d == 256);
    _Atomic int64_t next_row = 0;
    #pragma omp parallel num_threads(nt)
    {
        float *own = scratch + (int64_t)omp_get_thread_num() * stride;
        for (;;) {
            /* Guided claims: a share of what is left, never under SG_ATT_ROWS_PER_CLAIM rows. */
            int64_t i0 = atomic_load_explicit(&next_row, memory_order_relaxed), len;
            do {
                len = (n - i0) / (2 * nt);
                if (len < SG_ATT_ROWS_PER_CLAIM) len = SG_ATT_ROWS_PER_CLAIM;
            } while (i0 < n && !atomic_compare_exchange_weak_explicit(
                                   &next_row, &i0, i0 + len, memory_order_relaxed,
                                   memory_order_relaxed));
            if (i0 >= n) break;
            const int64_t i1 = n - i0 < len ? n : i0 + len;
            if (packed || simd) {
                /* Tiles: up to SG_ATT_TILE_ROWS consecutive rows while their short rows' scores
                 * fit the buffer. Long rows (packed path) go through the per-head path on their
                 * own. */
                int64_t t0 = i0, used = 0;
                for (int64_t i = i0; i <= i1; i++) {
                    const int64_t deg = i < i1 ? row_ptr[i + 1] - row_ptr[i] : 0;
                    const int64_t need = deg > SG_ATT_SOFTMAX_BLOCK ? 0
                                         : packed ? 16 * ((deg + 3) / 4) : (deg + 15) / 16 * 16;
                    if (i == i1 || used + need > SG_ATT_TILE_SCORES ||
                        i - t0 == SG_ATT_TILE_ROWS) {
                        if (packed) {
                            sparse_tile_packed(Q, ldq, K, ldk, V, ldv, d, scale, row_ptr, col_idx,
                                               t0, i, O, ldo, weights, own);
                            for (int64_t r = t0; r < i; r++)
                                if (row_ptr[r + 1] - row_ptr[r] > SG_ATT_SOFTMAX_BLOCK)
                                    sparse_tile_simd(Q, ldq, K, ldk, V, ldv, d, heads, scale,
                                                     row_ptr, col_idx, r, r + 1, O, ldo, weights,
                                                     own);
                        } else {
                            sparse_tile_simd(Q, ldq, K, ldk, V, ldv, d, heads, scale, row_ptr,
                                             col_idx, t0, i, O, ldo, weights, own);
                        }
                        t0 = i;
                        used = 0;
                    }
                    used += need;
                }
                continue;
            }
            for (int64_t i = i0; i < i1; i++) {
                const int64_t e0 = row_ptr[i];
                /* The next query row: its misses otherwise stall the first dot products. */
                if (i + 1 < i1)
                    for (int64_t t = 0; t < d; t += 16) __builtin_prefetch(Q + (i + 1) * ldq + t);
                sparse_row_generic(Q + i * ldq, K, ldk, V, ldv, d, heads, scale, col_idx + e0,
                                   row_ptr[i + 1] - e0, O + i * ldo,
                                   weights ? weights + e0 * heads : NULL, own);
            }
        }
    }
    free(scratch);
    free(Kc);
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
    /* Work is split into (query block, head) tasks of a fixed shape — the block size depends on m
     * only — and each task runs on one OpenMP thread with its own score scratch and single-threaded
     * sgemm calls (see gemm.c). A row's output therefore comes from the same computation whatever
     * n_threads is, and OpenBLAS's threads never compete with OpenMP's for the cores. */
    const int nt = sg__threads(n_threads);
    const int64_t dh = d / heads;
    int64_t block = SG_ATT_BLOCK_FLOATS / m;
    if (block > SG_ATT_BLOCK_MAX) block = SG_ATT_BLOCK_MAX;
    if (block < SG_ATT_BLOCK_MIN) block = SG_ATT_BLOCK_MIN;
    if (block > n) block = n;
    const int64_t blocks = (n + block - 1) / block, tasks = blocks * heads;
    const int workers = tasks < nt ? (int)tasks : nt;
    /* Per worker: block * m scores and block inverse sums. block * m <= 256 * 2^31 floats. */
    const size_t per = (size_t)(block * m) + (size_t)block;
    float *scratch = malloc(per * (size_t)workers * sizeof(float));
    if (!scratch) return SG_ERR_ALLOC;

    #pragma omp parallel num_threads(workers)
    {
        /* The team may be smaller than `workers` (OMP_THREAD_LIMIT, OMP_DYNAMIC, nesting): stride
         * by the threads actually started so that every task runs. */
        const int w = omp_get_thread_num(), team = omp_get_num_threads();
        float *S = scratch + per * (size_t)w;
        float *inv = S + (size_t)(block * m);
        /* Round-robin tasks: static and deterministic, balanced because all tasks but the last
         * block's are the same size. */
        for (int64_t t = w; t < tasks; t += team) {
            const int64_t i0 = (t / heads) * block, h = t % heads;
            const int64_t nb = n - i0 < block ? n - i0 : block;
            cblas_sgemm(SG_CBLAS_ROW_MAJOR, SG_CBLAS_NO_TRANS, SG_CBLAS_TRANS, (int)nb, (int)m,
                        (int)dh, scale, Q + i0 * ldq + h * dh, (int)ldq, K + h * dh, (int)ldk,
                        0.0f, S, (int)m);
            for (int64_t r = 0; r < nb; r++)
                inv[r] = softmax_row(S + r * m, m, mask ? mask + (i0 + r) * ldm : NULL);
            float *Oh = O + i0 * ldo + h * dh;
            cblas_sgemm(SG_CBLAS_ROW_MAJOR, SG_CBLAS_NO_TRANS, SG_CBLAS_NO_TRANS, (int)nb,
                        (int)dh, (int)m, 1.0f, S, (int)m, V + h * dh, (int)ldv, 0.0f, Oh,
                        (int)ldo);
            for (int64_t r = 0; r < nb; r++) {
                const float f = inv[r];
                float *restrict o = Oh + r * ldo;
                for (int64_t c = 0; c < dh; c++) o[c] *= f;
            }
        }
    }
    free(scratch);
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
