/* gemm.c — the one way kernels call cblas_sgemm.
 *
 * Output rows are split into blocks of a fixed size (never derived from the thread count) and
 * each block is one sgemm call made by one OpenMP thread. A row's value therefore comes from the
 * same call shape whatever n_threads is, so results do not depend on it — provided OpenBLAS itself
 * runs single-threaded (sg_blas_set_num_threads(1)): its own threading changes rounding with its
 * thread count (measured with its Haswell kernels) and would compete with OpenMP for the cores.
 * Measured on 2 cores, 2048×2048×256: fixed blocks on 2 OpenMP threads 6.61 ms vs OpenBLAS's own 2
 * threads 6.71 ms (SkylakeX kernels), 12.4 vs 11.1 ms (Haswell kernels). */
#include "internal.h"

void sg__gemm_row_blocks(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K,
                         float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                         float beta, float *C, int64_t ldc, int32_t n_threads) {
    const int64_t blocks = (M + SG_GEMM_ROW_BLOCK - 1) / SG_GEMM_ROW_BLOCK;
    const int nt = sg__threads(n_threads);
    #pragma omp parallel for num_threads(nt) schedule(static, 1) if(blocks > 1 && nt > 1)
    for (int64_t b = 0; b < blocks; b++) {
        const int64_t r0 = b * SG_GEMM_ROW_BLOCK;
        const int64_t rows = M - r0 < SG_GEMM_ROW_BLOCK ? M - r0 : SG_GEMM_ROW_BLOCK;
        /* Rows r0.. of op(A): rows of A, or columns of A when it is transposed. */
        const float *a = trans_a ? A + r0 : A + r0 * lda;
        cblas_sgemm(SG_CBLAS_ROW_MAJOR, trans_a ? SG_CBLAS_TRANS : SG_CBLAS_NO_TRANS,
                    trans_b ? SG_CBLAS_TRANS : SG_CBLAS_NO_TRANS, (int)rows, (int)N, (int)K, alpha,
                    a, (int)lda, B, (int)ldb, beta, C + r0 * ldc, (int)ldc);
    }
}
