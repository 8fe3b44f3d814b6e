/* The agent engine's event loop in C: the limit that kernels/agent.py is measured against.
 *
 * The same model (untreated birth-death with mechanisms gained at division), the same
 * data layout (cells as barcodes in blocks by clone slot), the same direct-method event
 * (Gillespie 1977) and the same generator (xoshiro256**, Blackman & Vigna 2018) with the
 * same conversions to floats, so a run from the same generator state gives the same
 * trajectory as the compiled Python kernel.
 *
 * BARCODES 1 keeps every cell's barcode in blocks by slot (the agent engine's "cells" lineage
 * layout), 2 each slot's cells per barcode in a Fenwick tree (its "counts" layout,
 * kernels/lineages.py), 0 none (barcode_at = "none"): the loop keeps counts only and draws no
 * cell. The run stops at DAYS, at extinction or before the event
 * that would follow the total reaching STOP cells (0: no such stop), as the kernel does.
 *
 * Usage: ssa CELLS BIRTH DEATH U1 U2 DAYS STOP BARCODES S0 S1 S2 S3
 * Prints: events, elapsed seconds, then the cells of each genotype 0..3.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MECHANISMS 2
#define SLOTS 4

static uint64_t s[4];

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t next_u64(void) {
    uint64_t s0 = s[0], s1 = s[1], s2 = s[2] ^ s0, s3 = s[3] ^ s1;
    uint64_t result = rotl(s1 * 5, 7) * 9;
    s[0] = s0 ^ s3;
    s[1] = s1 ^ s2;
    s[2] = s2 ^ (s1 << 17);
    s[3] = rotl(s3, 45);
    return result;
}

static inline double uniform(void) { return (double)(next_u64() >> 11) * (1.0 / 9007199254740992.0); }

static inline double open_uniform(void) {
    return ((double)(next_u64() >> 12) + 0.5) * (1.0 / 4503599627370496.0);
}

static int64_t genotype[SLOTS], cells[SLOTS], starts[SLOTS + 1];
static double birth[SLOTS], death[SLOTS], mutation[SLOTS], rate_u[MECHANISMS];
static int used = 0;
static int32_t *barcodes;
static int64_t *tree[SLOTS];
static int64_t width = 0, top = 0;

static int64_t find(int c, int64_t k) {
    int64_t position = 0;
    for (int64_t step = top; step > 0; step >>= 1) {
        int64_t ahead = position + step, value = tree[c][ahead];
        int right = value <= k;
        position = right ? ahead : position;
        k = right ? k - value : k;
    }
    return position;
}

static void add(int c, int64_t barcode, int64_t delta) {
    int64_t position = 0, target = barcode + 1;
    for (int64_t step = top; step > 0; step >>= 1) {
        int64_t ahead = position + step;
        int left = target <= ahead;
        tree[c][ahead] += left ? delta : 0;
        position = left ? position : ahead;
    }
    tree[c][width - 1] += delta;
}

static int slot_of(int64_t g, double b, double d) {
    for (int c = 0; c < used; c++)
        if (genotype[c] == g) return c;
    double u = 0.0;
    for (int i = 0; i < MECHANISMS; i++)
        if (!((g >> i) & 1)) u += rate_u[i];
    genotype[used] = g;
    cells[used] = 0;
    birth[used] = b;
    death[used] = d;
    mutation[used] = u;
    starts[used + 1] = starts[used];
    if (width) tree[used] = calloc((size_t)width, sizeof(int64_t));
    return used++;
}

static int gained(int64_t g, double u) {
    double acc = 0.0;
    int last = -1;
    for (int i = 0; i < MECHANISMS; i++) {
        if (((g >> i) & 1) || rate_u[i] == 0.0) continue;
        last = i;
        acc += rate_u[i];
        if (u < acc) return i;
    }
    return last;
}

static void add_cell(int c, int32_t barcode) {
    if (!barcodes) {
        starts[used] += 1;
        cells[c] += 1;
        return;
    }
    int64_t hole = starts[used];
    for (int later = used - 1; later > c; later--) {
        int64_t first = starts[later];
        barcodes[hole] = barcodes[first];
        starts[later] = first + 1;
        hole = first;
    }
    barcodes[hole] = barcode;
    starts[used] += 1;
    cells[c] += 1;
}

static void remove_cell(int c, int64_t i) {
    if (!barcodes) {
        starts[used] -= 1;
        cells[c] -= 1;
        return;
    }
    int64_t hole = starts[c + 1] - 1;
    barcodes[i] = barcodes[hole];
    for (int later = c + 1; later < used; later++) {
        int64_t last = starts[later + 1] - 1;
        barcodes[hole] = barcodes[last];
        starts[later] = hole;
        hole = last;
    }
    starts[used] -= 1;
    cells[c] -= 1;
}

int main(int argc, char **argv) {
    if (argc != 13) {
        fprintf(stderr, "usage: ssa CELLS BIRTH DEATH U1 U2 DAYS STOP BARCODES S0 S1 S2 S3\n");
        return 2;
    }
    int64_t n0 = atoll(argv[1]);
    double b = atof(argv[2]), d = atof(argv[3]), t_stop = atof(argv[6]);
    rate_u[0] = atof(argv[4]);
    rate_u[1] = atof(argv[5]);
    int64_t stop = atoll(argv[7]);
    if (stop <= 0) stop = INT64_MAX;
    for (int i = 0; i < 4; i++) s[i] = strtoull(argv[9 + i], NULL, 10);
    starts[0] = 0;
    int layout = atoi(argv[8]);
    if (layout == 2) {
        width = 2;
        while (width - 1 < n0) width = 2 * (width - 1) + 1;
        top = (width - 1) / 2;
    }
    int c0 = slot_of(0, b, d);
    cells[c0] = n0;
    starts[1] = n0;
    if (layout == 2)
        for (int64_t i = 0; i < n0; i++) add(c0, i, 1);
    if (layout == 1) {
        int64_t room = stop < INT64_MAX ? stop + 1 : n0 * 100;
        barcodes = malloc(sizeof(int32_t) * (size_t)(room > n0 * 100 ? room : n0 * 100));
        for (int64_t i = 0; i < n0; i++) barcodes[i] = (int32_t)i;
    }

    struct timespec begin, end;
    clock_gettime(CLOCK_MONOTONIC, &begin);
    double t = 0.0;
    int64_t events = 0;
    for (;;) {
        int64_t total = starts[used];
        if (total == 0 || total >= stop || t >= t_stop) break;
        double rate = 0.0;
        for (int c = 0; c < used; c++) rate += (birth[c] + death[c]) * cells[c];
        if (rate <= 0.0) break;
        double t_next = t + (-log(open_uniform())) / rate;
        if (t_next >= t_stop) break;
        t = t_next;
        double target = uniform() * rate;
        int chosen = -1;
        for (int c = 0; c < used; c++) {
            double weight = (birth[c] + death[c]) * cells[c];
            if (weight > 0.0) {
                chosen = c;
                if (target < weight) break;
                target -= weight;
            }
        }
        int is_death = target < death[chosen] * cells[chosen];
        events++;
        int64_t i = 0;
        int32_t barcode = -1;
        if (barcodes || width) {
            int64_t n = cells[chosen];
            int64_t k = (int64_t)(uniform() * n);
            k = k < n - 1 ? k : n - 1;
            i = starts[chosen] + k;
            if (width) barcode = (int32_t)find(chosen, k);
        }
        if (is_death) {
            remove_cell(chosen, i);
            if (width) add(chosen, barcode, -1);
            continue;
        }
        if (barcodes) barcode = barcodes[i];
        double u = uniform();
        int target_slot = chosen;
        if (u < mutation[chosen]) {
            int64_t g = genotype[chosen];
            target_slot = slot_of(g | ((int64_t)1 << gained(g, u)), b, d);
        }
        add_cell(target_slot, barcode);
        if (width) add(target_slot, barcode, 1);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double seconds = (end.tv_sec - begin.tv_sec) + 1e-9 * (end.tv_nsec - begin.tv_nsec);
    printf("%lld %.9f", (long long)events, seconds);
    for (int g = 0; g < SLOTS; g++) {
        int64_t count = 0;
        for (int c = 0; c < used; c++)
            if (genotype[c] == g) count = cells[c];
        printf(" %lld", (long long)count);
    }
    printf("\n");
    free(barcodes);
    for (int c = 0; c < used; c++) free(tree[c]);
    return 0;
}
