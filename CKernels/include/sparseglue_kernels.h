/*
 * sparseglue_kernels.h — the C ABI of SparseGlue's compute kernels.
 *
 * Usage:
 *   int32_t idx[N * K]; float d2[N * K];
 *   sg_status s = sg_knn_l2(pts, N, 2, pts, N, 2, 2, K, 1, idx, d2, 0);
 *   if (s != SG_OK) fprintf(stderr, "%s\n", sg_status_string(s));
 *
 * Conventions (all functions):
 *  - Every function returns an sg_status; outputs are written only through the caller's buffers.
 *  - Matrices are row-major float32. `ld*` is the row stride in elements (>= the row length).
 *  - Sizes are int64_t; node indices are int32_t (graphs hold < 2^31 nodes); CSR row pointers
 *    are int64_t (a complete graph on 65536 nodes has 2^32 edges).
 *  - `n_threads` <= 0 means "the OpenMP default" (omp_get_max_threads()). Results never depend on
 *    it: every reduction has a fixed order and ties are broken by the lower index.
 *  - No hidden global state. Kernels that call BLAS split their output rows into fixed blocks and
 *    make one sgemm call per block from OpenMP threads. Run OpenBLAS single-threaded
 *    (sg_blas_set_num_threads(1), process-global in OpenBLAS; the Swift layer does this) so its
 *    threads neither compete with OpenMP's nor change rounding with their count.
 *  - Inputs are checked (NULL, sizes, strides, NaN/Inf, CSR shape) before any output is written;
 *    a failed call leaves outputs unspecified but never reads or writes out of bounds.
 *  - Functions ending in `_ref` are plain, single-threaded reference twins used by the tests.
 */
#ifndef SPARSEGLUE_KERNELS_H
#define SPARSEGLUE_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#define SG_RESTRICT
#else
#define SG_RESTRICT restrict
#endif

typedef enum sg_status {
    SG_OK = 0,
    SG_ERR_NULL = 1,       /* a required pointer is NULL */
    SG_ERR_SIZE = 2,       /* a size or count is out of range (n <= 0, k < 1, k too large, ...) */
    SG_ERR_SHAPE = 3,      /* inconsistent shapes: stride < row length, heads not dividing d, ... */
    SG_ERR_NONFINITE = 4,  /* NaN or Inf in an input */
    SG_ERR_GRAPH = 5,      /* malformed CSR graph */
    SG_ERR_CAPACITY = 6,   /* an output buffer is smaller than the result */
    SG_ERR_ALLOC = 7,      /* scratch memory could not be allocated */
    SG_ERR_ARGUMENT = 8    /* another invalid argument (unknown enum value, negative weight, ...) */
} sg_status;

/* A static, human-readable description of a status code. Never NULL. */
const char *sg_status_string(sg_status status);

/* Version of the kernel library, "MAJOR.MINOR.PATCH". */
const char *sg_version(void);

/* ---------------------------------------------------------------------------------------------
 * Threads
 * ------------------------------------------------------------------------------------------- */

/* omp_get_max_threads(): the default used when a kernel is passed n_threads <= 0. */
int32_t sg_max_threads(void);
/* Most threads a kernel starts: an explicit n_threads above it is clamped to it (results do not
 * depend on the thread count; asking the OpenMP runtime for far more threads than it can create
 * aborts the process instead of failing). */
#define SG_MAX_THREADS 1024
/* Sets OpenMP's default thread count for this process (omp_set_num_threads).
 * 1 <= n <= SG_MAX_THREADS, else SG_ERR_SIZE. */
sg_status sg_set_default_threads(int32_t n);
/* OpenBLAS's (process-global) thread count. n >= 1. */
sg_status sg_blas_set_num_threads(int32_t n);
int32_t sg_blas_num_threads(void);
/* OpenBLAS's detected core type, e.g. "Haswell" or "SkylakeX". Never NULL. */
const char *sg_blas_core_name(void);

/* Machine probe: the STREAM triad a[i] = b[i] + s * c[i] over n floats, OpenMP-parallel with a
 * static schedule. It moves 12 n bytes; benchmarks time it to find the memory roof. */
sg_status sg_stream_triad(float *SG_RESTRICT a, const float *SG_RESTRICT b, const float *SG_RESTRICT c,
                          int64_t n, float s, int32_t n_threads);

/* Machine probe: C = A B for n x n matrices as ONE cblas_sgemm call on n_threads OpenBLAS threads
 * (OpenBLAS's best case, the roof benchmarks compare against). It changes OpenBLAS's
 * process-global thread count for the call and restores it: call it from a quiet process. */
