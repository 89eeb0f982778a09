/* topk_rows.c — fast row top-k of float dot products (sg_topk_dot_rows) and its reference twin.
 *
 * For each row i of A the k columns j of B with the largest <A_i, B_j>, best first, ties to the
 * lower j. Unlike sg_topk_similarity (knn.c) there is no exact re-rank: the scores that are
 * ranked AND returned are the float values cblas_sgemm produces, so two columns whose exact
 * scores differ by less than the GEMM rounding (about dim * FLT_EPSILON * |a| |b|) may come out in
 * the other order, or swap in / out at the k-th place, compared with exact arithmetic. For graphs
 * built from attention logits that is immaterial, and it makes the search cost about its GEMM.
 *
 * Work layout. Query rows are cut into fixed blocks of SG_TOPK_ROW_BLOCK (128) rows and B into
 * fixed column tiles of SG_TOPK_COL_TILE columns; neither depends on the thread count. One OpenMP
 * thread owns a row block (schedule(static, 1)) and, per column tile, makes one sgemm call
 * (block rows x tile columns, dim deep) into its own scratch, then feeds each row's scores to that
 * row's selection state. Every score thus comes from the same sgemm call shape whatever
 * n_threads is, so with OpenBLAS single-threaded the result does not depend on n_threads.
 *
 * Selection (per row and tile, O(T)): see sel_feed. The chunk maxima of the tile (16 columns
 * each, vectorised) give a lower bound L on the tile's k-th best score (the k-th largest maximum,
 * by a branch-free quickselect over T / 16 values); only chunks whose maximum reaches L (and beats
 * the row's running k-th best theta from earlier tiles) are gathered, branch-free, into the row's
 * candidate buffer, typically ~k + 10 pairs. The final order comes from rank counting (ranks by
 * score descending, index ascending). The result equals a full sort of the row's float scores,
 * ties to the lower index. Tiles of 4096 columns keep the bound tight (tiles with fewer than 16 k
 * columns get no bound and cost more); m <= 4096 is one tile.
 *
 * Inputs are validated before anything is written; in particular dim * max|A| * max|B| must stay
 * below 2^127 so that no float score can overflow to Inf / NaN (SG_ERR_NONFINITE otherwise), which
 * lets the selection assume finite scores.
 */
#include "internal.h"

#define SG_TOPK_ROW_BLOCK 128
#ifndef SG_TOPK_COL_TILE
#define SG_TOPK_COL_TILE 4096 /* -D for experiments only */
#endif
#define SG_TOPK_CHUNK 16

/* ---------------------------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------------------------- */

/* Largest |x| over the rows, or -1 if a value is NaN or Inf. */
static double topk_rows_max_abs(const float *X, int64_t rows, int64_t ld, int64_t dim) {
    float mx = 0.0f;
    for (int64_t i = 0; i < rows; i++) {
        const float *x = X + i * ld;
        /* x * 0 is 0 for finite x and NaN otherwise: one branch per row. */
        float acc = 0.0f, rm = 0.0f;
        for (int64_t t = 0; t < dim; t++) {
            acc += x[t] * 0.0f;
            const float a = fabsf(x[t]);
            rm = a > rm ? a : rm;
        }
        if (acc != 0.0f) return -1.0;
        mx = rm > mx ? rm : mx;
    }
    return (double)mx;
}

