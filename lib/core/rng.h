/* rng.h - the deterministic random number generator used wherever a seed is
 * given (data shuffling, initialisation, dropout, sampling).
 *
 * Algorithm: xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom
 * number generators", 2018), 256 bits of state, period 2^256 - 1.  The state
 * is filled from the 64-bit seed with splitmix64 (Steele, Lea and Flood,
 * 2014), as the authors recommend, so nearby seeds give unrelated streams.
 * Results are the same on every machine and compiler: only 64-bit integer
 * arithmetic is involved up to the float conversions below.
 */
#ifndef TFS_RNG_H
#define TFS_RNG_H

#include <stdint.h>

struct rng { uint64_t s[4]; };

void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_u64(struct rng *r);
/* Uniform integer in [0, n) without modulo bias (rejection sampling). */
uint64_t rng_below(struct rng *r, uint64_t n);
/* Uniform double in [0, 1): the top 53 bits of a draw times 2^-53. */
double rng_uniform(struct rng *r);
/* Standard normal draw (Box-Muller transform, one value per call). */
double rng_normal(struct rng *r);

#endif