sg_status sg_probe_sgemm(const float *A, const float *B, float *C, int64_t n, int32_t n_threads);

/* ---------------------------------------------------------------------------------------------
 * Checks and dense helpers
 * ------------------------------------------------------------------------------------------- */

/* SG_OK if all `count` values are finite, SG_ERR_NONFINITE otherwise. */
sg_status sg_check_finite(const float *x, int64_t count);

/* C = alpha * op(A) * op(B) + beta * C through cblas_sgemm; op(A) is M x K, op(B) is K x N.
 * trans_a / trans_b: 0 = as stored, 1 = transposed. Rows of C are computed in fixed blocks of
 * 128 spread over n_threads OpenMP threads, one sgemm call per block, so with OpenBLAS
 * single-threaded (sg_blas_set_num_threads(1)) results do not depend on n_threads. */
sg_status sg_matmul(int32_t trans_a, int32_t trans_b, int64_t M, int64_t N, int64_t K,
                    float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float beta, float *C, int64_t ldc, int32_t n_threads);

/* y (n x out_dim) = x (n x in_dim) * W^T + b, with W stored out_dim x in_dim (PyTorch layout).
 * `bias` may be NULL. Row blocks as in sg_matmul. */
sg_status sg_linear(const float *x, int64_t n, int64_t in_dim, int64_t ldx,
                    const float *weight, const float *bias, int64_t out_dim,
                    float *y, int64_t ldy, int32_t n_threads);

/* Row-wise LayerNorm: y = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance).
 * gamma / beta may be NULL (1 / 0). In place allowed (y == x with equal strides). */
sg_status sg_layer_norm(const float *x, int64_t n, int64_t d, int64_t ldx,
                        const float *gamma, const float *beta, float eps,
                        float *y, int64_t ldy, int32_t n_threads);

typedef enum sg_activation {
    SG_ACT_RELU = 0,
    SG_ACT_GELU = 1 /* exact: 0.5 x (1 + erf(x / sqrt 2)) */
} sg_activation;

/* In-place activation over `count` contiguous values. */
sg_status sg_activate(float *x, int64_t count, sg_activation act, int32_t n_threads);

/* out[i] = sqrt(sum_j x[i, j]^2) (accumulated in double). */
sg_status sg_row_norms(const float *x, int64_t n, int64_t d, int64_t ldx, float *out);

/* Orthogonal fusion, per row i:
 *   g1_i = f1_i - (<f1_i, f2_i> / (||f2_i||^2 + eps)) f2_i        (the part of f1 orthogonal to f2)
 *   abs_cos_i = |<f1_i, f2_i>| / max(||f1_i|| ||f2_i||, eps)        (0 when either row is zero)
 * eps > 0. `abs_cos` may be NULL. A zero f2 row gives g1 = f1 and abs_cos = 0, never NaN. */
sg_status sg_orthogonal_fusion(const float *f1, const float *f2, int64_t n, int64_t d,
                               int64_t ld, float eps, float *g1, float *abs_cos, int32_t n_threads);

/* ---------------------------------------------------------------------------------------------
 * k nearest neighbours and similarity top-k
 *
 * Queries A (n x dim, stride lda), references B (m x dim, stride ldb). For each query row i the
 * k best references are written to out_idx[i*k .. i*k+k) and their scores to out_*[...], best
 * first; ties are broken by the lower reference index, so results are deterministic.
 * exclude_diagonal = 1 (self graphs; requires A == B in meaning and n == m) skips reference i for
 * query i, so a point is never its own neighbour; duplicates of a point are still neighbours.
 * Requires 1 <= k <= m - exclude_diagonal.
 * ------------------------------------------------------------------------------------------- */

/* Exact k-NN under squared L2 distance (out_dist2 ascending, each computed exactly in double
 * and rounded to float). dim == 2 uses a uniform grid over B: O((n + m) log-ish) expected.
 * dim != 2 uses tiles of ||a||^2 + ||b||^2 - 2 A B^T from cblas_sgemm as a candidate filter
 * (never an n x m buffer), re-ranks the candidates exactly and falls back to an exact scan for a
 * row whose candidate set cannot be proven complete by the GEMM error bound. dim <= 4096. */
sg_status sg_knn_l2(const float *A, int64_t n, int64_t lda,
                    const float *B, int64_t m, int64_t ldb,
                    int64_t dim, int64_t k, int32_t exclude_diagonal,
                    int32_t *SG_RESTRICT out_idx, float *SG_RESTRICT out_dist2, int32_t n_threads);

