/* lightglue.c — kernels of LightGlue's dense forward: interleaved rotary encoding, the message
 * FFN (concat, Linear, LayerNorm, GELU, Linear, residual) fused per row block, the match
 * assignment (log double softmax with dustbins) and a one-region linear layer.
 * docs/performance.md ("LightGlue dense forward") records what each one saved, and what was tried
 * and dropped (one shared similarity matrix for both cross-attention directions).
 *
 * Determinism: every output row is produced by one OpenMP thread from a computation whose shape
 * is fixed by the problem size only (fixed row blocks, single-threaded sgemm calls; see gemm.c),
 * so results do not depend on n_threads.
 */
#include <float.h>

#include "internal.h"
#include "vector_math.h"

/* Rows per FFN task (the same fixed row block as every GEMM, see gemm.c). */
#define LG_FFN_ROWS SG_GEMM_ROW_BLOCK


/* 1 if the n-row, d-column views a (stride lda) and b (stride ldb) share any memory: their
 * address spans intersect (conservative: interleaved rows that never touch count as overlap). */
static int lg_overlap(const float *a, int64_t n, int64_t d, int64_t lda, const float *b, int64_t ldb) {
    const float *a_end = a + (n - 1) * lda + d, *b_end = b + (n - 1) * ldb + d;
    return a < b_end && b < a_end;
}

static int lg_blas_ok(int64_t v) { return v >= 1 && v <= SG_BLAS_INT_MAX; }


/* ---------------------------------------------------------------------------------------------
 * Rotary encoding
 * ------------------------------------------------------------------------------------------- */

__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static void lg_rotary_row(float *restrict x, int64_t width, int64_t dh, const float *restrict c,
                          const float *restrict s) {
    const int64_t half = dh / 2;
    for (int64_t h = 0; h < width; h += dh) {
        float *restrict p = x + h;
        for (int64_t k = 0; k < half; k++) {
            const float a = p[2 * k], b = p[2 * k + 1];
            p[2 * k] = a * c[k] - b * s[k];
            p[2 * k + 1] = b * c[k] + a * s[k];
        }
    }
}

