/* reference.c — plain, single-threaded reference twins used by the tests.
 *
 * Written for obviousness, not speed: textbook formulas, double accumulation, no blocking, no
 * online rescaling, so that a disagreement with an optimised kernel points at the kernel. */
#include "internal.h"

/* Defined in attention.c: the same argument checks as the optimised kernels, so both reject the
 * same inputs with the same status. */
__attribute__((visibility("hidden")))
sg_status sg__attention_check(const float *Q, int64_t n, int64_t ldq, const float *K, int64_t ldk,
                              const float *V, int64_t ldv, int64_t m, int64_t d, int64_t heads,
                              float scale, const float *O, int64_t ldo, int32_t n_threads);

sg_status sg_attention_sparse_ref(const float *Q, int64_t n, int64_t ldq,
                                  const float *K, int64_t ldk, const float *V, int64_t ldv,
                                  int64_t m, int64_t d, int64_t heads, float scale,
                                  const int64_t *row_ptr, const int32_t *col_idx,
                                  float *O, int64_t ldo, float *weights) {
    if (!row_ptr) return SG_ERR_NULL;
    sg_status st = sg__attention_check(Q, n, ldq, K, ldk, V, ldv, m, d, heads, scale, O, ldo, 1);
    if (st != SG_OK) return st;
    st = sg_csr_validate(n, m, row_ptr, col_idx);
    if (st != SG_OK) return st;
    if (weights && row_ptr[n] > INT64_MAX / heads) return SG_ERR_SIZE;

    const int64_t dh = d / heads;
    int64_t max_deg = 0;
    for (int64_t i = 0; i < n; i++)
        if (row_ptr[i + 1] - row_ptr[i] > max_deg) max_deg = row_ptr[i + 1] - row_ptr[i];
    double *s = malloc((size_t)(max_deg > 0 ? max_deg : 1) * sizeof(double));
    double *acc = malloc((size_t)dh * sizeof(double));
    if (!s || !acc) {
        free(s);
        free(acc);
        return SG_ERR_ALLOC;
    }

    for (int64_t i = 0; i < n; i++) {
        const int64_t begin = row_ptr[i], deg = row_ptr[i + 1] - begin;
        for (int64_t h = 0; h < heads; h++) {
            const float *q = Q + i * ldq + h * dh;
            float *o = O + i * ldo + h * dh;
            if (deg == 0) {
                for (int64_t t = 0; t < dh; t++) o[t] = 0.0f;
                continue;
            }
            /* Pass 1: scores and their max. */
            double mx = -INFINITY;
            for (int64_t e = 0; e < deg; e++) {
                const float *k = K + (int64_t)col_idx[begin + e] * ldk + h * dh;
                s[e] = (double)scale * sg__dot_exact(q, k, dh);
                if (s[e] > mx) mx = s[e];
            }
            /* Pass 2: normaliser, then the weighted sum of values. */
            double sum = 0.0;
            for (int64_t e = 0; e < deg; e++) {
                s[e] = exp(s[e] - mx);
                sum += s[e];
            }
            for (int64_t t = 0; t < dh; t++) acc[t] = 0.0;
            for (int64_t e = 0; e < deg; e++) {
                const double p = s[e] / sum;
                const float *v = V + (int64_t)col_idx[begin + e] * ldv + h * dh;
                for (int64_t t = 0; t < dh; t++) acc[t] += p * (double)v[t];
                if (weights) weights[(begin + e) * heads + h] = (float)p;
            }
            for (int64_t t = 0; t < dh; t++) o[t] = (float)acc[t];
        }
    }
    free(s);
    free(acc);
    return SG_OK;
}