/* Brute-force reference of sg_knn_l2: same results, bit for bit. */
sg_status sg_knn_l2_ref(const float *A, int64_t n, int64_t lda,
                        const float *B, int64_t m, int64_t ldb,
                        int64_t dim, int64_t k, int32_t exclude_diagonal,
                        int32_t *out_idx, float *out_dist2);

typedef enum sg_similarity {
    SG_SIM_DOT = 0,    /* <a, b> */
    SG_SIM_COSINE = 1  /* <a, b> / (||a|| ||b||); 0 when either vector is zero */
} sg_similarity;

/* Top-k most similar references (out_sim descending), exact scores in double rounded to float,
 * candidates found through cblas_sgemm tiles as in sg_knn_l2. */
sg_status sg_topk_similarity(const float *A, int64_t n, int64_t lda,
                             const float *B, int64_t m, int64_t ldb,
                             int64_t dim, int64_t k, sg_similarity metric, int32_t exclude_diagonal,
                             int32_t *SG_RESTRICT out_idx, float *SG_RESTRICT out_sim,
                             int32_t n_threads);

sg_status sg_topk_similarity_ref(const float *A, int64_t n, int64_t lda,
                                 const float *B, int64_t m, int64_t ldb,
                                 int64_t dim, int64_t k, sg_similarity metric,
                                 int32_t exclude_diagonal, int32_t *out_idx, float *out_sim);

/* ---------------------------------------------------------------------------------------------
 * CSR graphs
 *
 * A graph has n_rows rows (targets / queries) and n_cols columns (sources / keys). Row i's edges
 * are col_idx[row_ptr[i] .. row_ptr[i+1]); valid graphs have row_ptr[0] == 0, non-decreasing
 * row_ptr, and within each row strictly increasing column indices in [0, n_cols).
 * Functions producing a graph write out_row_ptr (n_rows + 1 entries) and up to `capacity`
 * column indices, set *out_nnz, and return SG_ERR_CAPACITY if capacity is too small (the
 * documented upper bound is always enough). Inputs are validated first (SG_ERR_GRAPH).
 * ------------------------------------------------------------------------------------------- */

sg_status sg_csr_validate(int64_t n_rows, int64_t n_cols,
                          const int64_t *row_ptr, const int32_t *col_idx);

/* From neighbour lists idx (n_rows x k, stride ldi); entries < 0 are skipped, duplicates merged.
 * Capacity bound: n_rows * k. */
sg_status sg_csr_from_neighbors(int64_t n_rows, int64_t n_cols, const int32_t *idx, int64_t k,
                                int64_t ldi, int64_t *out_row_ptr, int32_t *out_col_idx,
                                int64_t capacity, int64_t *out_nnz);

/* From an edge list (src[e] -> row, dst[e] -> column); duplicates merged. symmetric = 1 also adds
 * every reverse edge (square graphs only). Capacity bound: n_edges * (1 + symmetric). */
sg_status sg_csr_from_edges(int64_t n_rows, int64_t n_cols, const int32_t *rows,
                            const int32_t *cols, int64_t n_edges, int32_t symmetric,
                            int64_t *out_row_ptr, int32_t *out_col_idx, int64_t capacity,
                            int64_t *out_nnz);

/* Transpose: an n_cols x n_rows graph. Capacity bound: nnz. out_row_ptr has n_cols + 1 entries. */
sg_status sg_csr_transpose(int64_t n_rows, int64_t n_cols, const int64_t *row_ptr,
                           const int32_t *col_idx, int64_t *out_row_ptr, int32_t *out_col_idx,
                           int64_t capacity, int64_t *out_nnz);

/* A ∪ Aᵀ (square graphs). Capacity bound: 2 * nnz. */
sg_status sg_csr_symmetrize(int64_t n, const int64_t *row_ptr, const int32_t *col_idx,
                            int64_t *out_row_ptr, int32_t *out_col_idx, int64_t capacity,
                            int64_t *out_nnz, int32_t n_threads);

typedef enum sg_set_op {
    SG_SET_UNION = 0,        /* A ∪ B, capacity bound nnz(A) + nnz(B) */
    SG_SET_INTERSECTION = 1, /* A ∩ B, capacity bound min(nnz(A), nnz(B)) */
    SG_SET_DIFFERENCE = 2    /* A \ B, capacity bound nnz(A) */
} sg_set_op;

