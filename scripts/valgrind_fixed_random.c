/* Under valgrind only: replaces libc's getrandom with a fixed stream, so the hash seeds
 * of a process (std's RandomState, which keys acorn's point index) and with them the
 * probe lengths, hence the instruction counts, repeat from run to run. Valgrind finds
 * the wrapper by its encoded name (getrandom in libc.so*) in any loaded object; natively
 * nothing calls it. The lab binary carries the same wrapper (lab/src/main.rs).
 *
 *   cc -shared -fPIC -O2 -o /tmp/valgrind_fixed_random.so scripts/valgrind_fixed_random.c
 *   ACORN_CLOCK=os LD_PRELOAD=/tmp/valgrind_fixed_random.so valgrind --tool=callgrind \
 *       --callgrind-out-file=/dev/null target/release/examples/write_loop stash 0 200000
 */
#include <stddef.h>

static unsigned long long state = 0x9e3779b97f4a7c15ULL;

long _vgw00000ZU_libcZdsoZa_getrandom(unsigned char *buf, size_t len, unsigned flags) {
    (void)flags;
    for (size_t i = 0; i < len; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        buf[i] = (unsigned char)state;
    }
    return (long)len;
}
