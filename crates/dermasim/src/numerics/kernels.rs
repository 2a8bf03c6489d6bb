//! The transport's hot loops, each compiled twice (baseline and AVX2) and chosen at run time.

use super::tridiag::{Cyclic, Real, Thomas};

/// Whether the hot loops may run in their AVX2 build: the same IEEE operations in the same
/// order in wider registers (no fused multiply-add), so results are bit-identical to the
/// baseline build on any machine.
#[inline(always)]
pub(crate) fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Work that [`with_avx2`] can compile for AVX2: code over plain `[f64; 4]` lanes (the
/// kinetics' `F4`) that LLVM vectorises. `run` and everything it calls must be
/// `#[inline(always)]`, so they are compiled inside the AVX2 function (a closure would not be:
/// it stays a separate function built for the baseline CPU).
pub trait Wide {
    /// What the work returns.
    type Output;
    /// Do the work.
    fn run(self) -> Self::Output;
}

/// Run `w` compiled for AVX2 where the CPU has it (chosen at run time), else as built: the
/// same IEEE operations without fused multiply-add, so bit-identical either way.
#[inline(always)]
pub fn with_avx2<W: Wide>(w: W) -> W::Output {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn wide<W: Wide>(w: W) -> W::Output {
            w.run()
        }
        if avx2() {
            // SAFETY: the CPU has AVX2 (checked at run time).
            return unsafe { wide(w) };
        }
    }
    w.run()
}

/// Whether [`with_avx512`] may run its AVX-512 build.
#[inline(always)]
pub(crate) fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512dq")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`with_avx2`] with AVX-512 where the CPU has it: 32 vector registers and 8 `f64` in one,
/// the same IEEE operations (no fused multiply-add), so bit-identical on any machine.
#[inline(always)]
pub fn with_avx512<W: Wide>(w: W) -> W::Output {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512dq")]
        unsafe fn wide512<W: Wide>(w: W) -> W::Output {
            w.run()
        }
        if avx512() {
            // SAFETY: the CPU has AVX-512 F, VL and DQ (checked at run time).
            return unsafe { wide512(w) };
        }
    }
    with_avx2(w)
}

/// x then y sweeps of one depth plane.
pub fn lateral_plane<R: Real>(
    mx: Option<&Cyclic<R>>,
    my: Option<&Cyclic<R>>,
    p: &mut [R],
    nx: usize,
    fact: &mut Vec<R>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn wide<R: Real>(
            mx: Option<&Cyclic<R>>,
            my: Option<&Cyclic<R>>,
            p: &mut [R],
            nx: usize,
            fact: &mut Vec<R>,
        ) {
            lateral_plane_body(mx, my, p, nx, fact)
        }
        if avx2() {
            // SAFETY: the CPU has AVX2 (checked at run time).
            return unsafe { wide(mx, my, p, nx, fact) };
        }
    }
    lateral_plane_body(mx, my, p, nx, fact)
}

#[inline(always)]
fn lateral_plane_body<R: Real>(
    mx: Option<&Cyclic<R>>,
    my: Option<&Cyclic<R>>,
    p: &mut [R],
    nx: usize,
    fact: &mut Vec<R>,
) {
    if let Some(mx) = mx {
        mx.solve_lines(p);
    }
    if let Some(my) = my {
        fact.resize(nx, R::ZERO);
        my.solve_rows(p, nx, fact);
    }
}

/// Forward and backward Thomas sweeps down a block of columns; `rows[k]` is the block's slice
/// of depth row k (all of one length).
pub fn sweep_columns<R: Real>(t: &Thomas<R>, rows: &mut [&mut [R]]) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn wide<R: Real>(t: &Thomas<R>, rows: &mut [&mut [R]]) {
            sweep_columns_body(t, rows)
        }
        if avx2() {
            // SAFETY: the CPU has AVX2 (checked at run time).
            return unsafe { wide(t, rows) };
        }
    }
    sweep_columns_body(t, rows)
}

#[inline(always)]
fn sweep_columns_body<R: Real>(t: &Thomas<R>, rows: &mut [&mut [R]]) {
    let nz = rows.len();
    let inv0 = t.inv[0];
    for v in rows[0].iter_mut() {
        *v *= inv0;
    }
    for k in 1..nz {
        let (above, below) = rows.split_at_mut(k);
        let (prev, cur) = (&above[k - 1], &mut below[0]);
        let (l, m) = (t.lower[k], t.inv[k]);
        for (c, p) in cur.iter_mut().zip(prev.iter()) {
            *c = (*c - l * *p) * m;
        }
    }
    for k in (0..nz - 1).rev() {
        let (above, below) = rows.split_at_mut(k + 1);
        let (cur, next) = (&mut above[k], &below[0]);
        let u = t.upper[k];
        for (c, n) in cur.iter_mut().zip(next.iter()) {
            *c -= u * *n;
        }
    }
}
