/* knn.c — exact k nearest neighbours (squared L2) and similarity top-k.
 *
 * Every path ranks by the exact scores of internal.h (double accumulation, one rounding to float)
 * with ties to the lower reference index, so the fast kernels agree bit for bit with the
 * brute-force references and with themselves under any thread count. The fast paths only decide
 * which references are *looked at*; each has a proof that the ones skipped cannot rank in the top k.
 */
#include <float.h>
#include <stdatomic.h>

#include "internal.h"

/* ---------------------------------------------------------------------------------------------
 * Validation and exact scores
 * ------------------------------------------------------------------------------------------- */

#define SG_KNN_MAX_DIM 4096

/* Dynamic scheduling by hand: Swift's clang (>= 19) lowers schedule(dynamic) to
 * __kmpc_dispatch_deinit, which Debian's libomp5 (LLVM 14) does not export. Threads claim chunks
 * of rows from a shared counter, because row costs vary (queries outside the grid, rows that fall
 * back to an exact scan). Returns 0 when no rows are left. */
static inline int claim_rows(_Atomic int64_t *next, int64_t count, int64_t chunk, int64_t *i0,
                             int64_t *i1) {
    int64_t s = atomic_fetch_add_explicit(next, chunk, memory_order_relaxed);
    if (s >= count) return 0;
    *i0 = s;
    *i1 = count - s < chunk ? count : s + chunk;
    return 1;
}

static sg_status check_args(const float *A, int64_t n, int64_t lda, const float *B, int64_t m,
                            int64_t ldb, int64_t dim, int64_t k, int32_t exclude_diagonal,
                            const void *out_idx, const void *out_score) {
    if (!A || !B || !out_idx || !out_score) return SG_ERR_NULL;
    if (n < 1 || m < 1 || dim < 1 || dim > SG_KNN_MAX_DIM) return SG_ERR_SIZE;
    /* Reference indices are int32. */
    if (m > (int64_t)INT32_MAX) return SG_ERR_SIZE;
    if (lda < dim || ldb < dim) return SG_ERR_SHAPE;
    if (exclude_diagonal != 0 && exclude_diagonal != 1) return SG_ERR_ARGUMENT;
    if (exclude_diagonal && n != m) return SG_ERR_SHAPE;
    if (k < 1 || k > m - exclude_diagonal) return SG_ERR_SIZE;
    if (n > INT64_MAX / k) return SG_ERR_SIZE;
    /* Row offsets (rows - 1) * ld must not overflow. */
    if ((n - 1) > (INT64_MAX - dim) / lda || (m - 1) > (INT64_MAX - dim) / ldb) return SG_ERR_SIZE;
    if (!sg__rows_finite(A, n, dim, lda)) return SG_ERR_NONFINITE;
    if ((B != A || ldb != lda || m > n) && !sg__rows_finite(B, m, dim, ldb)) return SG_ERR_NONFINITE;
    return SG_OK;
}

/* Euclidean norm in double: the one definition behind every cosine score and every error bound. */
static inline double norm_exact(const float *x, int64_t dim) {
    return sqrt(sg__dot_exact(x, x, dim));
}

/* Ranking key of a similarity: every selection keeps the smallest keys, so similarity is negated
 * (exactly, so the score is recovered bit for bit). */
static inline float sim_key_exact(const float *a, const float *b, int64_t dim, sg_similarity metric,
                                  double na, double nb) {
    double s = sg__dot_exact(a, b, dim);
    if (metric == SG_SIM_COSINE) s = (na == 0.0 || nb == 0.0) ? 0.0 : s / (na * nb);
    return -(float)s;
}

/* ---------------------------------------------------------------------------------------------
 * References
 * ------------------------------------------------------------------------------------------- */

sg_status sg_knn_l2_ref(const float *A, int64_t n, int64_t lda, const float *B, int64_t m,
                        int64_t ldb, int64_t dim, int64_t k, int32_t exclude_diagonal,
                        int32_t *out_idx, float *out_dist2) {
    sg_status st = check_args(A, n, lda, B, m, ldb, dim, k, exclude_diagonal, out_idx, out_dist2);
    if (st != SG_OK) return st;
    for (int64_t i = 0; i < n; i++) {
        sg__topk h;
        sg__topk_init(&h, out_dist2 + i * k, out_idx + i * k, k);
        const float *a = A + i * lda;
        for (int64_t j = 0; j < m; j++) {
            if (exclude_diagonal && j == i) continue;
            sg__topk_push(&h, sg__dist2_exact(a, B + j * ldb, dim), (int32_t)j);
        }
        sg__topk_sort(&h);
    }
    return SG_OK;
}

