/* internal.h — declarations shared by the kernel sources; not part of the ABI.
 *
 * Swift's bundled clang ships no omp.h and Debian's cblas.h lives on an alternatives path, so the
 * few OpenMP, CBLAS and OpenBLAS entry points we use are declared here (their ABI is stable). */
#ifndef SPARSEGLUE_INTERNAL_H
#define SPARSEGLUE_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sparseglue_kernels.h"

/* OpenMP runtime (libomp). Use only schedule(static[, chunk]) in kernels: Swift's clang 21 lowers
 * schedule(dynamic / guided / runtime) to __kmpc_dispatch_deinit, which Debian's libomp 14 lacks,
 * so such a loop fails to link. Small static chunks give the load balance we need (rows are
 * interleaved across threads). */
int omp_get_max_threads(void);
int omp_get_thread_num(void);
int omp_get_num_threads(void);
void omp_set_num_threads(int n);

/* CBLAS (OpenBLAS). Enum values are fixed by the CBLAS standard. */
enum { SG_CBLAS_ROW_MAJOR = 101, SG_CBLAS_NO_TRANS = 111, SG_CBLAS_TRANS = 112 };
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

/* C = alpha op(A) op(B) + beta C with rows split into fixed SG_GEMM_ROW_BLOCK blocks, one sgemm
 * call per block on OpenMP threads (see gemm.c for why). Arguments must already be validated. */
#define SG_GEMM_ROW_BLOCK 128
void sg__gemm_row_blocks(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K,
                         float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                         float beta, float *C, int64_t ldc, int32_t n_threads);

/* The thread count a kernel uses: n_threads <= 0 means the OpenMP default. */
static inline int sg__threads(int32_t n_threads) {
    const int n = n_threads > 0 ? (int)n_threads : omp_get_max_threads();
    return n > SG_MAX_THREADS ? SG_MAX_THREADS : n;
}

/* 1 if every element of the rows x cols matrix (stride ld) is finite: sg_check_finite's vector
 * sums over the whole block when it is contiguous, else row by row (the gaps between rows of a
 * strided matrix may hold anything). Serial; the one strided check behind every kernel's inputs. */
int sg__rows_finite(const float *x, int64_t rows, int64_t cols, int64_t ld);

/* Largest value accepted for sizes passed to BLAS (int parameters). */
#define SG_BLAS_INT_MAX ((int64_t)2147483647)

/* Exact squared L2 distance: accumulated in double, rounded once. Every k-NN path (grid, GEMM
 * re-rank, reference) uses this one function so their results agree bit for bit. */
static inline float sg__dist2_exact(const float *a, const float *b, int64_t dim) {
    double s = 0.0;
    for (int64_t t = 0; t < dim; t++) {
        double diff = (double)a[t] - (double)b[t];
        s += diff * diff;
    }
    return (float)s;
}

static inline double sg__dot_exact(const float *a, const float *b, int64_t dim) {
    double s = 0.0;
    for (int64_t t = 0; t < dim; t++) s += (double)a[t] * (double)b[t];
    return s;
}

/* A bounded "keep the k best" heap over (key, index) pairs; smaller key is better, ties go to the
 * lower index. The worst kept pair sits at the root so a candidate is tested in O(1). */
typedef struct sg__topk {
    float *key;
    int32_t *idx;
    int64_t size;
    int64_t cap;
} sg__topk;

/* 1 if (ka, ia) ranks worse than (kb, ib). */
static inline int sg__worse(float ka, int32_t ia, float kb, int32_t ib) {
    return ka > kb || (ka == kb && ia > ib);
}

static inline void sg__topk_init(sg__topk *h, float *key, int32_t *idx, int64_t cap) {
    h->key = key; h->idx = idx; h->size = 0; h->cap = cap;
}

static inline void sg__topk_sift_down(sg__topk *h, int64_t i) {
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < h->size && sg__worse(h->key[l], h->idx[l], h->key[w], h->idx[w])) w = l;
        if (r < h->size && sg__worse(h->key[r], h->idx[r], h->key[w], h->idx[w])) w = r;
        if (w == i) return;
        float tk = h->key[i]; h->key[i] = h->key[w]; h->key[w] = tk;
        int32_t ti = h->idx[i]; h->idx[i] = h->idx[w]; h->idx[w] = ti;
        i = w;
    }
}

/* Offers (key, index); keeps it if the heap is not full or it beats the current worst. */
static inline void sg__topk_push(sg__topk *h, float key, int32_t index) {
    if (h->size < h->cap) {
        int64_t i = h->size++;
        h->key[i] = key; h->idx[i] = index;
        while (i > 0) {
            int64_t p = (i - 1) / 2;
            if (!sg__worse(h->key[i], h->idx[i], h->key[p], h->idx[p])) break;
            float tk = h->key[i]; h->key[i] = h->key[p]; h->key[p] = tk;
            int32_t ti = h->idx[i]; h->idx[i] = h->idx[p]; h->idx[p] = ti;
            i = p;
        }
    } else if (h->cap > 0 && sg__worse(h->key[0], h->idx[0], key, index)) {
        h->key[0] = key; h->idx[0] = index;
        sg__topk_sift_down(h, 0);
    }
}

/* Sorts the kept pairs best first (in place, heap order is destroyed). */
static inline void sg__topk_sort(sg__topk *h) {
    int64_t n = h->size;
    while (h->size > 1) {
        int64_t last = h->size - 1;
        float tk = h->key[0]; h->key[0] = h->key[last]; h->key[last] = tk;
        int32_t ti = h->idx[0]; h->idx[0] = h->idx[last]; h->idx[last] = ti;
        h->size--;
        sg__topk_sift_down(h, 0);
    }
    h->size = n;
}

#endif
