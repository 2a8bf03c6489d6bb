//! The machine's peak rate of the floating-point operations the kinetics uses (separate
//! multiplies and adds: the fast path avoids fused multiply-add to stay bit-identical), for
//! the roofline of the compute-bound part in `dermasim bench`.

/// Independent accumulator chains: enough to cover the latency of the multiply and add units
/// (4 cycles, 2 ports) with 4-lane vectors.
const CHAINS: usize = 32;

/// Run `iters` rounds of `acc = acc * m + a` over 32 independent f64 chains and return
/// the number of floating-point operations done (2 per chain per round).
pub fn mul_add_chains(iters: u64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn wide(iters: u64) -> [f64; CHAINS] {
            chains_body(iters)
        }
        if super::kernels::avx2() {
            // SAFETY: the CPU has AVX2 (checked at run time).
            std::hint::black_box(unsafe { wide(iters) });
            return 2.0 * CHAINS as f64 * iters as f64;
        }
    }
    std::hint::black_box(chains_body(iters));
    2.0 * CHAINS as f64 * iters as f64
}

#[inline(always)]
fn chains_body(iters: u64) -> [f64; CHAINS] {
    let mut acc: [f64; CHAINS] = std::array::from_fn(|i| 1.0 + i as f64 * 1e-3);
    // Opaque to the optimiser, and chosen so the chains neither overflow nor denormalise.
    let m = std::hint::black_box(0.999_999_9);
    let a = std::hint::black_box(1e-7);
    for _ in 0..iters {
        for x in &mut acc {
            *x = *x * m + a;
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_two_operations_per_chain_and_round() {
        assert_eq!(mul_add_chains(10), 2.0 * CHAINS as f64 * 10.0);
        // Each chain relaxes from its start (1 to 1.031) towards a / (1 - m) = 1, so it stays
        // finite, normal and between the two, however long it runs.
        let acc = chains_body(1000);
        let start: [f64; CHAINS] = std::array::from_fn(|i| 1.0 + i as f64 * 1e-3);
        for (x, s) in acc.iter().zip(start) {
            assert!(x.is_normal() && (1.0..=s).contains(x), "{x} outside [1, {s}]");
        }
    }
}
