/* csr.c — CSR graph validation, construction and row-wise set algebra.
 *
 * Every producing function follows the same shape so that results never depend on the thread
 * count: (1) validate all inputs, (2) count each output row independently (parallel over rows),
 * (3) a serial prefix sum turns the counts into out_row_ptr, (4) compare the total with the
 * capacity before any column index is written, (5) fill each row independently (parallel).
 * Each row's output slot is fixed by step 3, so threads never share a write location.
 *
 * Conventions shared by the producers (not spelled out in the header):
 *  - On SG_ERR_CAPACITY, out_row_ptr holds the would-be row pointers and *out_nnz the number of
 *    column indices needed, so a caller can grow its buffer and retry.
 *  - out_col_idx may be NULL when capacity == 0 (Swift passes empty arrays as NULL).
 *  - Output buffers must not overlap the input graphs.
 */
#include "internal.h"

/* Parallel loops below take the OpenMP path only when there is enough work to amortise waking
 * the team; the result is identical either way. */
#define SG_CSR_PAR_MIN 4096

/* Row loops use schedule(static, chunk): interleaved chunks balance uneven rows, and the dynamic
 * and guided schedules make Swift's clang emit __kmpc_dispatch_deinit, which the system libomp
 * (LLVM 14) does not export. */

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorts ascending. Neighbour rows are usually short, where insertion sort beats qsort's
 * per-call overhead; equal int32 keys are indistinguishable so stability is irrelevant. */
static void sort_i32(int32_t *v, int64_t n) {
    if (n <= 32) {
        for (int64_t i = 1; i < n; i++) {
            int32_t x = v[i];
            int64_t j = i - 1;
            while (j >= 0 && v[j] > x) { v[j + 1] = v[j]; j--; }
            v[j + 1] = x;
        }
    } else {
        qsort(v, (size_t)n, sizeof(int32_t), cmp_i32);
    }
}

/* Removes adjacent duplicates of a sorted array in place; returns the new length. */
static int64_t unique_i32(int32_t *v, int64_t n) {
    if (n == 0) return 0;
    int64_t m = 1;
    for (int64_t i = 1; i < n; i++)
        if (v[i] != v[m - 1]) v[m++] = v[i];
    return m;
}

static sg_status check_outputs(const int64_t *out_row_ptr, const int32_t *out_col_idx,
                               int64_t capacity, const int64_t *out_nnz) {
    if (!out_row_ptr || !out_nnz) return SG_ERR_NULL;
    if (capacity < 0) return SG_ERR_SIZE;
    if (capacity > 0 && !out_col_idx) return SG_ERR_NULL;
    return SG_OK;
}

