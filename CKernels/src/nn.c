/* nn.c — dense building blocks of the attention networks: GEMM, linear layers, LayerNorm,
 * activations, row norms and orthogonal fusion.
 *
 * Check order everywhere: enum arguments, NULL pointers, sizes, strides, then NaN/Inf, so a call
 * with several problems reports the same status on every run. Row loops are parallel over rows;
 * each row is reduced serially in a fixed order, so results do not depend on the thread count.
 */
#include <float.h>

#include "internal.h"

/* Below this many elements a row loop stays serial: waking the OpenMP team costs more. */
#define SG_NN_PAR_MIN ((int64_t)1 << 15)

/* -std=c11 hides M_SQRT1_2. */
#define SG_INV_SQRT2 0.70710678118654752440f

/* 1 if every element of the rows x cols matrix (stride ld) is finite: sg__rows_finite's vector
 * check, on row ranges in parallel for large inputs (the outcome does not depend on the split). */
static int all_finite(const float *x, int64_t rows, int64_t cols, int64_t ld) {
    if (rows * cols <= SG_NN_PAR_MIN) return sg__rows_finite(x, rows, cols, ld);
    int bad = 0;
    #pragma omp parallel for reduction(|:bad) schedule(static)
    for (int64_t i = 0; i < rows; i++) bad |= sg_check_finite(x + i * ld, cols) != SG_OK;
    return !bad;
}

/* Sizes handed to BLAS must fit its int parameters. */
static int blas_size_ok(int64_t v) { return v >= 1 && v <= SG_BLAS_INT_MAX; }

sg_status sg_matmul(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K,
                    float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc, int32_t n_threads) {
    if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1)) return SG_ERR_ARGUMENT;
    if (!A || !B || !C) return SG_ERR_NULL;
    if (!blas_size_ok(M) || !blas_size_ok(N) || !blas_size_ok(K)) return SG_ERR_SIZE;
    /* Stored shapes: A is M x K (or K x M transposed), B is K x N (or N x K transposed). */
    int64_t a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    int64_t b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    if (lda < a_cols || ldb < b_cols || ldc < N) return SG_ERR_SHAPE;
    if (lda > SG_BLAS_INT_MAX || ldb > SG_BLAS_INT_MAX || ldc > SG_BLAS_INT_MAX) return SG_ERR_SIZE;
    if (!isfinite(alpha) || !isfinite(beta)) return SG_ERR_NONFINITE;
    if (!all_finite(A, a_rows, a_cols, lda) || !all_finite(B, b_rows, b_cols, ldb))
        return SG_ERR_NONFINITE;
    /* C is only an input when beta != 0 (BLAS never reads it otherwise). */
    if (beta != 0.0f && !all_finite(C, M, N, ldc)) return SG_ERR_NONFINITE;

    sg__gemm_row_blocks(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, n_threads);
    return SG_OK;
}

sg_status sg_linear(const float *x, int64_t n, int64_t in_dim, int64_t ldx,
                    const float *weight, const float *bias, int64_t out_dim,
                    float *y, int64_t ldy, int32_t n_threads) {
    if (!x || !weight || !y) return SG_ERR_NULL;
    if (!blas_size_ok(n) || !blas_size_ok(in_dim) || !blas_size_ok(out_dim)) return SG_ERR_SIZE;
    if (ldx < in_dim || ldy < out_dim) return SG_ERR_SHAPE;
    if (ldx > SG_BLAS_INT_MAX || ldy > SG_BLAS_INT_MAX) return SG_ERR_SIZE;
    if (!all_finite(x, n, in_dim, ldx) || !all_finite(weight, out_dim, in_dim, in_dim) ||
        (bias && !all_finite(bias, 1, out_dim, out_dim)))
        return SG_ERR_NONFINITE;

    /* W is out_dim x in_dim, so x W^T is the NoTrans x Trans product with ldb = in_dim. */
    sg__gemm_row_blocks(0, 1, n, out_dim, in_dim, 1.0f, x, ldx, weight, in_dim, 0.0f, y, ldy, n_threads);
    if (bias) {
        #pragma omp parallel for num_threads(sg__threads(n_threads)) schedule(static) if(n * out_dim > SG_NN_PAR_MIN)
        for (int64_t i = 0; i < n; i++) {
            float *r = y + i * ldy;
            for (int64_t j = 0; j < out_dim; j++) r[j] += bias[j];
        }
    }
    return SG_OK;
}

/* eps must be positive and finite; anything else is SG_ERR_ARGUMENT (it is a hyper-parameter,
 * not input data, so SG_ERR_NONFINITE would misdirect). */
static int eps_ok(float eps) { return eps > 0.0f && eps <= FLT_MAX; }