static sg_status topk_rows_check(const float *A, int64_t n, int64_t lda, const float *B, int64_t m,
                                 int64_t ldb, int64_t dim, int64_t k, const void *out_idx,
                                 const void *out_score) {
    if (!A || !B || !out_idx || !out_score) return SG_ERR_NULL;
    if (n < 1 || m < 1 || dim < 1) return SG_ERR_SIZE;
    if (m > (int64_t)INT32_MAX || dim > SG_BLAS_INT_MAX) return SG_ERR_SIZE; /* int32 indices */
    if (k < 1 || k > m) return SG_ERR_SIZE;
    if (lda < dim || ldb < dim) return SG_ERR_SHAPE;
    if (lda > SG_BLAS_INT_MAX || ldb > SG_BLAS_INT_MAX) return SG_ERR_SIZE;
    if (n > INT64_MAX / k) return SG_ERR_SIZE;
    /* Row offsets (rows - 1) * ld + dim must not overflow. */
    if ((n - 1) > (INT64_MAX - dim) / lda || (m - 1) > (INT64_MAX - dim) / ldb) return SG_ERR_SIZE;
    const double amax = topk_rows_max_abs(A, n, lda, dim);
    if (amax < 0.0) return SG_ERR_NONFINITE;
    const double bmax = (B == A && ldb == lda && m <= n) ? amax : topk_rows_max_abs(B, m, ldb, dim);
    if (bmax < 0.0) return SG_ERR_NONFINITE;
    /* Every partial sum of a dot product is at most dim * amax * bmax in magnitude (times a
     * rounding factor far below 2): below FLT_MAX / 2 no score can overflow to Inf or NaN. */
    if ((double)dim * amax * bmax > 0x1p127) return SG_ERR_NONFINITE;
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Pair helpers: larger score is better, ties to the lower index
 * ------------------------------------------------------------------------------------------- */

static inline int pair_better(float sa, int32_t ia, float sb, int32_t ib) {
    return sa > sb || (sa == sb && ia < ib);
}

static inline void pair_swap(float *s, int32_t *x, int64_t a, int64_t b) {
    float ts = s[a]; s[a] = s[b]; s[b] = ts;
    int32_t ti = x[a]; x[a] = x[b]; x[b] = ti;
}

/* Reorders (s, x)[0..cnt) so that its first kth pairs are the kth best (in no order). Pairs are
 * distinct (indices are), so the kept set is unique whatever the pivots. */
static void select_best(float *s, int32_t *x, int64_t cnt, int64_t kth) {
    if (kth <= 0 || kth >= cnt) return;
    int64_t lo = 0, hi = cnt - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        /* Median of three moved to hi. */
        if (pair_better(s[mid], x[mid], s[lo], x[lo])) pair_swap(s, x, mid, lo);
        if (pair_better(s[hi], x[hi], s[lo], x[lo])) pair_swap(s, x, hi, lo);
        if (pair_better(s[mid], x[mid], s[hi], x[hi])) pair_swap(s, x, mid, hi);
        const float ps = s[hi];
        const int32_t px = x[hi];
        int64_t store = lo;
        for (int64_t t = lo; t < hi; t++)
            if (pair_better(s[t], x[t], ps, px)) pair_swap(s, x, t, store++);
        pair_swap(s, x, store, hi);
        if (store == kth || store == kth - 1) return;
        if (store < kth) lo = store + 1;
        else hi = store - 1;
    }
}

static void heap_sift(float *s, int32_t *x, int64_t size, int64_t i) {
    /* Min-heap on "better": the worst pair at the root. */
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < size && pair_better(s[w], x[w], s[l], x[l])) w = l;
        if (r < size && pair_better(s[w], x[w], s[r], x[r])) w = r;
        if (w == i) return;
        pair_swap(s, x, i, w);
        i = w;
    }
}

/* Writes (s, x)[0..cnt) best first into (os, ox); reorders the input. */
static void sort_best_into(float *s, int32_t *x, int64_t cnt, float *os, int32_t *ox) {
    if (cnt <= 48) {
        for (int64_t a = 0; a < cnt; a++) {
            const float sv = s[a];
            const int32_t xv = x[a];
            int64_t t = a;
            while (t > 0 && pair_better(sv, xv, os[t - 1], ox[t - 1])) {
                os[t] = os[t - 1];
                ox[t] = ox[t - 1];
                t--;
            }
            os[t] = sv;
            ox[t] = xv;
        }
        return;
    }
    /* Heap sort with the worst pair at the root: moving the root to the back, repeatedly, leaves
     * the pairs best first. */
    for (int64_t i = cnt / 2 - 1; i >= 0; i--) heap_sift(s, x, cnt, i);
    for (int64_t size = cnt; size > 1; size--) {
        pair_swap(s, x, 0, size - 1);
        heap_sift(s, x, size - 1, 0);
    }
    memcpy(os, s, (size_t)cnt * sizeof(float));
    memcpy(ox, x, (size_t)cnt * sizeof(int32_t));
}

