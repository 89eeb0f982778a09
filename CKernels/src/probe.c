/* probe.c — the memory-bandwidth probe behind the benchmarks' roofline figures. */
#include "internal.h"

sg_status sg_stream_triad(float *restrict a, const float *restrict b, const float *restrict c,
                          int64_t n, float s, int32_t n_threads) {
    if (n < 1) return SG_ERR_SIZE;
    if (!a || !b || !c) return SG_ERR_NULL;
    const int nt = sg__threads(n_threads);
    /* Static schedule: each thread streams one contiguous block, the access pattern STREAM uses. */
    #pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
    return SG_OK;
}

sg_status sg_probe_sgemm(const float *A, const float *B, float *C, int64_t n, int32_t n_threads) {
    if (n < 1 || n > SG_BLAS_INT_MAX) return SG_ERR_SIZE;
    if (!A || !B || !C) return SG_ERR_NULL;
    const int before = openblas_get_num_threads();
    openblas_set_num_threads(sg__threads(n_threads));
    cblas_sgemm(SG_CBLAS_ROW_MAJOR, SG_CBLAS_NO_TRANS, SG_CBLAS_NO_TRANS, (int)n, (int)n, (int)n,
                1.0f, A, (int)n, B, (int)n, 0.0f, C, (int)n);
    openblas_set_num_threads(before);
    return SG_OK;
}
