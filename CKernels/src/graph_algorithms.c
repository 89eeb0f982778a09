/* graph_algorithms.c — graph constructions over point sets: equal spatial partition, Euclidean
 * minimum spanning tree, diverse neighbour selection.
 *
 * Each result is a function of the input alone: orders are total (ties go to the lower index)
 * and parallel loops only split independent work or reduce in a fixed order.
 */
#include "internal.h"


/* Shared shape checks for a point matrix (n rows of dim, stride ld, int32 node ids). */
static sg_status check_points(const float *points, int64_t n, int64_t dim, int64_t ld) {
    if (n < 1 || n > (int64_t)INT32_MAX || dim < 1) return SG_ERR_SIZE;
    if (ld < dim) return SG_ERR_SHAPE;
    if (n - 1 > (INT64_MAX - dim) / ld) return SG_ERR_SIZE;
    if (!sg__rows_finite(points, n, dim, ld)) return SG_ERR_NONFINITE;
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Equal partition by recursive median bisection
 * ------------------------------------------------------------------------------------------- */

typedef struct part_item {
    float key;   /* coordinate along the current split axis */
    int32_t idx; /* point index: breaks ties, so the order is total */
} part_item;

static inline int item_less(part_item a, part_item b) {
    return a.key < b.key || (a.key == b.key && a.idx < b.idx);
}

static inline void item_swap(part_item *v, int64_t x, int64_t y) {
    part_item t = v[x]; v[x] = v[y]; v[y] = t;
}

/* Moves the kth smallest items (by key, then index) to v[0..kth). Median-of-three quickselect;
 * after 2 log2(cnt) + 8 unlucky rounds it finishes with a heap selection, so adversarial inputs
 * (e.g. many equal coordinates in a crafted order) stay O(cnt log cnt). */
static void heap_sift(part_item *v, int64_t cnt, int64_t i) {
    /* Max-heap on item_less. */
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < cnt && item_less(v[w], v[l])) w = l;
        if (r < cnt && item_less(v[w], v[r])) w = r;
        if (w == i) return;
        item_swap(v, i, w);
        i = w;
    }
}

static void select_items(part_item *v, int64_t cnt, int64_t kth) {
    if (kth <= 0 || kth >= cnt) return;
    int64_t lo = 0, hi = cnt - 1, budget = 8;
    for (int64_t c = cnt; c > 1; c >>= 1) budget += 2;
    while (hi > lo) {
        if (budget-- == 0) {
            /* Heap selection on v[lo..hi]: keep the (kth - lo) smallest in a max-heap. */
            part_item *w = v + lo;
            const int64_t len = hi - lo + 1, keep = kth - lo;
            for (int64_t i = keep / 2 - 1; i >= 0; i--) heap_sift(w, keep, i);
            for (int64_t i = keep; i < len; i++) {
                if (item_less(w[i], w[0])) {
                    item_swap(w, 0, i);
                    heap_sift(w, keep, 0);
                }
            }
            return;
        }
        const int64_t mid = lo + (hi - lo) / 2;
        if (item_less(v[mid], v[lo])) item_swap(v, mid, lo);
        if (item_less(v[hi], v[lo])) item_swap(v, hi, lo);
        if (item_less(v[mid], v[hi])) item_swap(v, mid, hi);
        const part_item p = v[hi];
        int64_t store = lo;
        for (int64_t x = lo; x < hi; x++)
            if (item_less(v[x], p)) item_swap(v, x, store++);
        item_swap(v, store, hi);
        if (store == kth || store == kth - 1) return;
        if (store < kth) lo = store + 1;
        else hi = store - 1;
    }
}

typedef struct part_ctx {
    const float *points;
    int64_t dim, ld;
    int64_t base, rem; /* group g has base + (g < rem) points */
    int32_t *out_group;
} part_ctx;

/* Number of points in groups [g0, g0 + cnt). */
static inline int64_t groups_size(const part_ctx *c, int64_t g0, int64_t cnt) {
    int64_t big = c->rem - g0;
    big = big < 0 ? 0 : (big > cnt ? cnt : big);
    return cnt * c->base + big;
}