sg_status sg_lightglue_rotary(float *x, int64_t n, int64_t width, int64_t ldx, int64_t dh,
                              const float *cos_table, const float *sin_table, int64_t ldr,
                              int32_t n_threads) {
    if (!x || !cos_table || !sin_table) return SG_ERR_NULL;
    if (n < 1 || width < 1 || dh < 2) return SG_ERR_SIZE;
    if (dh % 2 != 0 || width % dh != 0 || ldx < width || ldr < dh / 2) return SG_ERR_SHAPE;
    if (ldx > INT64_MAX / n || ldr > INT64_MAX / n) return SG_ERR_SIZE;
    if (!sg__rows_finite(x, n, width, ldx) || !sg__rows_finite(cos_table, n, dh / 2, ldr) ||
        !sg__rows_finite(sin_table, n, dh / 2, ldr))
        return SG_ERR_NONFINITE;
    const int nt = sg__threads(n_threads);
    #pragma omp parallel for num_threads(nt) schedule(static) if(n * width > ((int64_t)1 << 16))
    for (int64_t i = 0; i < n; i++)
        lg_rotary_row(x + i * ldx, width, dh, cos_table + i * ldr, sin_table + i * ldr);
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Message FFN
 * ------------------------------------------------------------------------------------------- */

/* 0.5 x (1 + erf(x / sqrt 2)) on 16 floats in place, z = x / sqrt 2. erf follows N. Juffa's float
 * approximation (max error about 1 ulp; measured 5.7e-8 absolute against double erf):
 *   |z| <= 0.9277:  erf z = z + z P(z^2)
 *   |z| >  0.9277:  erf z = sign(z) (1 - e^(Q(|z|))),
 * and for the second range 1 + erf z is formed as e^Q (z < 0) or 2 - e^Q (z > 0), so negative
 * inputs lose nothing to cancellation. Both ranges are evaluated on every lane and selected. */
static inline void lg_gelu16(float *restrict p) {
    sg_v16 x;
    memcpy(&x, p, sizeof x);
    const sg_v16 z = x * 0.70710678118654752440f;
    const sg_v16 t = __builtin_elementwise_abs(z), s = z * z;
    /* Small range. */
    sg_v16 a = (sg_v16){0} - 5.96761703e-4f;
    a = a * s + 4.99119423e-3f;
    a = a * s - 2.67681349e-2f;
    a = a * s + 1.12819925e-1f;
    a = a * s - 3.76125336e-1f;
    a = a * s + 1.28379166e-1f;
    const sg_v16 small = 1.0f + (a * z + z);
    /* Large range: Q(t), then e^Q. */
    sg_v16 r = (sg_v16){0} - 1.72853470e-5f;
    r = r * t + 3.83197126e-4f;
    sg_v16 u = (sg_v16){0} - 3.88396438e-3f;
    u = u * t + 2.42546219e-2f;
    r = r * s + u;
    r = r * t - 1.06777877e-1f;
    r = r * t - 6.34846687e-1f;
    r = r * t - 1.28717512e-1f;
    r = r * t - t;
    float e[16];
    memcpy(e, &r, sizeof e);
    sg__exp16(e);
    sg_v16 ev;
    memcpy(&ev, e, sizeof ev);
    const sg_v16 large = (sg_v16)(((sg_i16)ev & (sg_i16)(z < 0.0f)) | ((sg_i16)(2.0f - ev) & ~(sg_i16)(z < 0.0f)));
    const sg_i16 is_large = t > 0.927734375f;
    const sg_v16 one_plus = (sg_v16)(((sg_i16)large & is_large) | ((sg_i16)small & ~is_large));
    const sg_v16 y = 0.5f * x * one_plus;
    memcpy(p, &y, sizeof y);
}

typedef double lg_d8 __attribute__((vector_size(64)));

/* h = gelu(LayerNorm(h + b1)) for one row of width hd. Mean and variance are accumulated in
 * double (8 lanes, fixed fold order), as sg_layer_norm does. */
__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static void lg_bias_ln_gelu_row(float *restrict h, int64_t hd, const float *restrict b1,
                                const float *restrict gamma, const float *restrict beta, float eps) {
    const int64_t h8 = hd / 8 * 8;
    lg_d8 acc = {0};
    for (int64_t j = 0; j < h8; j += 8) {
        sg_v8 x, b;
        memcpy(&x, h + j, sizeof x);
        memcpy(&b, b1 + j, sizeof b);
        x += b;
        memcpy(h + j, &x, sizeof x);
        acc += __builtin_convertvector(x, lg_d8);
    }
    double sum = 0.0;
    for (int k = 0; k < 8; k++) sum += acc[k];
    for (int64_t j = h8; j < hd; j++) { h[j] += b1[j]; sum += h[j]; }
    const double mean = sum / (double)hd;
    lg_d8 vq = {0};
    for (int64_t j = 0; j < h8; j += 8) {
        sg_v8 x;
        memcpy(&x, h + j, sizeof x);
        const lg_d8 c = __builtin_convertvector(x, lg_d8) - mean;
        vq += c * c;
    }
    double sq = 0.0;
    for (int k = 0; k < 8; k++) sq += vq[k];
    for (int64_t j = h8; j < hd; j++) sq += ((double)h[j] - mean) * ((double)h[j] - mean);
    const double inv = 1.0 / sqrt(sq / (double)hd + (double)eps);
    for (int64_t j = 0; j < h8; j += 8) {
        sg_v8 x, g, b;
        memcpy(&x, h + j, sizeof x);
        memcpy(&g, gamma + j, sizeof g);
        memcpy(&b, beta + j, sizeof b);
        lg_d8 v = (__builtin_convertvector(x, lg_d8) - mean) * inv;
        v = v * __builtin_convertvector(g, lg_d8) + __builtin_convertvector(b, lg_d8);
        x = __builtin_convertvector(v, sg_v8);
        memcpy(h + j, &x, sizeof x);
    }
    for (int64_t j = h8; j < hd; j++)
        h[j] = (float)((((double)h[j] - mean) * inv) * gamma[j] + beta[j]);
    const int64_t h16 = hd / 16 * 16;
    for (int64_t j = 0; j < h16; j += 16) lg_gelu16(h + j);
    if (h16 < hd) {
        float buf[16] = {0};
        for (int64_t j = h16; j < hd; j++) buf[j - h16] = h[j];
        lg_gelu16(buf);
        for (int64_t j = h16; j < hd; j++) h[j] = buf[j - h16];
    }
}

sg_status sg_lightglue_ffn(const float *x, int64_t ldx, const float *msg, int64_t ldm, int64_t n,
                           int64_t d, const float *w1, const float *b1, int64_t hidden,
                           const float *gamma, const float *beta, float eps, const float *w2,
                           const float *b2, float *out, int64_t ldo, int32_t n_threads) {
    if (!x || !msg || !w1 || !b1 || !gamma || !beta || !w2 || !b2 || !out) return SG_ERR_NULL;
    if (!lg_blas_ok(n) || !lg_blas_ok(d) || !lg_blas_ok(hidden) || 2 * d > SG_BLAS_INT_MAX)
        return SG_ERR_SIZE;
    if (ldx < d || ldm < d || ldo < d) return SG_ERR_SHAPE;
    /* out may be x itself (same stride: each block reads its x rows before writing them); any
     * other overlap with x or msg would let one block overwrite rows another has not read. */
    if (out == x && ldo != ldx) return SG_ERR_SHAPE;
    if ((out != x && lg_overlap(out, n, d, ldo, x, ldx)) || lg_overlap(out, n, d, ldo, msg, ldm))
        return SG_ERR_ARGUMENT;
    if (ldx > SG_BLAS_INT_MAX || ldm > SG_BLAS_INT_MAX || ldo > SG_BLAS_INT_MAX) return SG_ERR_SIZE;
    if (!(eps > 0.0f && eps <= FLT_MAX)) return SG_ERR_ARGUMENT;
    if (!sg__rows_finite(x, n, d, ldx) || !sg__rows_finite(msg, n, d, ldm) ||
        !sg__rows_finite(w1, hidden, 2 * d, 2 * d) || !sg__rows_finite(b1, 1, hidden, hidden) ||
        !sg__rows_finite(gamma, 1, hidden, hidden) || !sg__rows_finite(beta, 1, hidden, hidden) ||
        !sg__rows_finite(w2, d, hidden, hidden) || !sg__rows_finite(b2, 1, d, d))
        return SG_ERR_NONFINITE;

    const int nt = sg__threads(n_threads);
    const int64_t blocks = (n + LG_FFN_ROWS - 1) / LG_FFN_ROWS;
    const int workers = blocks < nt ? (int)blocks : nt;
    const size_t per = (size_t)LG_FFN_ROWS * (size_t)(2 * d + hidden);
    float *scratch = malloc(per * (size_t)workers * sizeof(float));
    if (!scratch) return SG_ERR_ALLOC;

    #pragma omp parallel num_threads(workers)
    {
        /* Stride by the team actually started (OMP_THREAD_LIMIT, OMP_DYNAMIC or nesting may give
         * fewer than `workers`): every block is still computed, and by the same code, so the
         * result does not change. */
        const int w = omp_get_thread_num(), team = omp_get_num_threads();
        float *cat = scratch + per * (size_t)w, *hb = cat + (size_t)LG_FFN_ROWS * (size_t)(2 * d);
        for (int64_t b = w; b < blocks; b += team) {
            const int64_t r0 = b * LG_FFN_ROWS, nb = n - r0 < LG_FFN_ROWS ? n - r0 : LG_FFN_ROWS;
            for (int64_t r = 0; r < nb; r++) {
                memcpy(cat + r * 2 * d, x + (r0 + r) * ldx, (size_t)d * sizeof(float));
                memcpy(cat + r * 2 * d + d, msg + (r0 + r) * ldm, (size_t)d * sizeof(float));
            }
            cblas_sgemm(SG_CBLAS_ROW_MAJOR, SG_CBLAS_NO_TRANS, SG_CBLAS_TRANS, (int)nb, (int)hidden,
                        (int)(2 * d), 1.0f, cat, (int)(2 * d), w1, (int)(2 * d), 0.0f, hb, (int)hidden);
            for (int64_t r = 0; r < nb; r++) lg_bias_ln_gelu_row(hb + r * hidden, hidden, b1, gamma, beta, eps);
            /* out = x + (b2 + h W2^T), upstream's order; x is still in `cat`, so out may alias
             * x. */
            for (int64_t r = 0; r < nb; r++) memcpy(out + (r0 + r) * ldo, b2, (size_t)d * sizeof(float));
            cblas_sgemm(SG_CBLAS_ROW_MAJOR, SG_CBLAS_NO_TRANS, SG_CBLAS_TRANS, (int)nb, (int)d,
                        (int)hidden, 1.0f, hb, (int)hidden, w2, (int)hidden, 1.0f, out + r0 * ldo,
                        (int)ldo);
            for (int64_t r = 0; r < nb; r++) {
                float *o = out + (r0 + r) * ldo;
                const float *xr = cat + r * 2 * d;
                for (int64_t c = 0; c < d; c++) o[c] = xr[c] + o[c];
            }
        }
    }
    free(scratch);
    /* Finite inputs can still overflow in the GEMMs (then LayerNorm makes NaN): report it rather
     * than return NaN rows. */
    return sg__rows_finite(out, n, d, ldo) ? SG_OK : SG_ERR_NONFINITE;
}

/* ---------------------------------------------------------------------------------------------
 * Match assignment: sigmoid log double softmax with dustbins
 * ------------------------------------------------------------------------------------------- */

/* Columns per task of the column log-sum-exp (fixed, so results do not depend on n_threads). */
#define LG_ASSIGN_COLS 64

/* log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|), stable for any finite x. */
static inline float lg_log_sigmoid(float x) {
    return fminf(x, 0.0f) - log1pf(expf(-fabsf(x)));
}

/* max and log sum_j e^(s[j] - max) of one row: returns the row's log-sum-exp. m >= 1. */
__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static float lg_row_lse(const float *restrict s, int64_t m, float *restrict buf) {
    sg_v16 vmax = (sg_v16){0} - INFINITY;
    int64_t j = 0;
    for (; j + 16 <= m; j += 16) {
        sg_v16 x;
        memcpy(&x, s + j, sizeof x);
        vmax = __builtin_elementwise_max(vmax, x);
    }
    float mx = __builtin_reduce_max(vmax);
    for (; j < m; j++) mx = s[j] > mx ? s[j] : mx;
    sg_v16 vsum = {0};
    for (j = 0; j + 16 <= m; j += 16) {
        sg_v16 x;
        memcpy(&x, s + j, sizeof x);
        x -= mx;
        memcpy(buf, &x, sizeof x);
        sg__exp16(buf);
        memcpy(&x, buf, sizeof x);
        vsum += x;
    }
    float sum = 0.0f;
    for (int k = 0; k < 16; k++) sum += vsum[k];
    for (; j < m; j++) sum += expf(s[j] - mx);
    return mx + logf(sum);
}

/* Column log-sum-exps of columns [c0, c0 + w), w <= LG_ASSIGN_COLS: rows visited in order. */
__attribute__((target_clones("avx512f", "arch=haswell", "default")))
static void lg_col_lse(const float *restrict S, int64_t n, int64_t lds, int64_t c0, int64_t w,
                       float *restrict out) {
    float cmax[LG_ASSIGN_COLS], csum[LG_ASSIGN_COLS];
    for (int64_t j = 0; j < w; j++) { cmax[j] = -INFINITY; csum[j] = 0.0f; }
    for (int64_t i = 0; i < n; i++) {
        const float *restrict r = S + i * lds + c0;
        for (int64_t j = 0; j < w; j++) cmax[j] = r[j] > cmax[j] ? r[j] : cmax[j];
    }
    const int64_t w16 = w / 16 * 16;
    for (int64_t i = 0; i < n; i++) {
        const float *restrict r = S + i * lds + c0;
        for (int64_t j = 0; j < w16; j += 16) {
            float buf[16];
            for (int k = 0; k < 16; k++) buf[k] = r[j + k] - cmax[j + k];
            sg__exp16(buf);
            for (int k = 0; k < 16; k++) csum[j + k] += buf[k];
        }
        for (int64_t j = w16; j < w; j++) csum[j] += expf(r[j] - cmax[j]);
    }
    for (int64_t j = 0; j < w; j++) out[j] = cmax[j] + logf(csum[j]);
}

sg_status sg_lightglue_log_double_softmax(const float *sim, int64_t n, int64_t m, int64_t lds,
                                          const float *z0, const float *z1, float *out,
                                          int64_t ldo, int32_t n_threads) {
    if (!sim || !z0 || !z1 || !out) return SG_ERR_NULL;
    if (n < 1 || m < 1) return SG_ERR_SIZE;
    if (lds < m || ldo < m + 1) return SG_ERR_SHAPE;
    if (lds > INT64_MAX / n || ldo > INT64_MAX / (n + 1)) return SG_ERR_SIZE;
    if (!sg__rows_finite(sim, n, m, lds) || !sg__rows_finite(z0, 1, n, n) || !sg__rows_finite(z1, 1, m, m))
        return SG_ERR_NONFINITE;
    float *row_lse = malloc((size_t)(n + 2 * m) * sizeof(float));
    if (!row_lse) return SG_ERR_ALLOC;
    float *col_lse = row_lse + n, *ls1 = col_lse + m;
    const int nt = sg__threads(n_threads);
    const int64_t cblocks = (m + LG_ASSIGN_COLS - 1) / LG_ASSIGN_COLS;
    #pragma omp parallel num_threads(nt) if(n * m > ((int64_t)1 << 15))
    {
        float buf[16];
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) row_lse[i] = lg_row_lse(sim + i * lds, m, buf);
        #pragma omp for schedule(static, 1)
        for (int64_t b = 0; b < cblocks; b++) {
            const int64_t c0 = b * LG_ASSIGN_COLS;
            lg_col_lse(sim, n, lds, c0, m - c0 < LG_ASSIGN_COLS ? m - c0 : LG_ASSIGN_COLS, col_lse + c0);
        }
        #pragma omp for schedule(static)
        for (int64_t j = 0; j < m; j++) {
            ls1[j] = lg_log_sigmoid(z1[j]);
            out[n * ldo + j] = lg_log_sigmoid(-z1[j]);
        }
        #pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            const float *restrict s = sim + i * lds;
            float *restrict o = out + i * ldo;
            const float rl = row_lse[i], ls0 = lg_log_sigmoid(z0[i]);
            for (int64_t j = 0; j < m; j++) o[j] = ((s[j] - rl) + (s[j] - col_lse[j])) + (ls0 + ls1[j]);
            o[m] = lg_log_sigmoid(-z0[i]);
        }
    }
    out[n * ldo + m] = 0.0f;
    free(row_lse);
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Linear layer
 * ------------------------------------------------------------------------------------------- */

