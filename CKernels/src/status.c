/* status.c — status strings, version and thread control. */
#include "internal.h"

const char *sg_status_string(sg_status status) {
    switch (status) {
    case SG_OK: return "ok";
    case SG_ERR_NULL: return "a required pointer is NULL";
    case SG_ERR_SIZE: return "a size or count is out of range";
    case SG_ERR_SHAPE: return "inconsistent shapes or strides";
    case SG_ERR_NONFINITE: return "input contains NaN or Inf";
    case SG_ERR_GRAPH: return "malformed CSR graph";
    case SG_ERR_CAPACITY: return "output buffer too small";
    case SG_ERR_ALLOC: return "out of memory for scratch buffers";
    case SG_ERR_ARGUMENT: return "invalid argument";
    }
    return "unknown status";
}

const char *sg_version(void) { return "0.1.0"; }

int32_t sg_max_threads(void) { return (int32_t)omp_get_max_threads(); }

sg_status sg_set_default_threads(int32_t n) {
    if (n < 1) return SG_ERR_SIZE;
    omp_set_num_threads((int)n);
    return SG_OK;
}

sg_status sg_blas_set_num_threads(int32_t n) {
    if (n < 1) return SG_ERR_SIZE;
    openblas_set_num_threads((int)n);
    return SG_OK;
}

int32_t sg_blas_num_threads(void) { return (int32_t)openblas_get_num_threads(); }

const char *sg_blas_core_name(void) {
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

sg_status sg_check_finite(const float *x, int64_t count) {
    if (count < 0) return SG_ERR_SIZE;
    if (count > 0 && !x) return SG_ERR_NULL;
    /* x*0 is 0 for finite x and NaN for NaN/Inf, so summing it detects both without a branch per
     * element. Sixteen independent lanes let the compiler vectorise the loop (one running sum
     * cannot be reordered without -ffast-math); this check runs on every kernel input. */
    float lanes[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= count; i += 16)
        for (int l = 0; l < 16; l++) lanes[l] += x[i + l] * 0.0f;
    float acc = 0.0f;
    for (; i < count; i++) acc += x[i] * 0.0f;
    for (int l = 0; l < 16; l++) acc += lanes[l];
    return acc == 0.0f ? SG_OK : SG_ERR_NONFINITE;
}
