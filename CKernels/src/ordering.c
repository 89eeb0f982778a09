/* ordering.c — node orderings: a Hilbert-curve order of 2-D points.
 *
 * Renumbering keypoints along a space-filling curve gives spatial neighbours nearby indices, so
 * the K / V rows a sparse-attention row gathers over its k-NN edges sit close together in memory
 * and are reused from cache by the next rows. The order is a function of the input alone.
 */
#include "internal.h"

/* Bits per axis of the quantisation grid (2^16 x 2^16 cells; a Hilbert index fits in 32 bits). */
#define SG_ORDER_BITS 16

/* Position of cell (x, y), x, y < 2^16, along the Hilbert curve of order 16. Classic recursion
 * from the top quadrant down: at each level the quadrant contributes its rank along the curve
 * (0 lower left, 1 upper left, 2 upper right, 3 lower right), then the cell coordinates are
 * reflected / transposed into that quadrant's frame. */
static inline uint32_t hilbert_index(uint32_t x, uint32_t y) {
    uint32_t d = 0;
    for (uint32_t s = 1u << (SG_ORDER_BITS - 1); s > 0; s >>= 1) {
        const uint32_t rx = (x & s) ? 1u : 0u, ry = (y & s) ? 1u : 0u;
        d += s * s * ((3u * rx) ^ ry); /* < 3 * 2^30: no overflow */
        x &= s - 1;
        y &= s - 1;
        if (ry == 0) {
            if (rx == 1) {
                x = (s - 1) - x;
                y = (s - 1) - y;
            }
            const uint32_t t = x;
            x = y;
            y = t;
        }
    }
    return d;
}

/* Cell coordinate of v on an axis starting at lo, with `cells_per_unit` = 2^16 / extent. Computed
 * in double (exact enough for any float input) and clamped, so the maximum lands in the last cell. */
static inline uint32_t quantise(float v, double lo, double cells_per_unit) {
    const double c = ((double)v - lo) * cells_per_unit;
    if (!(c > 0.0)) return 0;
    if (c >= 65535.0) return 65535u;
    return (uint32_t)c;
}

sg_status sg_space_filling_order(const float *points, int64_t n, int64_t ld, int32_t *out_perm) {
    if (!points || !out_perm) return SG_ERR_NULL;
    if (n < 1 || n > (int64_t)INT32_MAX) return SG_ERR_SIZE;
    if (ld < 2) return SG_ERR_SHAPE;
    if (n - 1 > (INT64_MAX - 2) / ld) return SG_ERR_SIZE;

    /* Bounding box; also the finiteness check (a NaN fails every comparison, an Inf the extent). */
    float xmin = points[0], xmax = points[0], ymin = points[1], ymax = points[1];
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
        const float x = points[i * ld], y = points[i * ld + 1];
        bad |= !isfinite(x) | !isfinite(y);
        xmin = x < xmin ? x : xmin;
        xmax = x > xmax ? x : xmax;
        ymin = y < ymin ? y : ymin;
        ymax = y > ymax ? y : ymax;
    }
    if (bad) return SG_ERR_NONFINITE;

    uint32_t *key = malloc((size_t)n * 2 * sizeof(uint32_t));
    int32_t *tmp = malloc((size_t)n * sizeof(int32_t));
    if (!key || !tmp) {
        free(key);
        free(tmp);
        return SG_ERR_ALLOC;
    }
    uint32_t *key2 = key + n;

    /* One scale for both axes (square cells over the larger side of the bounding box), so the
     * curve's locality is locality in the plane, not in a stretched copy of it. */
    const double ex = (double)xmax - (double)xmin, ey = (double)ymax - (double)ymin;
    const double extent = ex > ey ? ex : ey;
    const double cells = extent > 0.0 ? 65536.0 / extent : 0.0;
    for (int64_t i = 0; i < n; i++) {
        key[i] = hilbert_index(quantise(points[i * ld], xmin, cells),
                               quantise(points[i * ld + 1], ymin, cells));
        out_perm[i] = (int32_t)i;
    }

    /* Stable LSD radix sort by key, 8 bits per pass, starting from index order: equal keys keep
     * ascending indices. Passes whose byte is the same for every key are skipped. */
    int32_t *src = out_perm, *dst = tmp;
    uint32_t *ksrc = key, *kdst = key2;
    for (int shift = 0; shift < 32; shift += 8) {
        int64_t count[256] = {0};
        for (int64_t i = 0; i < n; i++) count[(ksrc[i] >> shift) & 255u]++;
        if (count[(ksrc[0] >> shift) & 255u] == n) continue;
        int64_t pos = 0;
        for (int b = 0; b < 256; b++) {
            const int64_t c = count[b];
            count[b] = pos;
            pos += c;
        }
        for (int64_t i = 0; i < n; i++) {
            const int64_t p = count[(ksrc[i] >> shift) & 255u]++;
            dst[p] = src[i];
            kdst[p] = ksrc[i];
        }
        int32_t *t = src; src = dst; dst = t;
        uint32_t *kt = ksrc; ksrc = kdst; kdst = kt;
    }
    if (src != out_perm) memcpy(out_perm, src, (size_t)n * sizeof(int32_t));
    free(key);
    free(tmp);
    return SG_OK;
}