/* The kth largest (0-based) of v[0..cnt) by value; reorders v. Branch-free partition: the
 * pivots' comparisons are data-dependent and would mispredict half the time. */
static float select_value(float *v, int64_t cnt, int64_t kth) {
    int64_t lo = 0, hi = cnt - 1;
    while (hi > lo) {
        int64_t mid = lo + (hi - lo) / 2;
        /* Median of three moved to hi. */
        float a = v[lo], b = v[mid], c = v[hi];
        float mx = a > b ? a : b, mn = a > b ? b : a;
        float med = c > mx ? mx : (c < mn ? mn : c);
        /* Put med at hi by swapping it with whichever slot holds it. */
        int64_t at = med == a ? lo : (med == b ? mid : hi);
        v[at] = v[hi];
        v[hi] = med;
        int64_t store = lo;
        for (int64_t t = lo; t < hi; t++) {
            const float x = v[t];
            const int64_t gt = x > med;
            v[t] = v[store];
            v[store] = x;
            store += gt;
        }
        v[hi] = v[store];
        v[store] = med;
        /* v[lo..store) > med >= v(store..hi]. */
        if (store == kth) return med;
        if (store < kth) lo = store + 1;
        else hi = store - 1;
    }
    return v[kth];
}

typedef struct row_sel {
    float *s;       /* room + SG_TOPK_CHUNK scores */
    int32_t *x;     /* their column indices */
    int64_t cnt;
    float theta;    /* after a compaction: the worst of the k best kept; -inf before */
} row_sel;

static inline float worst_score(const float *s, int64_t cnt) {
    float w = s[0];
    for (int64_t t = 1; t < cnt; t++) w = s[t] < w ? s[t] : w;
    return w;
}

/* Keeps the k best pairs and sets theta to the worst of them. Needs cnt >= k. */
static void sel_compact(row_sel *r, int64_t k) {
    select_best(r->s, r->x, r->cnt, k);
    r->cnt = k;
    r->theta = worst_score(r->s, k);
}

/* Feeds the (finite) scores sc[0..T) of columns c0..c0+T-1 into the row's selection. `mx` is
 * scratch for 3 ceil(T / 16) floats / ints.
 *
 * Two tests decide whether a score may be in the row's top k, and only those are appended:
 *  - the tile bound L (>=): the k-th largest of the tile's chunk maxima (chunks of 16 columns).
 *    Those are k distinct scores >= L, so a score < L has k better ones in this tile and is out.
 *    L is typically close to the tile's k-th best, so only a few chunks hold scores >= L.
 *  - the running bound theta (strict), once a compaction has kept k pairs: a later score
 *    <= theta is out, because the kept pair scoring theta has a lower column index.
 * Neither drops a member of the true top k, so the kept pairs contain the exact top k of the
 * float scores. Appends are branch-free (written, then counted), hence the buffer's 16 spare
 * slots; a buffer fuller than room - 16 after a chunk is compacted. */
