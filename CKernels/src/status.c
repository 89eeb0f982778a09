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
    if (n < 1 || n > SG_MAX_THREADS) return SG_ERR_SIZE;
    omp_set_num_threads((int)n);
    return SG_OK;
}

sg_status sg_blas_set_num_threads(int32_t n) {
    if (n < 1 || n > SG_MAX_THREADS) return SG_ERR_SIZE;
    openblas_set_num_threads((int)n);
    return SG_OK;
}

int32_t sg_blas_num_threads(void) { return (int32_t)openblas_get_num_threads(); }

const char *sg_blas_core_name(void) {
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

/* 16 floats: one zmm, two ymm or four xmm register(s), depending on the clone being compiled. */
typedef float sg__v16f __attribute__((vector_size(64)));

/* x * 0 is 0 for finite x and NaN for NaN / Inf, so summing it detects both without a branch per
 * element. Generic vectors and four independent sums make the loop run at load speed rather than
 * at the latency of one chain of adds (one running sum cannot be reordered without -ffast-math);
 * this check reads every input of every kernel. */
__attribute__((target_clones("avx512f", "arch=haswell", "default")))
sg_status sg_check_finite(const float *x, int64_t count) {
    if (count < 0) return SG_ERR_SIZE;
    if (count > 0 && !x) return SG_ERR_NULL;
    sg__v16f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int64_t i = 0;
    for (; i + 64 <= count; i += 64) {
        sg__v16f v0, v1, v2, v3;
        memcpy(&v0, x + i, sizeof v0);
        memcpy(&v1, x + i + 16, sizeof v1);
        memcpy(&v2, x + i + 32, sizeof v2);
        memcpy(&v3, x + i + 48, sizeof v3);
        a0 += v0 * 0.0f;
        a1 += v1 * 0.0f;
        a2 += v2 * 0.0f;
        a3 += v3 * 0.0f;
    }
    for (; i + 16 <= count; i += 16) {
        sg__v16f v;
        memcpy(&v, x + i, sizeof v);
        a0 += v * 0.0f;
    }
    a0 += a1 + (a2 + a3);
    float acc = 0.0f;
    for (; i < count; i++) acc += x[i] * 0.0f;
    for (int l = 0; l < 16; l++) acc += a0[l];
    return acc == 0.0f ? SG_OK : SG_ERR_NONFINITE;
}

int sg__rows_finite(const float *x, int64_t rows, int64_t cols, int64_t ld) {
    if (rows <= 0 || cols <= 0) return 1;
    if (ld == cols) return sg_check_finite(x, rows * cols) == SG_OK;
    for (int64_t i = 0; i < rows; i++)
        if (sg_check_finite(x + i * ld, cols) != SG_OK) return 0;
    return 1;
}