/* Step 3 and 4 of every producer: out_row_ptr[i + 1] holds row i's count on entry. */
static sg_status finish_row_ptr(int64_t n_rows, int64_t *out_row_ptr, int64_t capacity,
                                int64_t *out_nnz) {
    out_row_ptr[0] = 0;
    for (int64_t i = 0; i < n_rows; i++) out_row_ptr[i + 1] += out_row_ptr[i];
    *out_nnz = out_row_ptr[n_rows];
    return out_row_ptr[n_rows] > capacity ? SG_ERR_CAPACITY : SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------------------------- */

sg_status sg_csr_validate(int64_t n_rows, int64_t n_cols,
                          const int64_t *row_ptr, const int32_t *col_idx) {
    /* Both dimensions are node counts: rows become int32 column indices after a transpose. */
    if (n_rows < 1 || n_cols < 1 || n_rows > INT32_MAX || n_cols > INT32_MAX) return SG_ERR_SIZE;
    if (!row_ptr) return SG_ERR_NULL;
    if (row_ptr[0] != 0) return SG_ERR_GRAPH;
    /* Ordering is checked before the difference is formed so garbage pointers cannot overflow. A
     * row longer than n_cols cannot be strictly increasing within [0, n_cols); rejecting it here
     * bounds nnz by n_rows * n_cols before col_idx is touched. */
    for (int64_t i = 0; i < n_rows; i++) {
        if (row_ptr[i + 1] < row_ptr[i] || row_ptr[i + 1] - row_ptr[i] > n_cols) return SG_ERR_GRAPH;
    }
    int64_t nnz = row_ptr[n_rows];
    if (nnz > 0 && !col_idx) return SG_ERR_NULL;

    int bad = 0;
    #pragma omp parallel for reduction(|:bad) schedule(static, 256) if(nnz > SG_CSR_PAR_MIN)
    for (int64_t i = 0; i < n_rows; i++) {
        int64_t prev = -1;
        for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; e++) {
            int64_t c = col_idx[e];
            bad |= (c <= prev) | (c >= n_cols);
            prev = c;
        }
    }
    return bad ? SG_ERR_GRAPH : SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Construction
 * ------------------------------------------------------------------------------------------- */

/* Gathers row i's non-negative neighbours into buf, sorted and deduplicated; returns the count. */
static int64_t neighbor_row(const int32_t *row, int64_t k, int32_t *buf) {
    int64_t m = 0;
    for (int64_t j = 0; j < k; j++)
        if (row[j] >= 0) buf[m++] = row[j];
    sort_i32(buf, m);
    return unique_i32(buf, m);
}

/* An index >= n_cols is reported as SG_ERR_GRAPH (a malformed graph description, like an
 * out-of-range column in a CSR input), not SG_ERR_SIZE (which is about the size arguments). */
sg_status sg_csr_from_neighbors(int64_t n_rows, int64_t n_cols, const int32_t *idx, int64_t k,
                                int64_t ldi, int64_t *out_row_ptr, int32_t *out_col_idx,
                                int64_t capacity, int64_t *out_nnz) {
    if (!idx) return SG_ERR_NULL;
    sg_status st = check_outputs(out_row_ptr, out_col_idx, capacity, out_nnz);
    if (st != SG_OK) return st;
    if (n_rows < 1 || n_cols < 1 || n_rows > INT32_MAX || n_cols > INT32_MAX || k < 1)
        return SG_ERR_SIZE;
    if (ldi < k) return SG_ERR_SHAPE;
    if (ldi > INT64_MAX / n_rows) return SG_ERR_SIZE;

    int bad = 0;
    #pragma omp parallel for reduction(|:bad) schedule(static) if(n_rows * k > SG_CSR_PAR_MIN)
    for (int64_t i = 0; i < n_rows; i++) {
        const int32_t *row = idx + i * ldi;
        for (int64_t j = 0; j < k; j++) bad |= row[j] >= n_cols;
    }
    if (bad) return SG_ERR_GRAPH;

    /* One k-sized scratch row per thread: rows are sorted twice (count, then fill) instead of
     * keeping an n_rows x k copy alive. */
    int nt = sg__threads(0);
    int32_t *scratch = malloc((size_t)nt * (size_t)k * sizeof(int32_t));
    if (!scratch) return SG_ERR_ALLOC;
    int par = n_rows * k > SG_CSR_PAR_MIN;

    #pragma omp parallel for num_threads(nt) schedule(static, 64) if(par)
    for (int64_t i = 0; i < n_rows; i++) {
        int32_t *buf = scratch + (size_t)omp_get_thread_num() * (size_t)k;
        out_row_ptr[i + 1] = neighbor_row(idx + i * ldi, k, buf);
    }
    st = finish_row_ptr(n_rows, out_row_ptr, capacity, out_nnz);
    if (st == SG_OK) {
        #pragma omp parallel for num_threads(nt) schedule(static, 64) if(par)
        for (int64_t i = 0; i < n_rows; i++) {
            int32_t *buf = scratch + (size_t)omp_get_thread_num() * (size_t)k;
            int64_t m = neighbor_row(idx + i * ldi, k, buf);
            if (m > 0) memcpy(out_col_idx + out_row_ptr[i], buf, (size_t)m * sizeof(int32_t));
        }
    }
    free(scratch);
    return st;
}

sg_status sg_csr_from_edges(int64_t n_rows, int64_t n_cols, const int32_t *rows,
                            const int32_t *cols, int64_t n_edges, int32_t symmetric,
                            int64_t *out_row_ptr, int32_t *out_col_idx, int64_t capacity,
                            int64_t *out_nnz) {
    sg_status st = check_outputs(out_row_ptr, out_col_idx, capacity, out_nnz);
    if (st != SG_OK) return st;
    if (n_edges > 0 && (!rows || !cols)) return SG_ERR_NULL;
    if (n_rows < 1 || n_cols < 1 || n_rows > INT32_MAX || n_cols > INT32_MAX || n_edges < 0 ||
        n_edges > INT64_MAX / 2)
        return SG_ERR_SIZE;
    if (symmetric != 0 && symmetric != 1) return SG_ERR_ARGUMENT;
    if (symmetric && n_rows != n_cols) return SG_ERR_SHAPE;
    for (int64_t e = 0; e < n_edges; e++) {
        if (rows[e] < 0 || rows[e] >= n_rows || cols[e] < 0 || cols[e] >= n_cols)
            return SG_ERR_GRAPH;
    }

    int64_t total = n_edges * (1 + symmetric);
    int64_t *start = calloc((size_t)n_rows + 1, sizeof(int64_t));
    int32_t *buf = malloc((size_t)(total > 0 ? total : 1) * sizeof(int32_t));
    if (!start || !buf) { free(start); free(buf); return SG_ERR_ALLOC; }

    /* Counting sort by row into buf. The scatter uses start[r] as the cursor, which leaves
     * start[r] at the end of row r; shifting by one restores the row starts. */
    for (int64_t e = 0; e < n_edges; e++) {
        start[rows[e] + 1]++;
        if (symmetric) start[cols[e] + 1]++;
    }
    for (int64_t i = 0; i < n_rows; i++) start[i + 1] += start[i];
    for (int64_t e = 0; e < n_edges; e++) {
        buf[start[rows[e]]++] = cols[e];
        if (symmetric) buf[start[cols[e]]++] = rows[e];
    }
    for (int64_t i = n_rows; i > 0; i--) start[i] = start[i - 1];
    start[0] = 0;

    /* Sort + dedupe compacts each row at the front of its own segment of buf. */
    #pragma omp parallel for schedule(static, 64) if(total > SG_CSR_PAR_MIN)
    for (int64_t i = 0; i < n_rows; i++) {
        int32_t *seg = buf + start[i];
        int64_t len = start[i + 1] - start[i];
        sort_i32(seg, len);
        out_row_ptr[i + 1] = unique_i32(seg, len);
    }
    st = finish_row_ptr(n_rows, out_row_ptr, capacity, out_nnz);
    if (st == SG_OK) {
        #pragma omp parallel for schedule(static, 64) if(total > SG_CSR_PAR_MIN)
        for (int64_t i = 0; i < n_rows; i++) {
            int64_t m = out_row_ptr[i + 1] - out_row_ptr[i];
            if (m > 0)
                memcpy(out_col_idx + out_row_ptr[i], buf + start[i], (size_t)m * sizeof(int32_t));
        }
    }
    free(start);
    free(buf);
    return st;
}

/* Transpose of an already validated graph; out_col_idx must hold nnz entries. Scanning rows in
 * increasing order makes every output row come out sorted without a sort. */
static void transpose_raw(int64_t n_rows, int64_t n_cols, const int64_t *row_ptr,
                          const int32_t *col_idx, int64_t *out_row_ptr, int32_t *out_col_idx) {
    int64_t nnz = row_ptr[n_rows];
    memset(out_row_ptr, 0, ((size_t)n_cols + 1) * sizeof(int64_t));
    for (int64_t e = 0; e < nnz; e++) out_row_ptr[col_idx[e] + 1]++;
    for (int64_t c = 0; c < n_cols; c++) out_row_ptr[c + 1] += out_row_ptr[c];
    for (int64_t i = 0; i < n_rows; i++)
        for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; e++)
            out_col_idx[out_row_ptr[col_idx[e]]++] = (int32_t)i;
    /* The scatter advanced each start to the next row's start; shift back. */
    for (int64_t c = n_cols; c > 0; c--) out_row_ptr[c] = out_row_ptr[c - 1];
    out_row_ptr[0] = 0;
}