sg_status sg_lightglue_linear(const float *x, int64_t n, int64_t in_dim, int64_t ldx,
                              const float *weight, const float *bias, int64_t out_dim,
                              float *y, int64_t ldy, int32_t n_threads) {
    if (!x || !weight || !bias || !y) return SG_ERR_NULL;
    if (!lg_blas_ok(n) || !lg_blas_ok(in_dim) || !lg_blas_ok(out_dim)) return SG_ERR_SIZE;
    if (ldx < in_dim || ldy < out_dim) return SG_ERR_SHAPE;
    if (ldx > SG_BLAS_INT_MAX || ldy > SG_BLAS_INT_MAX) return SG_ERR_SIZE;
    if (!sg__rows_finite(x, n, in_dim, ldx) || !sg__rows_finite(weight, out_dim, in_dim, in_dim) ||
        !sg__rows_finite(bias, 1, out_dim, out_dim))
        return SG_ERR_NONFINITE;
    const int nt = sg__threads(n_threads);
    const int64_t blocks = (n + SG_GEMM_ROW_BLOCK - 1) / SG_GEMM_ROW_BLOCK;
    #pragma omp parallel for num_threads(nt) schedule(static, 1) if(blocks > 1 && nt > 1)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t r0 = b * SG_GEMM_ROW_BLOCK;
        const int64_t rows = n - r0 < SG_GEMM_ROW_BLOCK ? n - r0 : SG_GEMM_ROW_BLOCK;
        cblas_sgemm(SG_CBLAS_ROW_MAJOR, SG_CBLAS_NO_TRANS, SG_CBLAS_TRANS, (int)rows, (int)out_dim,
                    (int)in_dim, 1.0f, x + r0 * ldx, (int)ldx, weight, (int)in_dim, 0.0f,
                    y + r0 * ldy, (int)ldy);
        for (int64_t r = 0; r < rows; r++) {
            float *restrict yr = y + (r0 + r) * ldy;
            for (int64_t j = 0; j < out_dim; j++) yr[j] += bias[j];
        }
    }
    /* Finite inputs can still overflow to ±inf in the GEMM: an error, not a silent inf. */
    return sg__rows_finite(y, n, out_dim, ldy) ? SG_OK : SG_ERR_NONFINITE;
}
