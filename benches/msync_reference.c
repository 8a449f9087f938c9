/* The reference for scenario `msync` (method msync-sync): the smallest loop that dirties N
 * 4 KiB pages of a MAP_SHARED file mapping and makes them durable with msync(MS_SYNC).
 * ipcbench's figure for msync/msync-sync/<fs>/<N> should sit within a few percent of this.
 *
 *   cc -O2 -o /tmp/msync_reference benches/msync_reference.c
 *   /tmp/msync_reference DIR PAGES [ITERATIONS [SECONDS]]
 *
 * Prints one line: pages, flushes measured, median and p99 of one msync in ns. Dirtying (one
 * byte written in every page) is not timed, as in ipcbench. See benches/msync_bar.sh. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s DIR PAGES [ITERATIONS [SECONDS]]\n", argv[0]);
        return 2;
    }
    size_t pages = strtoul(argv[2], NULL, 10);
    long iterations = argc > 3 ? strtol(argv[3], NULL, 10) : 1000;
    double seconds = argc > 4 ? strtod(argv[4], NULL) : 1.0;
    size_t len = pages * 4096;
    char path[4096];
    snprintf(path, sizeof path, "%s/msync-reference-XXXXXX", argv[1]);
    int fd = mkstemp(path);
    if (fd < 0) { perror("mkstemp"); return 1; }
    /* Real blocks, not a hole: the measured flushes overwrite allocated data. */
    char *buf = malloc(len);
    memset(buf, 1, len);
    if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0) { perror("write"); return 1; }
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    uint64_t *t = malloc(sizeof(uint64_t) * (size_t)iterations);
    uint64_t deadline = 0;
    long n = 0;
    unsigned char v = 2;
    for (long i = -2; i < iterations; i++) { /* two warm-up flushes */
        for (size_t pg = 0; pg < pages; pg++) p[pg * 4096] = (char)v;
        v++;
        uint64_t t0 = now_ns();
        if (msync(p, len, MS_SYNC) != 0) { perror("msync"); return 1; }
        uint64_t t1 = now_ns();
        if (i < 0) {
            if (i == -1) deadline = t1 + (uint64_t)(seconds * 1e9);
            continue;
        }
        t[n++] = t1 - t0;
        if (t1 >= deadline) break;
    }
    qsort(t, (size_t)n, sizeof *t, cmp);
    printf("pages %zu flushes %ld p50_ns %llu p99_ns %llu\n", pages, n,
           (unsigned long long)t[n / 2], (unsigned long long)t[(size_t)((n - 1) * 0.99)]);
    munmap(p, len);
    close(fd);
    unlink(path); /* named until the end, like ipcbench's file (an orphan inode may flush differently) */
    return 0;
}
