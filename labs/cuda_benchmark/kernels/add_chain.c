/* A chain of dependent integer adds: the clock meter of labs/cuda_benchmark/clock.py.
 *
 * Each add needs the previous one's result, so the chain cannot run faster than one add per
 * latency of a register add: 1 cycle on every x86-64 and Arm core in use today. Timing
 * `iterations * ADDS` adds therefore counts cycles, and cycles / seconds is the clock the core
 * really ran at (turbo included), whatever clock the OS reports.
 *
 * The empty asm statement tells the compiler that x may have changed, so it cannot fold the
 * chain into one multiply; `step` comes in as an argument (not a constant), so no core can
 * eliminate the adds at register renaming. The loop counter runs on other ALUs in parallel.
 */
#include <stdint.h>

#define ADDS 16 /* adds per loop iteration; clock.py reads this number from here */
#define ONE_ADD x += step; __asm__ volatile("" : "+r"(x));

uint64_t add_chain(uint64_t iterations, uint64_t step) {
    uint64_t x = 0;
    for (uint64_t i = 0; i < iterations; i++) {
        ONE_ADD ONE_ADD ONE_ADD ONE_ADD ONE_ADD ONE_ADD ONE_ADD ONE_ADD
        ONE_ADD ONE_ADD ONE_ADD ONE_ADD ONE_ADD ONE_ADD ONE_ADD ONE_ADD
    }
    return x;
}