sg_status sg_topk_similarity_ref(const float *A, int64_t n, int64_t lda, const float *B, int64_t m,
                                 int64_t ldb, int64_t dim, int64_t k, sg_similarity metric,
                                 int32_t exclude_diagonal, int32_t *out_idx, float *out_sim) {
    sg_status st = check_args(A, n, lda, B, m, ldb, dim, k, exclude_diagonal, out_idx, out_sim);
    if (st != SG_OK) return st;
    if (metric != SG_SIM_DOT && metric != SG_SIM_COSINE) return SG_ERR_ARGUMENT;
    for (int64_t i = 0; i < n; i++) {
        const float *a = A + i * lda;
        double na = metric == SG_SIM_COSINE ? norm_exact(a, dim) : 0.0;
        sg__topk h;
        sg__topk_init(&h, out_sim + i * k, out_idx + i * k, k);
        for (int64_t j = 0; j < m; j++) {
            if (exclude_diagonal && j == i) continue;
            const float *b = B + j * ldb;
            double nb = metric == SG_SIM_COSINE ? norm_exact(b, dim) : 0.0;
            sg__topk_push(&h, sim_key_exact(a, b, dim, metric, na, nb), (int32_t)j);
        }
        sg__topk_sort(&h);
        for (int64_t t = 0; t < k; t++) out_sim[i * k + t] = -out_sim[i * k + t];
    }
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Selection helpers
 * ------------------------------------------------------------------------------------------- */

/* A candidate buffer: pairs that may rank among the `cap` best are appended in O(1); when the
 * buffer is full a selection keeps the `cap` best (by key, then index) and theta becomes the
 * worst kept key. A bounded heap would pay a sift-down per accepted pair instead, which
 * dominated both the grid search and the GEMM sweep. */
typedef struct cand_buf {
    float *key;
    int32_t *idx;
    int64_t cnt, cap, room;
    float theta;
} cand_buf;

static inline int pair_less(float ka, int32_t ia, float kb, int32_t ib) {
    return ka < kb || (ka == kb && ia < ib);
}

static inline void pair_swap(float *key, int32_t *idx, int64_t x, int64_t y) {
    float tk = key[x]; key[x] = key[y]; key[y] = tk;
    int32_t ti = idx[x]; idx[x] = idx[y]; idx[y] = ti;
}

/* Reorders so that the first `kth` pairs are the kth smallest (in no particular order). Pairs
 * are distinct (indices are), so the set kept is unique whatever the pivots. */
static void select_pairs(float *key, int32_t *idx, int64_t cnt, int64_t kth) {
    if (kth >= cnt || kth <= 0) return;
    int64_t lo = 0, hi = cnt - 1;
    while (hi > lo) {
        /* Median of three as pivot, moved to hi. */
        int64_t mid = lo + (hi - lo) / 2;
        if (pair_less(key[mid], idx[mid], key[lo], idx[lo])) pair_swap(key, idx, mid, lo);
        if (pair_less(key[hi], idx[hi], key[lo], idx[lo])) pair_swap(key, idx, hi, lo);
        if (pair_less(key[mid], idx[mid], key[hi], idx[hi])) pair_swap(key, idx, mid, hi);
        const float pk = key[hi];
        const int32_t pi = idx[hi];
        int64_t store = lo;
        for (int64_t x = lo; x < hi; x++)
            if (pair_less(key[x], idx[x], pk, pi)) pair_swap(key, idx, x, store++);
        pair_swap(key, idx, store, hi);
        if (store == kth || store == kth - 1) return;
        if (store < kth) lo = store + 1;
        else hi = store - 1;
    }
}

/* Writes pairs (key, idx)[0..cnt) to out_key/out_idx sorted best first. Short lists (the usual
 * k) take an insertion sort, which beats a heap's unpredictable sift-downs; long ones a heap. */
static void sort_pairs_into(const float *key, const int32_t *idx, int64_t cnt, float *out_key,
                            int32_t *out_idx) {
    if (cnt <= 48) {
        for (int64_t s = 0; s < cnt; s++) {
            const float kk = key[s];
            const int32_t ii = idx[s];
            int64_t t = s;
            while (t > 0 && pair_less(kk, ii, out_key[t - 1], out_idx[t - 1])) {
                out_key[t] = out_key[t - 1];
                out_idx[t] = out_idx[t - 1];
                t--;
            }
            out_key[t] = kk;
            out_idx[t] = ii;
        }
        return;
    }
    sg__topk h;
    sg__topk_init(&h, out_key, out_idx, cnt);
    for (int64_t s = 0; s < cnt; s++) sg__topk_push(&h, key[s], idx[s]);
    sg__topk_sort(&h);
}

/* Keeps the cap best and sets theta to the worst of them. */
static void buf_compact(cand_buf *b) {
    if (b->cnt > b->cap) {
        select_pairs(b->key, b->idx, b->cnt, b->cap);
        b->cnt = b->cap;
    }
    if (b->cnt == b->cap) {
        float w = b->key[0];
        for (int64_t s = 1; s < b->cnt; s++) w = b->key[s] > w ? b->key[s] : w;
        b->theta = w;
    }
}

/* ---------------------------------------------------------------------------------------------
 * 2-D: uniform grid over B
 * ------------------------------------------------------------------------------------------- */

typedef struct grid2 {
    double x0, y0;          /* grid origin = lower corner of B's bounding box */
    double bx1, by1;        /* upper corner of B's bounding box */
    double cell, inv_cell;  /* square cells */
    int64_t nx, ny;
    int32_t *start;         /* nx*ny + 1 offsets into idx/xy (counting sort by cell) */
    int32_t *idx;           /* reference indices, grouped by cell */
    float *xy;              /* their coordinates, copied so a cell scan is contiguous */
} grid2;

static inline int64_t grid_coord(double v, double origin, double inv_cell, int64_t cells) {
    double t = (v - origin) * inv_cell;
    if (!(t >= 0.0)) return 0;
    if (t >= (double)cells) return cells - 1;
    int64_t c = (int64_t)t;
    return c < cells ? c : cells - 1;
}

static sg_status grid_build(grid2 *g, const float *B, int64_t m, int64_t ldb) {
    double x0 = B[0], y0 = B[1], x1 = B[0], y1 = B[1];
    for (int64_t j = 1; j < m; j++) {
        double x = B[j * ldb], y = B[j * ldb + 1];
        x0 = x < x0 ? x : x0; x1 = x > x1 ? x : x1;
        y0 = y < y0 ? y : y0; y1 = y > y1 ? y : y1;
    }
    double w = x1 - x0, h = y1 - y0;
    /* About two points per cell. The second term keeps the cell count <= ~3 * target when one
     * side is (nearly) degenerate, e.g. collinear points. */
    double target = (double)(m / 2 > 0 ? m / 2 : 1);
    double cell = sqrt(w * h / target);
    double lin = (w > h ? w : h) / target;
    if (lin > cell) cell = lin;
    int64_t nx = 1, ny = 1;
    if (cell > 0.0 && isfinite(cell)) {
        nx = (int64_t)(w / cell) + 1;
        ny = (int64_t)(h / cell) + 1;
    } else {
        cell = 1.0; /* all points identical: one cell holds everything */
    }
    g->x0 = x0; g->y0 = y0; g->bx1 = x1; g->by1 = y1;
    g->cell = cell; g->inv_cell = 1.0 / cell; g->nx = nx; g->ny = ny;
    int64_t ncell = nx * ny;
    g->start = calloc((size_t)ncell + 1, sizeof(int32_t));
    g->idx = malloc((size_t)m * sizeof(int32_t));
    g->xy = malloc((size_t)m * 2 * sizeof(float));
    int32_t *cell_of = malloc((size_t)m * sizeof(int32_t));
    if (!g->start || !g->idx || !g->xy || !cell_of) {
        free(cell_of);
        return SG_ERR_ALLOC;
    }
    for (int64_t j = 0; j < m; j++) {
        int64_t cx = grid_coord(B[j * ldb], x0, g->inv_cell, nx);
        int64_t cy = grid_coord(B[j * ldb + 1], y0, g->inv_cell, ny);
        cell_of[j] = (int32_t)(cy * nx + cx);
        g->start[cell_of[j] + 1]++;
    }
    for (int64_t c = 0; c < ncell; c++) g->start[c + 1] += g->start[c];
    /* Stable placement keeps each cell in ascending index order (not needed for correctness,
     * but makes the scan order reproducible). */
    for (int64_t j = 0; j < m; j++) {
        int32_t p = g->start[cell_of[j]]++;
        g->idx[p] = (int32_t)j;
        g->xy[2 * p] = B[j * ldb];
        g->xy[2 * p + 1] = B[j * ldb + 1];
    }
    for (int64_t c = ncell; c > 0; c--) g->start[c] = g->start[c - 1];
    g->start[0] = 0;
    free(cell_of);
    return SG_OK;
}

static void grid_free(grid2 *g) {
    free(g->start);
    free(g->idx);
    free(g->xy);
}

/* max(gap - slack, 0)^2 + across^2: the squared distance bound to one slab of cells. */
static inline double slab_bound2(double gap, double slack, double across) {
    const double d = gap - slack > 0.0 ? gap - slack : 0.0;
    return d * d + across * across;
}

/* A squared distance below which every point outside the searched cell square [cx0, cx1] x
 * [cy0, cy1] is guaranteed to lie. Cells are assigned with rounded arithmetic, so a side is moved
 * towards the query by `slack`, far more than the double rounding of the cell computation and far
 * less than the float resolution of the coordinates. Points lie inside B's bounding box, so the
 * distance to a slab beyond one side also includes the query's distance to the box along the
 * other axis (this makes queries far outside the box terminate early). */
static double grid_outside_bound2(const grid2 *g, double qx, double qy, int64_t cx0, int64_t cx1,
                                  int64_t cy0, int64_t cy1, double slack) {
    double ex = qx < g->x0 ? g->x0 - qx : (qx > g->bx1 ? qx - g->bx1 : 0.0);
    double ey = qy < g->y0 ? g->y0 - qy : (qy > g->by1 ? qy - g->by1 : 0.0);
    double best = INFINITY;
    /* One slab per side that has cells beyond the searched square: the gap to it along its axis
     * (less the slack), combined with the distance to the box along the other axis. */
    const double left = qx - (g->x0 + (double)cx0 * g->cell);
    const double right = (g->x0 + (double)(cx1 + 1) * g->cell) - qx;
    const double below = qy - (g->y0 + (double)cy0 * g->cell);
    const double above = (g->y0 + (double)(cy1 + 1) * g->cell) - qy;
    if (cx0 > 0) best = fmin(best, slab_bound2(left, slack, ey));
    if (cx1 < g->nx - 1) best = fmin(best, slab_bound2(right, slack, ey));
    if (cy0 > 0) best = fmin(best, slab_bound2(below, slack, ex));
    if (cy1 < g->ny - 1) best = fmin(best, slab_bound2(above, slack, ex));
    return best;
}

/* Cells are not visited in index order, so a pair equal to theta may still win on its index:
 * keep it (<=); the next compaction settles ties. */
static inline void grid_scan_cell(const grid2 *g, int64_t c, const float *q, int64_t i,
                                  int32_t exclude_diagonal, cand_buf *b) {
    for (int32_t p = g->start[c]; p < g->start[c + 1]; p++) {
        const int32_t j = g->idx[p];
        const float d = sg__dist2_exact(q, g->xy + 2 * p, 2);
        if (!(d <= b->theta) || (exclude_diagonal && j == i)) continue;
        b->key[b->cnt] = d;
        b->idx[b->cnt] = j;
        if (++b->cnt == b->room) buf_compact(b);
    }
}

/* Leaves the query's k best (unsorted) in b->key/idx[0..k). */
static void grid_query(const grid2 *g, const float *q, int64_t i, int32_t exclude_diagonal,
                       cand_buf *b) {
    double qx = q[0], qy = q[1];
    int64_t qcx = grid_coord(qx, g->x0, g->inv_cell, g->nx);
    int64_t qcy = grid_coord(qy, g->y0, g->inv_cell, g->ny);
    double slack = 1e-12 * (fabs(g->x0) + fabs(g->y0) + fabs(qx) + fabs(qy) +
                            (double)(g->nx + g->ny + 2) * g->cell);
    for (int64_t r = 0;; r++) {
        int64_t cx0 = qcx - r, cx1 = qcx + r, cy0 = qcy - r, cy1 = qcy + r;
        int64_t lx = cx0 > 0 ? cx0 : 0, hx = cx1 < g->nx - 1 ? cx1 : g->nx - 1;
        int64_t ly = cy0 > 0 ? cy0 : 0, hy = cy1 < g->ny - 1 ? cy1 : g->ny - 1;
        /* Only the ring at Chebyshev distance r is new. */
        for (int64_t cy = ly; cy <= hy; cy++) {
            if (cy == cy0 || cy == cy1) {
                for (int64_t cx = lx; cx <= hx; cx++)
                    grid_scan_cell(g, cy * g->nx + cx, q, i, exclude_diagonal, b);
            } else {
                if (cx0 >= 0) grid_scan_cell(g, cy * g->nx + cx0, q, i, exclude_diagonal, b);
                if (cx1 < g->nx && cx1 != cx0)
                    grid_scan_cell(g, cy * g->nx + cx1, q, i, exclude_diagonal, b);
            }
        }
        if (lx == 0 && ly == 0 && hx == g->nx - 1 && hy == g->ny - 1) break;
        if (b->cnt >= b->cap) {
            /* Unseen points have true squared distance >= bound; their rounded exact distances
             * are then strictly above the k-th best (so they cannot win even a tie by index)
             * when the k-th best is below bound by more than float rounding. theta is an upper
             * bound of the k-th best, so the selection is only paid when theta is not enough. */
            const double bound = grid_outside_bound2(g, qx, qy, lx, hx, ly, hy, slack) *
                                 (1.0 - 0x1p-20);
            if ((double)b->theta < bound) break;
            if (b->cnt > b->cap) {
                buf_compact(b);
                if ((double)b->theta < bound) break;
            }
        }
    }
}

static sg_status knn_grid2(const float *A, int64_t n, int64_t lda, const float *B, int64_t m,
                           int64_t ldb, int64_t k, int32_t exclude_diagonal, int32_t *out_idx,
                           float *out_dist2, int32_t n_threads) {
    grid2 g;
    memset(&g, 0, sizeof g);
    sg_status st = grid_build(&g, B, m, ldb);
    if (st != SG_OK) {
        grid_free(&g);
        return st;
    }
    const int nt = sg__threads(n_threads);
    const int64_t room = 2 * k + 64;
    float *bkey = malloc((size_t)(nt * room) * sizeof(float));
    int32_t *bidx = malloc((size_t)(nt * room) * sizeof(int32_t));
    if (!bkey || !bidx) {
        free(bkey);
        free(bidx);
        grid_free(&g);
        return SG_ERR_ALLOC;
    }
    _Atomic int64_t next = 0;
#pragma omp parallel num_threads(nt)
    {
        const int64_t own = (int64_t)omp_get_thread_num() * room;
        int64_t i0, i1;
        while (claim_rows(&next, n, 64, &i0, &i1)) {
            for (int64_t i = i0; i < i1; i++) {
                cand_buf b = {bkey + own, bidx + own, 0, k, room, INFINITY};
                grid_query(&g, A + i * lda, i, exclude_diagonal, &b);
                buf_compact(&b);
                sort_pairs_into(b.key, b.idx, b.cnt, out_dist2 + i * k, out_idx + i * k);
            }
        }
    }
    free(bkey);
    free(bidx);
    grid_free(&g);
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * dim != 2 and similarities: GEMM candidate filter + exact re-rank
 *
 * Per tile of query rows the references are swept in column tiles; G = A_tile * B_tileᵀ comes
 * from cblas_sgemm and turns into an approximate key per pair. Each row keeps, across column
 * tiles, the kc + 1 best approximate keys (in a cand_buf): the kc best are the candidates and the
 * extra one is the smallest approximate key left out (tau). After the sweep the candidates
 * are scored exactly. With |approx - true| < err / 2 for every pair, a reference outside the
 * candidate set has true key >= tau - err / 2; if the exact k-th key is < tau - err, all of those
 * are strictly worse than the k-th (by more than the final float rounding), so the candidates
 * contain the exact top k including ties. Otherwise the row is redone by an exact scan.
 *
 * err per row (L2): 2 (dim + 3) FLT_EPSILON (||a|| + max ||b||)^2 on the centred copies. The
 * float dot product errs by at most dim u ||a|| ||b|| <= dim FLT_EPSILON (||a|| + ||b||)^2 / 8,
 * the float operations forming ||a||^2 + ||b||^2 - 2g (with the norms rounded to float) add
 * <= 1.5 FLT_EPSILON (..)^2 and centring (rounding a - c, b - c) moves a distance by
 * <= 1.01 FLT_EPSILON (..)^2: together well below err / 2. DOT: 2 (dim + 3) FLT_EPSILON ||a||
 * max ||b||. COSINE runs on unit-normalised copies, so its err is 2 (dim + 3) FLT_EPSILON, which
 * also covers the normalisation rounding. Each err gets 2 (dim + 3) FLT_MIN more for products
 * that underflow. Rows whose values could overflow in float are scanned exactly instead.
 * ------------------------------------------------------------------------------------------- */

enum { MODE_L2 = 0, MODE_DOT = 1, MODE_COS = 2 };

#define GEMM_ROW_TILE 256
/* Approximate keys beyond this magnitude could have overflowed in float. */
#define GEMM_SAFE_MAX 1e36
/* Packs B once when it is modest in size; otherwise one column tile at a time. */
#define GEMM_FULL_PACK_MAX ((int64_t)1 << 24)
/* Columns summarised by one minimum in the sweep's threshold (see offer_tile). */
#define GEMM_CHUNK 16
#define GEMM_MAX_COL_TILE 4096

/* Exact scores of one query against four references. The four chains run exactly the
 * operations of sg__dist2_exact / sg__dot_exact in the same order, so each result is bitwise
 * equal to the single-pair function; interleaving only hides the latency of the serial sums. */
static inline void dist2_exact4(const float *a, const float *b0, const float *b1, const float *b2,
                                const float *b3, int64_t dim, float out[4]) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    for (int64_t t = 0; t < dim; t++) {
        double at = (double)a[t];
        double d0 = at - (double)b0[t], d1 = at - (double)b1[t];
        double d2 = at - (double)b2[t], d3 = at - (double)b3[t];
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    out[0] = (float)s0; out[1] = (float)s1; out[2] = (float)s2; out[3] = (float)s3;
}

static inline void dot_exact4(const float *a, const float *b0, const float *b1, const float *b2,
                              const float *b3, int64_t dim, double out[4]) {
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    for (int64_t t = 0; t < dim; t++) {
        double at = (double)a[t];
        s0 += at * (double)b0[t];
        s1 += at * (double)b1[t];
        s2 += at * (double)b2[t];
        s3 += at * (double)b3[t];
    }
    out[0] = s0; out[1] = s1; out[2] = s2; out[3] = s3;
}

typedef struct gemm_ctx {
    const float *A, *B;
    int64_t n, lda, m, ldb, dim, k;
    int64_t kc;      /* candidates per row: min(m_eff, k + 16) */
    int64_t cap;     /* pairs kept per row: kc + 1 while something can be left out, else kc */
    int32_t excl;
    int mode;
    sg_similarity metric;
    int nt;
    float *center;   /* L2: per-coordinate shift (B's mean) */
    double *b_norm;  /* raw norms of B (COS exact scores) */
    float *b_sq;     /* L2: squared norms of the centred B rows, rounded to float */
    double bmax;     /* max norm of the packed B rows (1 for COS) */
    float *b_pack;   /* all packed B rows, or NULL to pack per column tile */
    int64_t col_tile;
} gemm_ctx;

/* The row GEMM sees: centred (L2), as is (DOT) or unit-normalised (COS). */
static void pack_row(const gemm_ctx *c, const float *x, double raw_norm, float *dst) {
    const int64_t dim = c->dim;
    if (c->mode == MODE_L2) {
        for (int64_t t = 0; t < dim; t++) dst[t] = x[t] - c->center[t];
    } else if (c->mode == MODE_DOT) {
        memcpy(dst, x, (size_t)dim * sizeof(float));
    } else {
        double inv = raw_norm > 0.0 ? 1.0 / raw_norm : 0.0;
        for (int64_t t = 0; t < dim; t++) dst[t] = (float)((double)x[t] * inv);
    }
}

/* Exact keys of query a against references idx[0..cnt), four at a time. */
static void exact_keys(const gemm_ctx *c, const float *a, double na, const int32_t *idx,
                       int64_t cnt, float *keys) {
    const float *B = c->B;
    const int64_t ldb = c->ldb, dim = c->dim;
    int64_t s = 0;
    for (; s + 4 <= cnt; s += 4) {
        const float *b0 = B + idx[s] * ldb, *b1 = B + idx[s + 1] * ldb;
        const float *b2 = B + idx[s + 2] * ldb, *b3 = B + idx[s + 3] * ldb;
        if (c->mode == MODE_L2) {
            dist2_exact4(a, b0, b1, b2, b3, dim, keys + s);
        } else {
            double d[4];
            dot_exact4(a, b0, b1, b2, b3, dim, d);
            for (int u = 0; u < 4; u++) {
                double v = d[u];
                if (c->mode == MODE_COS) {
                    double nb = c->b_norm[idx[s + u]];
                    v = (na == 0.0 || nb == 0.0) ? 0.0 : v / (na * nb);
                }
                keys[s + u] = -(float)v;
            }
        }
    }
    for (; s < cnt; s++) {
        const float *b = B + idx[s] * ldb;
        keys[s] = c->mode == MODE_L2 ? sg__dist2_exact(a, b, dim)
                                     : sim_key_exact(a, b, dim, c->metric, na, c->b_norm[idx[s]]);
    }
}

/* Exact scan of one row over all references (the fallback). */
static void exact_scan(const gemm_ctx *c, const float *a, double na, int64_t i, sg__topk *h) {
    enum { BATCH = 64 };
    int32_t idx[BATCH];
    float keys[BATCH];
    for (int64_t j0 = 0; j0 < c->m; j0 += BATCH) {
        int64_t cnt = 0;
        const int64_t j1 = c->m - j0 < BATCH ? c->m : j0 + BATCH;
        for (int64_t j = j0; j < j1; j++)
            if (!(c->excl && j == i)) idx[cnt++] = (int32_t)j;
        exact_keys(c, a, na, idx, cnt, keys);
        for (int64_t s = 0; s < cnt; s++) sg__topk_push(h, keys[s], idx[s]);
    }
}

/* The kth smallest (0-based) of v[0..cnt); reorders v. */
static float select_float(float *v, int64_t cnt, int64_t kth) {
    int64_t lo = 0, hi = cnt - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        float t;
        if (v[mid] < v[lo]) { t = v[mid]; v[mid] = v[lo]; v[lo] = t; }
        if (v[hi] < v[lo]) { t = v[hi]; v[hi] = v[lo]; v[lo] = t; }
        if (v[mid] < v[hi]) { t = v[mid]; v[mid] = v[hi]; v[hi] = t; }
        const float p = v[hi];
        int64_t store = lo;
        for (int64_t x = lo; x < hi; x++)
            if (v[x] < p) { t = v[x]; v[x] = v[store]; v[store++] = t; }
        t = v[store]; v[store] = v[hi]; v[hi] = t;
        if (store == kth) return v[kth];
        if (store < kth) lo = store + 1;
        else hi = store - 1;
    }
    return v[kth];
}

/* Offers one column tile of a row; g holds the tile's GEMM row and is overwritten by the
 * approximate keys: (asq + bsq[q]) - 2 g[q] (L2, bsq != NULL) or -g[q] (similarities).
 *
 * Two thresholds decide which keys are appended. theta (the worst kept key, from earlier
 * tiles or compactions): columns arrive in ascending index order, so only a key strictly below
 * it can enter the kept set. theta0: the cap-th smallest of the tile's chunk minima is itself a
 * key with at least cap keys of this tile at or below it, so no key above it can be among the
 * best cap; keys equal to it may be (lower index), hence <=. Over random columns theta0 admits
 * only about cap keys, where a streaming threshold would admit several times as many. */
static void offer_tile(cand_buf *b, float *g, float asq, const float *bsq, int64_t j0,
                       int64_t cols, int64_t skip) {
    if (bsq) {
        for (int64_t q = 0; q < cols; q++) g[q] = (asq + bsq[q]) - 2.0f * g[q];
    } else {
        for (int64_t q = 0; q < cols; q++) g[q] = -g[q];
    }
    /* The diagonal must not count towards theta0. */
    if (skip >= 0) g[skip] = INFINITY;

    float cmin[GEMM_MAX_COL_TILE / GEMM_CHUNK], sel[GEMM_MAX_COL_TILE / GEMM_CHUNK];
    const int64_t nch = cols / GEMM_CHUNK;
    float theta0 = INFINITY;
    if (nch >= b->cap) {
        for (int64_t ch = 0; ch < nch; ch++) {
            /* Element-wise halving keeps this vectorisable without relaxed FP semantics. */
            float v[GEMM_CHUNK];
            memcpy(v, g + ch * GEMM_CHUNK, sizeof v);
            for (int w = GEMM_CHUNK / 2; w > 0; w /= 2)
                for (int u = 0; u < w; u++) v[u] = v[u + w] < v[u] ? v[u + w] : v[u];
            cmin[ch] = sel[ch] = v[0];
        }
        theta0 = select_float(sel, nch, b->cap - 1);
    }
    for (int64_t q0 = 0; q0 < cols; q0 += GEMM_CHUNK) {
        const int64_t ch = q0 / GEMM_CHUNK;
        if (ch < nch && theta0 < INFINITY && !(cmin[ch] <= theta0 && cmin[ch] < b->theta))
            continue;
        const int64_t q1 = cols - q0 < GEMM_CHUNK ? cols : q0 + GEMM_CHUNK;
        for (int64_t q = q0; q < q1; q++) {
            const float key = g[q];
            if (q == skip || !(key <= theta0 && key < b->theta)) continue;
            b->key[b->cnt] = key;
            b->idx[b->cnt] = (int32_t)(j0 + q);
            if (++b->cnt == b->room) buf_compact(b);
        }
    }
}

typedef struct gemm_scratch {
    float *a_pack, *G, *a_sq, *buf_key, *b_tile, *theta;
    double *a_err, *a_norm;
    int32_t *buf_idx;
    int64_t *buf_cnt, room;
    unsigned char *a_exact;
} gemm_scratch;

static void scratch_free(gemm_scratch *s) {
    free(s->a_pack); free(s->G); free(s->a_sq); free(s->buf_key); free(s->b_tile);
    free(s->a_err); free(s->a_norm); free(s->buf_idx); free(s->buf_cnt); free(s->a_exact);
    free(s->theta);
}

/* Packs query rows [i0, i0 + rows) and decides per row whether GEMM keys are safe. Returns
 * whether any row will use them. */
static int prepare_rows(const gemm_ctx *c, gemm_scratch *s, int64_t i0, int64_t rows) {
    const int64_t dim = c->dim;
    const double epsf = (double)FLT_EPSILON, tinyf = (double)FLT_MIN;
    int any_gemm = 0;
#pragma omp parallel for num_threads(c->nt) schedule(static) reduction(| : any_gemm)
    for (int64_t r = 0; r < rows; r++) {
        const float *a = c->A + (i0 + r) * c->lda;
        float *dst = s->a_pack + r * dim;
        const double raw = c->mode == MODE_L2 ? 0.0 : norm_exact(a, dim);
        pack_row(c, a, raw, dst);
        double pn = c->mode == MODE_COS ? (raw > 0.0 ? 1.0 : 0.0)
                                        : norm_exact(dst, dim);
        double scale = c->mode == MODE_L2    ? (pn + c->bmax) * (pn + c->bmax)
                       : c->mode == MODE_DOT ? pn * c->bmax
                                             : 1.0;
        const int exact = !(scale < GEMM_SAFE_MAX);
        if (exact) memset(dst, 0, (size_t)dim * sizeof(float)); /* keeps the GEMM tile finite */
        s->a_exact[r] = (unsigned char)exact;
        s->a_err[r] = 2.0 * (double)(dim + 3) * (epsf * scale + tinyf);
        s->a_norm[r] = raw;
        s->a_sq[r] = (float)(pn * pn);
        s->buf_cnt[r] = 0;
        s->theta[r] = INFINITY;
        any_gemm |= !exact;
    }
    return any_gemm;
}

static void sweep_columns(const gemm_ctx *c, gemm_scratch *s, int64_t i0, int64_t rows) {
    const int64_t dim = c->dim, m = c->m, cap = c->cap;
    for (int64_t j0 = 0; j0 < m; j0 += c->col_tile) {
        const int64_t cols = m - j0 < c->col_tile ? m - j0 : c->col_tile;
        const float *bt = c->b_pack ? c->b_pack + j0 * dim : s->b_tile;
        if (!c->b_pack) {
#pragma omp parallel for num_threads(c->nt) schedule(static)
            for (int64_t q = 0; q < cols; q++)
                pack_row(c, c->B + (j0 + q) * c->ldb, c->b_norm[j0 + q], s->b_tile + q * dim);
        }
        /* Fixed row blocks on OpenMP threads (gemm.c): no OpenBLAS threads competing with ours. */
        sg__gemm_row_blocks(0, 1, rows, cols, dim, 1.0f, s->a_pack, dim, bt, dim, 0.0f, s->G, cols,
                            c->nt);

#pragma omp parallel for num_threads(c->nt) schedule(static)
        for (int64_t r = 0; r < rows; r++) {
            if (s->a_exact[r]) continue;
            const int64_t i = i0 + r;
            cand_buf b = {s->buf_key + r * s->room, s->buf_idx + r * s->room, s->buf_cnt[r], cap,
                          s->room, s->theta[r]};
            offer_tile(&b, s->G + r * cols, s->a_sq[r], c->mode == MODE_L2 ? c->b_sq + j0 : NULL,
                       j0, cols, c->excl && i >= j0 && i < j0 + cols ? i - j0 : -1);
            s->buf_cnt[r] = b.cnt;
            s->theta[r] = b.theta;
        }
    }
}

/* Exact re-rank of one row's candidates into its output row, or an exact scan when the
 * candidates cannot be proven complete. */
static void finish_row(const gemm_ctx *c, gemm_scratch *s, int64_t i0, int64_t r,
                       int32_t *out_idx, float *out_key, float *key_tmp) {
    const int64_t i = i0 + r, k = c->k, kc = c->kc, cap = c->cap;
    const float *a = c->A + i * c->lda;
    const double na = s->a_norm[r];
    cand_buf b = {s->buf_key + r * s->room, s->buf_idx + r * s->room, s->buf_cnt[r], cap, s->room,
                  s->theta[r]};
    if (!s->a_exact[r]) buf_compact(&b);
    /* Every column but the diagonal was offered and keys are finite, so cnt == cap; the test
     * only guards the proof below. */
    if (!s->a_exact[r] && b.cnt == cap) {
        /* With cap = kc + 1 the worst kept pair is the best one left out: move it to slot 0,
         * slots 1..kc are the candidates. */
        if (cap > kc) {
            int64_t w = 0;
            for (int64_t t = 1; t < cap; t++)
                if (pair_less(b.key[w], b.idx[w], b.key[t], b.idx[t])) w = t;
            pair_swap(b.key, b.idx, 0, w);
        }
        int32_t *cand = b.idx + (cap - kc);
        exact_keys(c, a, na, cand, kc, key_tmp);
        select_pairs(key_tmp, cand, kc, k);
        float kth = key_tmp[0];
        for (int64_t t = 1; t < k; t++) kth = key_tmp[t] > kth ? key_tmp[t] : kth;
        if (cap == kc || (double)kth < (double)b.key[0] - s->a_err[r]) {
            sort_pairs_into(key_tmp, cand, k, out_key + i * k, out_idx + i * k);
            return;
        }
    }
    sg__topk out;
    sg__topk_init(&out, out_key + i * k, out_idx + i * k, k);
    exact_scan(c, a, na, i, &out);
    sg__topk_sort(&out);
}

static sg_status gemm_topk(const gemm_ctx *c, int32_t *out_idx, float *out_key) {
    const int64_t n = c->n, dim = c->dim, cap = c->cap;
    /* Scratch scales with min(n, tile), so a few queries with a large k stay cheap. */
    const int64_t TA = n < GEMM_ROW_TILE ? n : GEMM_ROW_TILE, TB = c->col_tile;
    gemm_scratch s;
    memset(&s, 0, sizeof s);
    s.a_pack = malloc((size_t)(TA * dim) * sizeof(float));
    s.G = malloc((size_t)(TA * TB) * sizeof(float));
    s.a_sq = malloc((size_t)TA * sizeof(float));
    s.a_err = malloc((size_t)TA * sizeof(double));
    s.a_norm = malloc((size_t)TA * sizeof(double));
    s.a_exact = malloc((size_t)TA);
    s.room = 2 * cap + 32;
    s.buf_key = malloc((size_t)(TA * s.room) * sizeof(float));
    s.buf_idx = malloc((size_t)(TA * s.room) * sizeof(int32_t));
    s.buf_cnt = malloc((size_t)TA * sizeof(int64_t));
    s.theta = malloc((size_t)TA * sizeof(float));
    if (!c->b_pack) s.b_tile = malloc((size_t)(TB * dim) * sizeof(float));
    float *key_tmp = malloc((size_t)(c->nt * c->kc) * sizeof(float));
    if (!s.a_pack || !s.G || !s.a_sq || !s.a_err || !s.a_norm || !s.a_exact || !s.buf_key ||
        !s.buf_idx || !s.buf_cnt || !s.theta || (!c->b_pack && !s.b_tile) || !key_tmp) {
        scratch_free(&s);
        free(key_tmp);
        return SG_ERR_ALLOC;
    }

    for (int64_t i0 = 0; i0 < n; i0 += TA) {
        const int64_t rows = n - i0 < TA ? n - i0 : TA;
        if (prepare_rows(c, &s, i0, rows)) sweep_columns(c, &s, i0, rows);
        _Atomic int64_t next = 0;
#pragma omp parallel num_threads(c->nt)
        {
            float *own = key_tmp + (int64_t)omp_get_thread_num() * c->kc;
            int64_t r0, r1;
            while (claim_rows(&next, rows, 8, &r0, &r1))
                for (int64_t r = r0; r < r1; r++) finish_row(c, &s, i0, r, out_idx, out_key, own);
        }
    }
    scratch_free(&s);
    free(key_tmp);
    return SG_OK;
}

static sg_status gemm_driver(const float *A, int64_t n, int64_t lda, const float *B, int64_t m,
                             int64_t ldb, int64_t dim, int64_t k, int32_t excl, int mode,
                             sg_similarity metric, int32_t *out_idx, float *out_key,
                             int32_t n_threads) {
    gemm_ctx c;
    memset(&c, 0, sizeof c);
    c.A = A; c.B = B; c.n = n; c.lda = lda; c.m = m; c.ldb = ldb; c.dim = dim; c.k = k;
    c.excl = excl; c.mode = mode; c.metric = metric; c.nt = sg__threads(n_threads);
    const int64_t m_eff = m - excl;
    c.kc = k + 16 < m_eff ? k + 16 : m_eff;
    c.cap = c.kc < m_eff ? c.kc + 1 : c.kc;
    int64_t tb = ((int64_t)1 << 20) / dim; /* G tile and packed B tile of ~4 MB */
    tb = tb > GEMM_MAX_COL_TILE ? GEMM_MAX_COL_TILE : (tb < 256 ? 256 : tb);
    c.col_tile = tb < m ? tb : m;

    const int full = m * dim <= GEMM_FULL_PACK_MAX;
    c.b_norm = malloc((size_t)m * sizeof(double));
    if (mode == MODE_L2) {
        c.center = malloc((size_t)dim * sizeof(float));
        c.b_sq = malloc((size_t)m * sizeof(float));
    }
    if (full) c.b_pack = malloc((size_t)(m * dim) * sizeof(float));
    /* Without a full pack, norms of packed rows are computed through per-thread rows. */
    float *row_tmp = full ? NULL : malloc((size_t)(c.nt * dim) * sizeof(float));
    double *sum = mode == MODE_L2 ? calloc((size_t)dim, sizeof(double)) : NULL;
    sg_status st = SG_OK;
    if (!c.b_norm || (mode == MODE_L2 && (!c.center || !c.b_sq || !sum)) ||
        (full ? !c.b_pack : !row_tmp)) {
        st = SG_ERR_ALLOC;
        goto done;
    }

    if (mode == MODE_L2) {
        /* Centring on B's mean shrinks ||a|| + ||b|| (hence err) for data far from the origin;
         * distances are unchanged up to the rounding accounted for in err. */
        for (int64_t j = 0; j < m; j++)
            for (int64_t t = 0; t < dim; t++) sum[t] += (double)B[j * ldb + t];
        for (int64_t t = 0; t < dim; t++) c.center[t] = (float)(sum[t] / (double)m);
    }
    double bmax = 0.0;
#pragma omp parallel num_threads(c.nt) reduction(max : bmax)
    {
        float *tmp = full ? NULL : row_tmp + (int64_t)omp_get_thread_num() * dim;
#pragma omp for schedule(static)
        for (int64_t j = 0; j < m; j++) {
            const float *b = B + j * ldb;
            const double raw = mode == MODE_L2 ? 0.0 : norm_exact(b, dim);
            float *dst = full ? c.b_pack + j * dim : tmp;
            pack_row(&c, b, raw, dst);
            const double pn = norm_exact(dst, dim);
            c.b_norm[j] = raw;
            if (mode == MODE_L2) c.b_sq[j] = (float)(pn * pn);
            if (pn > bmax) bmax = pn; /* an overflowed (inf) centred row propagates */
        }
    }
    c.bmax = mode == MODE_COS ? 1.0 : bmax;

    const double b_scale = mode == MODE_L2 ? 4.0 * c.bmax * c.bmax : c.bmax;
    if (!(b_scale < GEMM_SAFE_MAX)) {
        /* B alone is too large for float GEMM: exact scans, parallel over rows. */
        _Atomic int64_t next = 0;
#pragma omp parallel num_threads(c.nt)
        {
            int64_t r0, r1;
            while (claim_rows(&next, n, 8, &r0, &r1)) {
                for (int64_t i = r0; i < r1; i++) {
                    const float *a = A + i * lda;
                    sg__topk h;
                    sg__topk_init(&h, out_key + i * k, out_idx + i * k, k);
                    exact_scan(&c, a, mode == MODE_COS ? norm_exact(a, dim) : 0.0, i,
                               &h);
                    sg__topk_sort(&h);
                }
            }
        }
        goto done;
    }
    st = gemm_topk(&c, out_idx, out_key);

done:
    free(c.b_norm); free(c.center); free(c.b_sq); free(c.b_pack); free(row_tmp); free(sum);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Public entry points
 * ------------------------------------------------------------------------------------------- */

sg_status sg_knn_l2(const float *A, int64_t n, int64_t lda, const float *B, int64_t m, int64_t ldb,
                    int64_t dim, int64_t k, int32_t exclude_diagonal, int32_t *restrict out_idx,
                    float *restrict out_dist2, int32_t n_threads) {
    sg_status st = check_args(A, n, lda, B, m, ldb, dim, k, exclude_diagonal, out_idx, out_dist2);
    if (st != SG_OK) return st;
    if (dim == 2)
        return knn_grid2(A, n, lda, B, m, ldb, k, exclude_diagonal, out_idx, out_dist2, n_threads);
    return gemm_driver(A, n, lda, B, m, ldb, dim, k, exclude_diagonal, MODE_L2, SG_SIM_DOT,
                       out_idx, out_dist2, n_threads);
}

sg_status sg_topk_similarity(const float *A, int64_t n, int64_t lda, const float *B, int64_t m,
                             int64_t ldb, int64_t dim, int64_t k, sg_similarity metric,
                             int32_t exclude_diagonal, int32_t *restrict out_idx,
                             float *restrict out_sim, int32_t n_threads) {
    sg_status st = check_args(A, n, lda, B, m, ldb, dim, k, exclude_diagonal, out_idx, out_sim);
    if (st != SG_OK) return st;
    if (metric != SG_SIM_DOT && metric != SG_SIM_COSINE) return SG_ERR_ARGUMENT;
    st = gemm_driver(A, n, lda, B, m, ldb, dim, k, exclude_diagonal,
                     metric == SG_SIM_COSINE ? MODE_COS : MODE_DOT, metric, out_idx, out_sim,
                     n_threads);
    if (st != SG_OK) return st;
    for (int64_t s = 0; s < n * k; s++) out_sim[s] = -out_sim[s];
    return SG_OK;
}