/* Row-wise set operation on two graphs with the same shape. */
sg_status sg_csr_set_op(sg_set_op op, int64_t n_rows, int64_t n_cols,
                        const int64_t *a_row_ptr, const int32_t *a_col_idx,
                        const int64_t *b_row_ptr, const int32_t *b_col_idx,
                        int64_t *out_row_ptr, int32_t *out_col_idx, int64_t capacity,
                        int64_t *out_nnz, int32_t n_threads);

/* Adds (add = 1, capacity bound nnz + n) or removes (add = 0, bound nnz) the edges i -> i of a
 * square graph. */
sg_status sg_csr_self_loops(int64_t n, const int64_t *row_ptr, const int32_t *col_idx, int32_t add,
                            int64_t *out_row_ptr, int32_t *out_col_idx, int64_t capacity,
                            int64_t *out_nnz, int32_t n_threads);

/* ---------------------------------------------------------------------------------------------
 * Graph constructions over point sets
 * ------------------------------------------------------------------------------------------- */

/* Equal partition of n points (dim coordinates, stride ld) into `groups` spatially compact groups
 * by recursive median bisection along the axis of largest spread. Group sizes are floor(n/groups)
 * or ceil(n/groups) exactly. out_group[i] in [0, groups). 1 <= groups <= n. */
sg_status sg_partition_equal(const float *points, int64_t n, int64_t dim, int64_t ld,
                             int64_t groups, int32_t *out_group);

/* Euclidean minimum spanning tree by Prim's algorithm on the complete graph: O(n^2 dim) time,
 * O(n) memory, ties broken by lower index. out_parent[root = 0] = -1; for i > 0 the tree edge is
 * (i, out_parent[i]) with length out_length[i] (out_length may be NULL). */
sg_status sg_mst_euclidean(const float *points, int64_t n, int64_t dim, int64_t ld,
                           int32_t *out_parent, float *out_length, int32_t n_threads);

/* Diverse neighbour selection. For each row i, from candidates cand_idx[i*ldc .. i*ldc+n_cand)
 * (sorted by distance, distances in cand_dist, entries < 0 ignored) pick k greedily, maximising
 *   alpha * closeness(j) - beta * redundancy(j)
 * closeness(j) = 1 - dist(j) / max_candidate_dist(i) (1 when all distances are 0);
 * redundancy(j) = max over already chosen c of cos(u_j, u_c), 0 for the first pick;
 * u_j = features[j] - features[i] when use_offsets = 1 (directions, for positions), or
 * u_j = features[j] (descriptors). Ties by lower candidate rank. Rows with fewer than k valid
 * candidates are padded with -1. alpha, beta >= 0. */
sg_status sg_diverse_neighbors(const float *features, int64_t n, int64_t f_dim, int64_t ldf,
                               int32_t use_offsets, const int32_t *cand_idx,
                               const float *cand_dist, int64_t n_cand, int64_t ldc, int64_t k,
                               float alpha, float beta, int32_t *out_idx, int32_t n_threads);

/* ---------------------------------------------------------------------------------------------
 * Multi-head attention
 *
 * Queries Q (n x d), keys K and values V (m x d); d = heads * dh, heads packed along features
 * (head h uses columns [h*dh, (h+1)*dh)). Output O (n x d). For row i and head h:
 *   O[i, h] = sum_j softmax_j(scale * <Q[i,h], K[j,h]>) V[j,h]
 * over the row's neighbours j (sparse), all j (dense) or the j with mask[i, j] != 0 (masked).
 * A row with no neighbours (or fully masked) gives zeros. Typical scale: 1 / sqrt(dh).
 * Q, K, V, O must not overlap O.
 * ------------------------------------------------------------------------------------------- */

/* CSR sparse attention, fused per row: scores are buffered for the row (never an n x m buffer),
 * softmax-normalised exactly (rows over 256 edges use an online rescale between blocks) and applied
 * to V in the same call; O(E d) work. weights (nnz x heads, may be NULL) receives each edge's
 * softmax weight per head. Renumbering nodes along sg_space_filling_order keeps gathered K / V rows
 * in cache. */
sg_status sg_attention_sparse(const float *Q, int64_t n, int64_t ldq,
                              const float *K, int64_t ldk, const float *V, int64_t ldv, int64_t m,
                              int64_t d, int64_t heads, float scale,
                              const int64_t *row_ptr, const int32_t *col_idx,
                              float *SG_RESTRICT O, int64_t ldo, float *SG_RESTRICT weights,
                              int32_t n_threads);