sg_status sg_csr_transpose(int64_t n_rows, int64_t n_cols, const int64_t *row_ptr,
                           const int32_t *col_idx, int64_t *out_row_ptr, int32_t *out_col_idx,
                           int64_t capacity, int64_t *out_nnz) {
    sg_status st = check_outputs(out_row_ptr, out_col_idx, capacity, out_nnz);
    if (st != SG_OK) return st;
    st = sg_csr_validate(n_rows, n_cols, row_ptr, col_idx);
    if (st != SG_OK) return st;
    int64_t nnz = row_ptr[n_rows];
    *out_nnz = nnz;
    if (nnz > capacity) {
        /* Keep the documented "row pointers on capacity failure" behaviour without scattering. */
        memset(out_row_ptr, 0, ((size_t)n_cols + 1) * sizeof(int64_t));
        for (int64_t e = 0; e < nnz; e++) out_row_ptr[col_idx[e] + 1]++;
        for (int64_t c = 0; c < n_cols; c++) out_row_ptr[c + 1] += out_row_ptr[c];
        return SG_ERR_CAPACITY;
    }
    transpose_raw(n_rows, n_cols, row_ptr, col_idx, out_row_ptr, out_col_idx);
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Set algebra
 * ------------------------------------------------------------------------------------------- */

/* Merges two sorted rows; counts only when out == NULL so the count and fill passes share one
 * definition and cannot disagree. */
static int64_t merge_rows(sg_set_op op, const int32_t *a, int64_t na, const int32_t *b,
                          int64_t nb, int32_t *out) {
    int64_t i = 0, j = 0, m = 0;
    switch (op) {
    case SG_SET_UNION:
        while (i < na && j < nb) {
            int32_t x;
            if (a[i] < b[j]) x = a[i++];
            else if (b[j] < a[i]) x = b[j++];
            else { x = a[i++]; j++; }
            if (out) out[m] = x;
            m++;
        }
        for (; i < na; i++, m++) if (out) out[m] = a[i];
        for (; j < nb; j++, m++) if (out) out[m] = b[j];
        break;
    case SG_SET_INTERSECTION:
        while (i < na && j < nb) {
            if (a[i] < b[j]) i++;
            else if (b[j] < a[i]) j++;
            else { if (out) out[m] = a[i]; m++; i++; j++; }
        }
        break;
    case SG_SET_DIFFERENCE:
        while (i < na) {
            while (j < nb && b[j] < a[i]) j++;
            if (j >= nb || b[j] != a[i]) { if (out) out[m] = a[i]; m++; }
            i++;
        }
        break;
    }
    return m;
}

/* Set operation on validated graphs of equal shape. */
static sg_status set_op_raw(sg_set_op op, int64_t n_rows, const int64_t *ap, const int32_t *ac,
                            const int64_t *bp, const int32_t *bc, int64_t *out_row_ptr,
                            int32_t *out_col_idx, int64_t capacity, int64_t *out_nnz, int nt) {
    int par = ap[n_rows] + bp[n_rows] > SG_CSR_PAR_MIN;
    #pragma omp parallel for num_threads(nt) schedule(static, 256) if(par)
    for (int64_t i = 0; i < n_rows; i++)
        out_row_ptr[i + 1] = merge_rows(op, ac + ap[i], ap[i + 1] - ap[i], bc + bp[i],
                                        bp[i + 1] - bp[i], NULL);
    sg_status st = finish_row_ptr(n_rows, out_row_ptr, capacity, out_nnz);
    if (st != SG_OK) return st;
    #pragma omp parallel for num_threads(nt) schedule(static, 256) if(par)
    for (int64_t i = 0; i < n_rows; i++)
        merge_rows(op, ac + ap[i], ap[i + 1] - ap[i], bc + bp[i], bp[i + 1] - bp[i],
                   out_col_idx + out_row_ptr[i]);
    return SG_OK;
}

sg_status sg_csr_set_op(sg_set_op op, int64_t n_rows, int64_t n_cols,
                        const int64_t *a_row_ptr, const int32_t *a_col_idx,
                        const int64_t *b_row_ptr, const int32_t *b_col_idx,
                        int64_t *out_row_ptr, int32_t *out_col_idx, int64_t capacity,
                        int64_t *out_nnz, int32_t n_threads) {
    sg_status st = check_outputs(out_row_ptr, out_col_idx, capacity, out_nnz);
    if (st != SG_OK) return st;
    if (op != SG_SET_UNION && op != SG_SET_INTERSECTION && op != SG_SET_DIFFERENCE)
        return SG_ERR_ARGUMENT;
    if ((st = sg_csr_validate(n_rows, n_cols, a_row_ptr, a_col_idx)) != SG_OK) return st;
    if ((st = sg_csr_validate(n_rows, n_cols, b_row_ptr, b_col_idx)) != SG_OK) return st;
    return set_op_raw(op, n_rows, a_row_ptr, a_col_idx, b_row_ptr, b_col_idx, out_row_ptr,
                      out_col_idx, capacity, out_nnz, sg__threads(n_threads));
}

sg_status sg_csr_symmetrize(int64_t n, const int64_t *row_ptr, const int32_t *col_idx,
                            int64_t *out_row_ptr, int32_t *out_col_idx, int64_t capacity,
                            int64_t *out_nnz, int32_t n_threads) {
    sg_status st = check_outputs(out_row_ptr, out_col_idx, capacity, out_nnz);
    if (st != SG_OK) return st;
    if ((st = sg_csr_validate(n, n, row_ptr, col_idx)) != SG_OK) return st;
    int64_t nnz = row_ptr[n];
    int64_t *tp = malloc(((size_t)n + 1) * sizeof(int64_t));
    int32_t *tc = malloc((size_t)(nnz > 0 ? nnz : 1) * sizeof(int32_t));
    if (!tp || !tc) { free(tp); free(tc); return SG_ERR_ALLOC; }
    transpose_raw(n, n, row_ptr, col_idx, tp, tc);
    st = set_op_raw(SG_SET_UNION, n, row_ptr, col_idx, tp, tc, out_row_ptr, out_col_idx,
                    capacity, out_nnz, sg__threads(n_threads));
    free(tp);
    free(tc);
    return st;
}

/* 1 if the sorted row contains v. */
static int row_contains(const int32_t *row, int64_t len, int32_t v) {
    int64_t lo = 0, hi = len;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (row[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo < len && row[lo] == v;
}

sg_status sg_csr_self_loops(int64_t n, const int64_t *row_ptr, const int32_t *col_idx, int32_t add,
                            int64_t *out_row_ptr, int32_t *out_col_idx, int64_t capacity,
                            int64_t *out_nnz, int32_t n_threads) {
    sg_status st = check_outputs(out_row_ptr, out_col_idx, capacity, out_nnz);
    if (st != SG_OK) return st;
    if (add != 0 && add != 1) return SG_ERR_ARGUMENT;
    if ((st = sg_csr_validate(n, n, row_ptr, col_idx)) != SG_OK) return st;
    int nt = sg__threads(n_threads);
    int par = row_ptr[n] + n > SG_CSR_PAR_MIN;

    #pragma omp parallel for num_threads(nt) schedule(static, 256) if(par)
    for (int64_t i = 0; i < n; i++) {
        int64_t len = row_ptr[i + 1] - row_ptr[i];
        int has = row_contains(col_idx + row_ptr[i], len, (int32_t)i);
        out_row_ptr[i + 1] = add ? len + !has : len - has;
    }
    if ((st = finish_row_ptr(n, out_row_ptr, capacity, out_nnz)) != SG_OK) return st;

    #pragma omp parallel for num_threads(nt) schedule(static, 256) if(par)
    for (int64_t i = 0; i < n; i++) {
        int32_t *out = out_col_idx + out_row_ptr[i];
        int32_t self = (int32_t)i;
        int64_t m = 0;
        int placed = 0;
        for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; e++) {
            int32_t c = col_idx[e];
            if (c == self && !add) continue;
            if (add && !placed && c >= self) {
                out[m++] = self;
                placed = 1;
                if (c == self) continue;
            }
            out[m++] = c;
        }
        if (add && !placed) out[m++] = self;
    }
    return SG_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Dense mask
 * ------------------------------------------------------------------------------------------- */

/* Only the first n_cols bytes of each row are written; stride padding is left untouched. */
sg_status sg_csr_to_mask(int64_t n_rows, int64_t n_cols, const int64_t *row_ptr,
                         const int32_t *col_idx, uint8_t *mask, int64_t ldm) {
    if (!mask) return SG_ERR_NULL;
    sg_status st = sg_csr_validate(n_rows, n_cols, row_ptr, col_idx);
    if (st != SG_OK) return st;
    if (ldm < n_cols) return SG_ERR_SHAPE;
    if (ldm > INT64_MAX / n_rows) return SG_ERR_SIZE;

    #pragma omp parallel for schedule(static) if(n_rows * n_cols > (int64_t)SG_CSR_PAR_MIN * 16)
    for (int64_t i = 0; i < n_rows; i++) {
        uint8_t *row = mask + i * ldm;
        memset(row, 0, (size_t)n_cols);
        for (int64_t e = row_ptr[i]; e < row_ptr[i + 1]; e++) row[col_idx[e]] = 1;
    }
    return SG_OK;
}