static void sel_feed(row_sel *r, const float *sc, int64_t T, int32_t c0, int64_t k, int64_t room,
                     float *mx) {
    const int64_t chunks = (T + SG_TOPK_CHUNK - 1) / SG_TOPK_CHUNK;
    const int64_t full = T / SG_TOPK_CHUNK;
    for (int64_t c = 0; c < full; c++) {
        const float *p = sc + c * SG_TOPK_CHUNK;
        float m4[4] = {p[0], p[1], p[2], p[3]};
        for (int u = 4; u < SG_TOPK_CHUNK; u += 4)
            for (int w = 0; w < 4; w++) m4[w] = p[u + w] > m4[w] ? p[u + w] : m4[w];
        float a = m4[0] > m4[1] ? m4[0] : m4[1], b = m4[2] > m4[3] ? m4[2] : m4[3];
        mx[c] = a > b ? a : b;
    }
    if (full < chunks) {
        float a = sc[full * SG_TOPK_CHUNK];
        for (int64_t t = full * SG_TOPK_CHUNK + 1; t < T; t++) a = sc[t] > a ? sc[t] : a;
        mx[full] = a;
    }
    float L = -INFINITY;
    if (chunks >= k) {
        float *tmp = mx + chunks; /* the selection reorders its input */
        memcpy(tmp, mx, (size_t)chunks * sizeof(float));
        L = select_value(tmp, chunks, k - 1);
    }
    /* Chunks that may hold a score passing both tests, listed without branches. */
    int32_t *list = (int32_t *)(mx + 2 * chunks);
    int64_t nl = 0;
    const float th0 = r->theta;
    for (int64_t c = 0; c < chunks; c++) {
        list[nl] = (int32_t)c;
        nl += (mx[c] >= L) & (mx[c] > th0);
    }
    for (int64_t e = 0; e < nl; e++) {
        const int64_t c = list[e];
        const float th = r->theta;
        if (!(mx[c] > th)) continue;
        const int64_t t0 = c * SG_TOPK_CHUNK;
        const int64_t len = T - t0 < SG_TOPK_CHUNK ? T - t0 : SG_TOPK_CHUNK;
        const float *p = sc + t0;
        float *os = r->s;
        int32_t *ox = r->x;
        int64_t cnt = r->cnt;
        for (int64_t u = 0; u < len; u++) {
            const float v = p[u];
            os[cnt] = v;
            ox[cnt] = c0 + (int32_t)(t0 + u);
            cnt += (v >= L) & (v > th);
        }
        r->cnt = cnt;
        if (cnt > room - SG_TOPK_CHUNK) sel_compact(r, k);
    }
}

/* Writes the k best of the row's kept pairs, best first, to (os, ox). */
static void sel_finish(row_sel *r, int64_t k, float *os, int32_t *ox) {
    const int64_t cnt = r->cnt;
    const float *s = r->s;
    const int32_t *x = r->x;
    if (cnt <= 96) {
        /* Rank counting: a pair's rank is the number of pairs better than it (distinct, since
         * indices are), computed without branches; the k best go straight to their place. */
        for (int64_t a = 0; a < cnt; a++) {
            const float sa = s[a];
            const int32_t xa = x[a];
            int32_t rank = 0;
            for (int64_t b = 0; b < cnt; b++) rank += (s[b] > sa) | ((s[b] == sa) & (x[b] < xa));
            if (rank < k) {
                os[rank] = sa;
                ox[rank] = xa;
            }
        }
        return;
    }
    select_best(r->s, r->x, cnt, k);
    sort_best_into(r->s, r->x, k, os, ox);
}

/* ---------------------------------------------------------------------------------------------
 * sg_topk_dot_rows
 * ------------------------------------------------------------------------------------------- */