/* Plain reference of the attention above (two-pass softmax in double), over a CSR graph. */
sg_status sg_attention_sparse_ref(const float *Q, int64_t n, int64_t ldq,
                                  const float *K, int64_t ldk, const float *V, int64_t ldv,
                                  int64_t m, int64_t d, int64_t heads, float scale,
                                  const int64_t *row_ptr, const int32_t *col_idx,
                                  float *O, int64_t ldo, float *weights);

/* Dense attention over all n x m pairs with cblas_sgemm, processed in blocks of query rows so the
 * score scratch is O(block * m), not O(n * m). */
sg_status sg_attention_dense(const float *Q, int64_t n, int64_t ldq,
                             const float *K, int64_t ldk, const float *V, int64_t ldv, int64_t m,
                             int64_t d, int64_t heads, float scale,
                             float *SG_RESTRICT O, int64_t ldo, int32_t n_threads);

/* Masked dense attention: the dense computation with scores of pairs where mask[i*ldm + j] == 0
 * set to -inf before the softmax. Still O(n m d) work and an n x m mask: the baseline the sparse
 * kernel replaces. */
sg_status sg_attention_masked(const float *Q, int64_t n, int64_t ldq,
                              const float *K, int64_t ldk, const float *V, int64_t ldv, int64_t m,
                              int64_t d, int64_t heads, float scale,
                              const uint8_t *mask, int64_t ldm,
                              float *SG_RESTRICT O, int64_t ldo, int32_t n_threads);

/* Fills an n_rows x n_cols byte mask (stride ldm) from a CSR graph: 1 on edges, 0 elsewhere. */
sg_status sg_csr_to_mask(int64_t n_rows, int64_t n_cols, const int64_t *row_ptr,
                         const int32_t *col_idx, uint8_t *mask, int64_t ldm);

/* ---------------------------------------------------------------------------------------------
 * Node ordering
 * ------------------------------------------------------------------------------------------- */

/* A permutation of n 2-D points (x, y in the first two columns of each row, stride ld >= 2) along
 * a Hilbert curve: out_perm[r] is the index of the point visited r-th. Points are quantised to a
 * 2^16 x 2^16 grid of square cells over the larger side of their bounding box; points in one cell
 * keep ascending index order. Renumbering points in this order (new point r = old point
 * out_perm[r]) gives spatial neighbours nearby indices, so sparse attention over a k-NN graph
 * gathers K / V rows that are close in memory. Deterministic; O(n) time, O(n) scratch.
 * SG_ERR_NULL, SG_ERR_SIZE (n < 1 or n > INT32_MAX), SG_ERR_SHAPE (ld < 2), SG_ERR_NONFINITE. */
sg_status sg_space_filling_order(const float *points, int64_t n, int64_t ld, int32_t *out_perm);

/* ---------------------------------------------------------------------------------------------
 * LightGlue-specific kernels (CKernels/src/lightglue.c): fused pieces of LightGlue's dense layer.
 * ------------------------------------------------------------------------------------------- */

/* In place interleaved rotary encoding of the first `width` columns of x (n rows, stride ldx),
 * in chunks of dh columns (one head each; width a multiple of dh, dh even). Row i uses
 * cos_table / sin_table row i (dh / 2 values, stride ldr) on every chunk: for each pair
 * (2k, 2k + 1) of a chunk, (a, b) -> (a cos_k - b sin_k, b cos_k + a sin_k). */
sg_status sg_lightglue_rotary(float *x, int64_t n, int64_t width, int64_t ldx, int64_t dh,
                              const float *cos_table, const float *sin_table, int64_t ldr,
                              int32_t n_threads);

/* LightGlue's message update out = x + FFN([x | msg]) with
 *   FFN(z) = GELU(LayerNorm(z W1^T + b1)) W2^T + b2,  exact-erf GELU, LayerNorm(gamma, beta, eps),
 * x and msg n x d, W1 hidden x 2d, W2 d x hidden (PyTorch layouts), all biases / gamma / beta
 * required. Fused per block of 128 rows (no n x 2d concat, one pass for bias + LayerNorm + GELU;
 * LayerNorm statistics in double, erf a float approximation within about 1 ulp). out may alias x
 * (same stride), not msg. SG_ERR_NONFINITE also when finite inputs overflow (out then undefined). */
