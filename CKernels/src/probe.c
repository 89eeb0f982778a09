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