sg_status sg_topk_dot_rows(const float *A, int64_t n, int64_t lda, const float *B, int64_t m,
                           int64_t ldb, int64_t dim, int64_t k, int32_t *restrict out_idx,
                           float *restrict out_score, int32_t n_threads) {
    sg_status st = topk_rows_check(A, n, lda, B, m, ldb, dim, k, out_idx, out_score);
    if (st != SG_OK) return st;

    const int64_t blocks = (n + SG_TOPK_ROW_BLOCK - 1) / SG_TOPK_ROW_BLOCK;
    int nt = sg__threads(n_threads);
    if ((int64_t)nt > blocks) nt = (int)blocks;
    if (nt < 1) nt = 1;
    const int64_t W = m < SG_TOPK_COL_TILE ? m : SG_TOPK_COL_TILE;
    /* Buffer room: k kept + slack for appends between compactions, + 16 spare slots. */
    const int64_t room = 2 * k + 64;

    const int64_t rb = SG_TOPK_ROW_BLOCK;
    if (k > (INT64_MAX / 16) / rb / nt) return SG_ERR_ALLOC;
    /* Per thread: the block's scores, then 3 ceil(W / 16) words for sel_feed. */
    const size_t scores_per_thread =
        (size_t)(rb * W + 3 * ((W + SG_TOPK_CHUNK - 1) / SG_TOPK_CHUNK) + 16);
    const size_t pairs_per_thread = (size_t)(rb * (room + SG_TOPK_CHUNK));
    float *scratch = malloc((size_t)nt * scores_per_thread * sizeof(float));
    float *sel_s = malloc((size_t)nt * pairs_per_thread * sizeof(float));
    int32_t *sel_x = malloc((size_t)nt * pairs_per_thread * sizeof(int32_t));
    if (!scratch || !sel_s || !sel_x) {
        free(scratch);
        free(sel_s);
        free(sel_x);
        return SG_ERR_ALLOC;
    }

    #pragma omp parallel for num_threads(nt) schedule(static, 1) if(nt > 1)
    for (int64_t b = 0; b < blocks; b++) {
        const int tid = omp_get_thread_num();
        float *S = scratch + (size_t)tid * scores_per_thread;
        float *ps = sel_s + (size_t)tid * pairs_per_thread;
        int32_t *px = sel_x + (size_t)tid * pairs_per_thread;
        const int64_t r0 = b * rb;
        const int64_t rows = n - r0 < rb ? n - r0 : rb;
        row_sel sel[SG_TOPK_ROW_BLOCK];
        for (int64_t r = 0; r < rows; r++) {
            sel[r].s = ps + r * (room + SG_TOPK_CHUNK);
            sel[r].x = px + r * (room + SG_TOPK_CHUNK);
            sel[r].cnt = 0;
            sel[r].theta = -INFINITY;
        }
        for (int64_t c0 = 0; c0 < m; c0 += W) {
            const int64_t T = m - c0 < W ? m - c0 : W;
            cblas_sgemm(SG_CBLAS_ROW_MAJOR, SG_CBLAS_NO_TRANS, SG_CBLAS_TRANS, (int)rows, (int)T,
                        (int)dim, 1.0f, A + r0 * lda, (int)lda, B + c0 * ldb, (int)ldb, 0.0f, S,
                        (int)W);
            const int more = c0 + T < m;
            for (int64_t r = 0; r < rows; r++) {
                sel_feed(&sel[r], S + r * W, T, (int32_t)c0, k, room, S + rb * W);
                /* Before the next tile: keep the k best, so theta filters it. */
                if (more && sel[r].cnt > k) sel_compact(&sel[r], k);
            }
        }
        for (int64_t r = 0; r < rows; r++)
            sel_finish(&sel[r], k, out_score + (r0 + r) * k, out_idx + (r0 + r) * k);
    }

    free(scratch);
    free(sel_s);
    free(sel_x);
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Reference twin: plain loops, dot products in double, ranked in double
 * ------------------------------------------------------------------------------------------- */

sg_status sg_topk_dot_rows_ref(const float *A, int64_t n, int64_t lda, const float *B, int64_t m,
                               int64_t ldb, int64_t dim, int64_t k, int32_t *out_idx,
                               float *out_score) {
    sg_status st = topk_rows_check(A, n, lda, B, m, ldb, dim, k, out_idx, out_score);
    if (st != SG_OK) return st;
    double *best = malloc((size_t)k * sizeof(double));
    if (!best) return SG_ERR_ALLOC;
    for (int64_t i = 0; i < n; i++) {
        const float *a = A + i * lda;
        int32_t *oi = out_idx + i * k;
        int64_t cnt = 0;
        /* Sorted insertion into the k best (descending; equal scores keep the earlier index). */
        for (int64_t j = 0; j < m; j++) {
            const double v = sg__dot_exact(a, B + j * ldb, dim);
            if (cnt == k && !(v > best[k - 1])) continue;
            int64_t t = cnt < k ? cnt++ : k - 1;
            while (t > 0 && v > best[t - 1]) {
                best[t] = best[t - 1];
                oi[t] = oi[t - 1];
                t--;
            }
            best[t] = v;
            oi[t] = (int32_t)j;
        }
        for (int64_t t = 0; t < k; t++) out_score[i * k + t] = (float)best[t];
    }
    free(best);
    return SG_OK;
}