sg_status sg_layer_norm(const float *x, int64_t n, int64_t d, int64_t ldx,
                        const float *gamma, const float *beta, float eps,
                        float *y, int64_t ldy, int32_t n_threads) {
    if (!x || !y) return SG_ERR_NULL;
    if (n < 1 || d < 1) return SG_ERR_SIZE;
    if (ldx < d || ldy < d) return SG_ERR_SHAPE;
    /* In place only row-for-row: with different strides row i of y would overwrite x rows that
     * are still unread. */
    if (x == y && ldx != ldy) return SG_ERR_SHAPE;
    if (ldx > INT64_MAX / n || ldy > INT64_MAX / n) return SG_ERR_SIZE;
    if (!eps_ok(eps)) return SG_ERR_ARGUMENT;
    if (!all_finite(x, n, d, ldx) || (gamma && !all_finite(gamma, 1, d, d)) ||
        (beta && !all_finite(beta, 1, d, d)))
        return SG_ERR_NONFINITE;

    int nt = sg__threads(n_threads);
    #pragma omp parallel for num_threads(nt) schedule(static) if(n * d > SG_NN_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float *xr = x + i * ldx;
        float *yr = y + i * ldy;
        /* Two passes in double: the centred variance avoids the cancellation of E[x^2] - E[x]^2
         * on rows with a large mean. */
        double mean = 0.0;
        for (int64_t j = 0; j < d; j++) mean += xr[j];
        mean /= (double)d;
        double var = 0.0;
        for (int64_t j = 0; j < d; j++) {
            double c = (double)xr[j] - mean;
            var += c * c;
        }
        var /= (double)d;
        double inv = 1.0 / sqrt(var + (double)eps);
        /* Each y[j] is written after x[j] is read, which is what makes y == x safe. */
        for (int64_t j = 0; j < d; j++) {
            double v = ((double)xr[j] - mean) * inv;
            if (gamma) v *= gamma[j];
            if (beta) v += beta[j];
            yr[j] = (float)v;
        }
    }
    return SG_OK;
}

/* count == 0 is a no-op (x may then be NULL) so empty tensors need no special case upstream.
 * NaN/Inf are rejected like any other input: ReLU would otherwise silently map NaN to 0. */
sg_status sg_activate(float *x, int64_t count, sg_activation act, int32_t n_threads) {
    if (act != SG_ACT_RELU && act != SG_ACT_GELU) return SG_ERR_ARGUMENT;
    if (count < 0) return SG_ERR_SIZE;
    if (count == 0) return SG_OK;
    if (!x) return SG_ERR_NULL;
    if (!all_finite(x, 1, count, count)) return SG_ERR_NONFINITE;

    int nt = sg__threads(n_threads);
    int par = count > SG_NN_PAR_MIN;
    if (act == SG_ACT_RELU) {
        #pragma omp parallel for num_threads(nt) schedule(static) if(par)
        for (int64_t i = 0; i < count; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
    } else {
        #pragma omp parallel for num_threads(nt) schedule(static) if(par)
        for (int64_t i = 0; i < count; i++) {
            float v = x[i];
            x[i] = 0.5f * v * (1.0f + erff(v * SG_INV_SQRT2));
        }
    }
    return SG_OK;
}

sg_status sg_row_norms(const float *x, int64_t n, int64_t d, int64_t ldx, float *out) {
    if (!x || !out) return SG_ERR_NULL;
    if (n < 1 || d < 1) return SG_ERR_SIZE;
    if (ldx < d) return SG_ERR_SHAPE;
    if (ldx > INT64_MAX / n) return SG_ERR_SIZE;
    if (!all_finite(x, n, d, ldx)) return SG_ERR_NONFINITE;

    #pragma omp parallel for schedule(static) if(n * d > SG_NN_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float *r = x + i * ldx;
        out[i] = (float)sqrt(sg__dot_exact(r, r, d));
    }
    return SG_OK;
}

/* g1 may alias f1 or f2 (same stride): each row's dots are finished before the row is written,
 * and g1[j] is written after f1[j] and f2[j] are read. abs_cos must not overlap the inputs. */
sg_status sg_orthogonal_fusion(const float *f1, const float *f2, int64_t n, int64_t d,
                               int64_t ld, float eps, float *g1, float *abs_cos, int32_t n_threads) {
    if (!f1 || !f2 || !g1) return SG_ERR_NULL;
    if (n < 1 || d < 1) return SG_ERR_SIZE;
    if (ld < d) return SG_ERR_SHAPE;
    if (ld > INT64_MAX / n) return SG_ERR_SIZE;
    if (!eps_ok(eps)) return SG_ERR_ARGUMENT;
    if (!all_finite(f1, n, d, ld) || !all_finite(f2, n, d, ld)) return SG_ERR_NONFINITE;

    int nt = sg__threads(n_threads);
    #pragma omp parallel for num_threads(nt) schedule(static) if(n * d > SG_NN_PAR_MIN)
    for (int64_t i = 0; i < n; i++) {
        const float *a = f1 + i * ld, *b = f2 + i * ld;
        /* Finite floats squared and summed stay far inside double's range, so none of these can
         * overflow; with eps > 0 the divisions below are never 0/0. */
        double dot = sg__dot_exact(a, b, d);
        double n1 = sg__dot_exact(a, a, d);
        double n2 = sg__dot_exact(b, b, d);
        double coef = dot / (n2 + (double)eps);
        if (abs_cos) {
            double denom = sqrt(n1) * sqrt(n2);
            if (denom < (double)eps) denom = (double)eps;
            double c = fabs(dot) / denom;
            /* Rounding can push |cos| of (anti)parallel rows a hair above 1. */
            abs_cos[i] = (float)(c > 1.0 ? 1.0 : c);
        }
        float *g = g1 + i * ld;
        for (int64_t j = 0; j < d; j++) g[j] = (float)((double)a[j] - coef * (double)b[j]);
    }
    return SG_OK;
}