sg_status sg_lightglue_ffn(const float *x, int64_t ldx, const float *msg, int64_t ldm, int64_t n,
                           int64_t d, const float *w1, const float *b1, int64_t hidden,
                           const float *gamma, const float *beta, float eps, const float *w2,
                           const float *b2, float *out, int64_t ldo, int32_t n_threads);

/* LightGlue's match assignment (sigmoid log double softmax with dustbins). sim is n x m (stride
 * lds), z0 (n) and z1 (m) the matchability logits; out is (n + 1) x (m + 1) (stride ldo >= m + 1):
 *   out[i, j] = ((sim_ij - LSE_j' sim_ij') + (sim_ij - LSE_i' sim_i'j)) + (logσ(z0_i) + logσ(z1_j)),
 *   out[i, m] = logσ(-z0_i), out[n, j] = logσ(-z1_j), out[n, m] = 0.
 * Row and column log-sum-exps in float with a vectorised exp; columns in fixed blocks of 64. */
sg_status sg_lightglue_log_double_softmax(const float *sim, int64_t n, int64_t m, int64_t lds,
                                          const float *z0, const float *z1, float *out,
                                          int64_t ldo, int32_t n_threads);

/* y = x W^T + bias as sg_linear (the same fixed 128-row sgemm blocks, so the same results bit for
 * bit) with the bias added inside each block's task and one vectorised finiteness check: one
 * parallel region per call instead of four. bias is required. SG_ERR_NONFINITE also when finite
 * inputs overflow to ±inf. */
sg_status sg_lightglue_linear(const float *x, int64_t n, int64_t in_dim, int64_t ldx,
                              const float *weight, const float *bias, int64_t out_dim,
                              float *y, int64_t ldy, int32_t n_threads);

/* ----------------------------- end of LightGlue-specific kernels ----------------------------- */

/* ---------------------------------------------------------------------------------------------
 * Fast row top-k (CKernels/src/topk_rows.c)
 * ------------------------------------------------------------------------------------------- */

/* For each row i of A (n x dim, stride lda): the k columns j of B (m x dim, stride ldb) with the
 * largest float dot product <A_i, B_j>, written to out_idx[i*k .. i*k+k) best first, ties broken
 * by the lower j, with their scores in out_score (same layout).
 * The scores ranked and returned are the float values of cblas_sgemm (fixed tiles of 128 query
 * rows x up to 4096 columns of B, one sgemm call each; no exact re-rank), so columns whose exact
 * dot products differ by less than the float GEMM rounding (about dim * FLT_EPSILON * |A_i| |B_j|)
 * may be ordered, or cut at the k-th place, differently from exact arithmetic; use
 * sg_topk_similarity for exact ranking.
 * Cost: the GEMM plus an O(m) selection per row (chunk-maxima bound, branch-free gather, rank
 * counting); scratch O(threads * 128 * (4096 + 2k)) floats. Rows are processed in fixed blocks of
 * 128 on OpenMP threads (schedule(static)), so with OpenBLAS single-threaded (sg_blas_set_num_threads(1))
 * the result does not depend on n_threads.
 * Requires 1 <= k <= m, lda >= dim, ldb >= dim. Errors: SG_ERR_NULL, SG_ERR_SIZE (n, m, dim < 1,
 * k outside 1...m, m > INT32_MAX, strides beyond BLAS's int), SG_ERR_SHAPE (lda or ldb < dim),
 * SG_ERR_NONFINITE (NaN or Inf in A or B, or dim * max|A| * max|B| >= 2^127 so that a float score
 * could overflow), SG_ERR_ALLOC. */
sg_status sg_topk_dot_rows(const float *A, int64_t n, int64_t lda,
                           const float *B, int64_t m, int64_t ldb,
                           int64_t dim, int64_t k,
                           int32_t *SG_RESTRICT out_idx, float *SG_RESTRICT out_score,
                           int32_t n_threads);

/* Reference twin of sg_topk_dot_rows: plain loops, dot products accumulated and ranked in double
 * (ties to the lower j), scores rounded to float. Same top-k as the fast kernel except where
 * scores tie within float rounding. Same argument checks. */
sg_status sg_topk_dot_rows_ref(const float *A, int64_t n, int64_t lda,
                               const float *B, int64_t m, int64_t ldb,
                               int64_t dim, int64_t k, int32_t *out_idx, float *out_score);

/* ------------------------------- end of fast row top-k ------------------------------------- */

#ifdef __cplusplus
}
#endif
#undef SG_RESTRICT
#endif /* SPARSEGLUE_KERNELS_H */
