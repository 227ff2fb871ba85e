/*
 * STREAM-style triad a[i] = b[i] + s * c[i] over arrays far larger than the last-level cache; reports the best
 * of NTIMES passes in GB/s, counting 24 bytes per element as STREAM does (2 reads + 1 write of a double,
 * write-allocate traffic not counted).
 *
 *   gcc -O3 -march=native -fopenmp bench/scripts/triad.c -o /tmp/triad
 *   OMP_NUM_THREADS=1 /tmp/triad ; OMP_NUM_THREADS=2 /tmp/triad
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define N (1L << 25) /* 32 Mi doubles = 256 MiB per array */
#define NTIMES 20

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    double *a = aligned_alloc(64, N * sizeof(double));
    double *b = aligned_alloc(64, N * sizeof(double));
    double *c = aligned_alloc(64, N * sizeof(double));
    const double s = 3.0;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < N; i++) {
        a[i] = 1.0;
        b[i] = 2.0;
        c[i] = 0.5;
    }
    double best = 1e30;
    for (int k = 0; k < NTIMES; k++) {
        double t0 = now();
#pragma omp parallel for schedule(static)
        for (long i = 0; i < N; i++) {
            a[i] = b[i] + s * c[i];
        }
        double t = now() - t0;
        if (t < best) best = t;
    }
    double check = 0;
    for (long i = 0; i < N; i += 4096) check += a[i];
    printf("triad threads=%d best %.2f GB/s (%.1f ms per pass, check %.1f)\n", omp_get_max_threads(),
           24.0 * N / best / 1e9, best * 1e3, check);
    return 0;
}