/* Splits v[0..cnt) into groups [g0, g0 + g). Recursion depth is log2(groups) <= 31. */
static void partition_rec(const part_ctx *c, part_item *v, int64_t cnt, int64_t g0, int64_t g) {
    if (g == 1) {
        for (int64_t s = 0; s < cnt; s++) c->out_group[v[s].idx] = (int32_t)g0;
        return;
    }
    /* Axis of largest spread (the lower axis on ties), measured in double. */
    int64_t axis = 0;
    double best = -1.0;
    for (int64_t t = 0; t < c->dim; t++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int64_t s = 0; s < cnt; s++) {
            double x = c->points[(int64_t)v[s].idx * c->ld + t];
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        if (hi - lo > best) {
            best = hi - lo;
            axis = t;
        }
    }
    for (int64_t s = 0; s < cnt; s++) v[s].key = c->points[(int64_t)v[s].idx * c->ld + axis];
    const int64_t gl = g / 2, gr = g - gl;
    /* The left half gets exactly the points of its groups, so every group ends at its size. */
    const int64_t left = groups_size(c, g0, gl);
    select_items(v, cnt, left);
    partition_rec(c, v, left, g0, gl);
    partition_rec(c, v + left, cnt - left, g0 + gl, gr);
}

sg_status sg_partition_equal(const float *points, int64_t n, int64_t dim, int64_t ld,
                             int64_t groups, int32_t *out_group) {
    if (!points || !out_group) return SG_ERR_NULL;
    sg_status st = check_points(points, n, dim, ld);
    if (st != SG_OK) return st;
    if (groups < 1 || groups > n) return SG_ERR_SIZE;

    part_item *v = malloc((size_t)n * sizeof(part_item));
    if (!v) return SG_ERR_ALLOC;
    for (int64_t i = 0; i < n; i++) {
        v[i].key = 0.0f;
        v[i].idx = (int32_t)i;
    }
    part_ctx c = {points, dim, ld, n / groups, n % groups, out_group};
    partition_rec(&c, v, n, 0, groups);
    free(v);
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Euclidean minimum spanning tree (Prim on the complete graph)
 * ------------------------------------------------------------------------------------------- */

/* Below this much work per step (points x dim) the team is not woken: a step costs less than
 * the barriers it would need. The tree is the same either way. */
#define SG_MST_PAR_MIN 16384

typedef struct mst_best {
    float dist;  /* squared distance to the tree */
    int32_t idx; /* node, or -1 when the thread's slice has no node left outside the tree */
} mst_best;

static inline int mst_better(mst_best a, mst_best b) {
    if (a.idx < 0) return 0;
    if (b.idx < 0) return 1;
    return a.dist < b.dist || (a.dist == b.dist && a.idx < b.idx);
}

/* Relaxes nodes [lo, hi) against the node u just added and returns the slice's closest node. */
static mst_best mst_relax(const float *points, int64_t dim, int64_t ld, int32_t u, int64_t lo,
                          int64_t hi, float *best, int32_t *par, const unsigned char *in_tree) {
    const float *pu = points + (int64_t)u * ld;
    mst_best m = {INFINITY, -1};
    for (int64_t v = lo; v < hi; v++) {
        if (in_tree[v]) continue;
        const float d = sg__dist2_exact(pu, points + v * ld, dim);
        /* par < 0: not reached yet (its distance may be +inf after overflow, so compare
         * nothing); among equal distances the lower parent index wins. */
        if (par[v] < 0 || d < best[v] || (d == best[v] && u < par[v])) {
            best[v] = d;
            par[v] = u;
        }
        mst_best cand = {best[v], (int32_t)v};
        if (mst_better(cand, m)) m = cand;
    }
    return m;
}

sg_status sg_mst_euclidean(const float *points, int64_t n, int64_t dim, int64_t ld,
                           int32_t *out_parent, float *out_length, int32_t n_threads) {
    if (!points || !out_parent) return SG_ERR_NULL;
    sg_status st = check_points(points, n, dim, ld);
    if (st != SG_OK) return st;

    out_parent[0] = -1;
    if (out_length) out_length[0] = 0.0f;
    if (n == 1) return SG_OK;

    int nt = sg__threads(n_threads);
    if (n * dim < SG_MST_PAR_MIN) nt = 1;
    float *best = malloc((size_t)n * sizeof(float));
    int32_t *par = malloc((size_t)n * sizeof(int32_t));
    unsigned char *in_tree = calloc((size_t)n, 1);
    mst_best *slot = malloc((size_t)nt * sizeof(mst_best));
    if (!best || !par || !in_tree || !slot) {
        free(best); free(par); free(in_tree); free(slot);
        return SG_ERR_ALLOC;
    }
    for (int64_t v = 0; v < n; v++) {
        best[v] = INFINITY;
        par[v] = -1;
    }
    in_tree[0] = 1;
    int32_t u = 0; /* the node added last */

    if (nt == 1) {
        for (int64_t step = 1; step < n; step++) {
            mst_best m = mst_relax(points, dim, ld, u, 0, n, best, par, in_tree);
            u = m.idx;
            in_tree[u] = 1;
            out_parent[u] = par[u];
            if (out_length) out_length[u] = (float)sqrt((double)best[u]);
        }
    } else {
        /* One team for all steps: each thread relaxes a fixed slice, then one thread reduces the
         * per-slice minima in slice order. The minimum under (distance, index) is unique, so the
         * tree does not depend on the thread count. */
#pragma omp parallel num_threads(nt)
        {
            const int tid = omp_get_thread_num(), team = omp_get_num_threads();
            const int64_t lo = n * tid / team, hi = n * (tid + 1) / team;
            for (int64_t step = 1; step < n; step++) {
                slot[tid] = mst_relax(points, dim, ld, u, lo, hi, best, par, in_tree);
#pragma omp barrier
#pragma omp single
                {
                    mst_best m = slot[0];
                    for (int s = 1; s < team; s++)
                        if (mst_better(slot[s], m)) m = slot[s];
                    u = m.idx;
                    in_tree[u] = 1;
                    out_parent[u] = par[u];
                    if (out_length) out_length[u] = (float)sqrt((double)best[u]);
                }
                /* The implicit barrier of `single` publishes u before the next step. */
            }
        }
    }
    free(best); free(par); free(in_tree); free(slot);
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Diverse neighbour selection
 * ------------------------------------------------------------------------------------------- */

typedef struct div_ctx {
    const float *features;
    int64_t f_dim, ldf;
    int32_t use_offsets;
    double alpha, beta;
} div_ctx;

/* <u_a, u_b> in double, with u_j = f_j - f_i (offsets) or f_j. */
static inline double div_dot(const div_ctx *c, const float *fi, int32_t a, int32_t b) {
    const float *fa = c->features + (int64_t)a * c->ldf, *fb = c->features + (int64_t)b * c->ldf;
    double s = 0.0;
    if (c->use_offsets) {
        for (int64_t t = 0; t < c->f_dim; t++)
            s += ((double)fa[t] - (double)fi[t]) * ((double)fb[t] - (double)fi[t]);
    } else {
        for (int64_t t = 0; t < c->f_dim; t++) s += (double)fa[t] * (double)fb[t];
    }
    return s;
}

/* One row. Scratch: n_cand each of rank, score parts and flags. */
static void diverse_row(const div_ctx *c, int64_t i, const int32_t *cidx, const float *cdist,
                        int64_t n_cand, int64_t k, int32_t *out, int32_t *rank, double *close,
                        double *norm, double *red, unsigned char *taken) {
    const float *fi = c->features + i * c->ldf;
    int64_t nv = 0;
    double dmax = 0.0;
    for (int64_t r = 0; r < n_cand; r++) {
        if (cidx[r] < 0) continue;
        rank[nv++] = (int32_t)r;
        dmax = (double)cdist[r] > dmax ? (double)cdist[r] : dmax;
    }
    for (int64_t v = 0; v < nv; v++) {
        const int32_t j = cidx[rank[v]];
        close[v] = dmax > 0.0 ? 1.0 - (double)cdist[rank[v]] / dmax : 1.0;
        norm[v] = sqrt(div_dot(c, fi, j, j));
        red[v] = 0.0; /* "0 for the first pick" */
        taken[v] = 0;
    }
    int64_t picked = 0;
    while (picked < k) {
        int64_t w = -1;
        double ws = 0.0;
        for (int64_t v = 0; v < nv; v++) {
            if (taken[v]) continue;
            const double sc = c->alpha * close[v] - c->beta * red[v];
            /* Candidates are scanned in rank order: strict > keeps the lower rank on ties. */
            if (w < 0 || sc > ws) {
                w = v;
                ws = sc;
            }
        }
        if (w < 0) break;
        const int32_t jw = cidx[rank[w]];
        out[picked] = jw;
        /* A repeated candidate index would only duplicate the pick: retire all copies. */
        for (int64_t v = 0; v < nv; v++)
            if (cidx[rank[v]] == jw) taken[v] = 1;
        for (int64_t v = 0; v < nv; v++) {
            if (taken[v]) continue;
            const double den = norm[v] * norm[w];
            const double cs = den > 0.0 ? div_dot(c, fi, cidx[rank[v]], jw) / den : 0.0;
            /* redundancy is the max over the chosen set, which may be negative once it is
             * non-empty; before the first pick it is 0. */
            red[v] = picked == 0 ? cs : (cs > red[v] ? cs : red[v]);
        }
        picked++;
    }
    for (int64_t t = picked; t < k; t++) out[t] = -1;
}

sg_status sg_diverse_neighbors(const float *features, int64_t n, int64_t f_dim, int64_t ldf,
                               int32_t use_offsets, const int32_t *cand_idx,
                               const float *cand_dist, int64_t n_cand, int64_t ldc, int64_t k,
                               float alpha, float beta, int32_t *out_idx, int32_t n_threads) {
    if (!features || !cand_idx || !cand_dist || !out_idx) return SG_ERR_NULL;
    if (n < 1 || n > (int64_t)INT32_MAX || f_dim < 1 || n_cand < 1 || k < 1 || k > n_cand)
        return SG_ERR_SIZE;
    if (ldf < f_dim || ldc < n_cand) return SG_ERR_SHAPE;
    if (n - 1 > (INT64_MAX - f_dim) / ldf || n - 1 > (INT64_MAX - n_cand) / ldc ||
        n > INT64_MAX / k)
        return SG_ERR_SIZE;
    if (use_offsets != 0 && use_offsets != 1) return SG_ERR_ARGUMENT;
    if (!isfinite(alpha) || !isfinite(beta)) return SG_ERR_NONFINITE;
    if (alpha < 0.0f || beta < 0.0f) return SG_ERR_ARGUMENT;
    if (!sg__rows_finite(features, n, f_dim, ldf)) return SG_ERR_NONFINITE;
    /* Only entries naming a candidate are read; padding (index < 0) may hold anything. */
    for (int64_t i = 0; i < n; i++) {
        for (int64_t r = 0; r < n_cand; r++) {
            const int32_t j = cand_idx[i * ldc + r];
            if (j < 0) continue;
            if (j >= n) return SG_ERR_ARGUMENT;
            const float d = cand_dist[i * ldc + r];
            if (!isfinite(d)) return SG_ERR_NONFINITE;
            if (d < 0.0f) return SG_ERR_ARGUMENT;
        }
    }

    const int nt = sg__threads(n_threads);
    /* Per thread: rank (int32) + close, norm, red (double) + taken (byte) per candidate. */
    int64_t per = n_cand * (int64_t)(sizeof(int32_t) + 3 * sizeof(double) + 1);
    per = (per + 15) / 16 * 16; /* keeps every thread's doubles aligned */
    unsigned char *scratch = malloc((size_t)(per * nt));
    if (!scratch) return SG_ERR_ALLOC;
    const div_ctx c = {features, f_dim, ldf, use_offsets, (double)alpha, (double)beta};

#pragma omp parallel num_threads(nt)
    {
        unsigned char *own = scratch + per * omp_get_thread_num();
        double *close = (double *)own;
        double *norm = close + n_cand;
        double *red = norm + n_cand;
        int32_t *rank = (int32_t *)(red + n_cand);
        unsigned char *taken = (unsigned char *)(rank + n_cand);
        /* Rows cost about the same (k x n_cand x f_dim), so a static split is balanced. */
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++)
            diverse_row(&c, i, cand_idx + i * ldc, cand_dist + i * ldc, n_cand, k, out_idx + i * k,
                        rank, close, norm, red, taken);
    }
    free(scratch);
    return SG_OK;
}
