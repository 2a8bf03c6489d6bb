//! Numbers that are either one `f64` or four side by side ([`F4`]), so the voxel's right-hand
//! side and Jacobian are written once and run on one voxel or on several in SIMD lanes with
//! the same IEEE operations in the same order: each lane of a [`Pack`] result is bit for bit
//! the scalar result for that lane's inputs.

use std::ops::{Add, Div, Mul, Neg, Sub};

/// Arithmetic the voxel kinetics needs, lane by lane.
pub trait Lane:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
{
    /// Per-lane truth values.
    type Mask: Copy;
    /// Every lane `v`.
    fn splat(v: f64) -> Self;
    /// Per lane `if self > o { self } else { o }`: `f64::max` for ordered, unequal values,
    /// and `o` for equal ones (`max(-0.0, 0.0)` is `0.0`) and when `self` is NaN, so scalar and
    /// vector builds agree to the bit (`f64::max` leaves the sign of an equal zero to the
    /// compiler).
    fn max(self, o: Self) -> Self;
    /// Per lane `f64::abs`.
    fn abs(self) -> Self;
    /// Per lane `powi(2)`.
    fn powi2(self) -> Self;
    /// Per lane `self > o`.
    fn gt(self, o: Self) -> Self::Mask;
    /// Per lane `self >= o`.
    fn ge(self, o: Self) -> Self::Mask;
    /// Per lane `self < o`.
    fn lt(self, o: Self) -> Self::Mask;
    /// Per lane `if m { a } else { b }`.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
}

impl Lane for f64 {
    type Mask = bool;
    #[inline(always)]
    fn splat(v: f64) -> f64 {
        v
    }
    #[inline(always)]
    fn max(self, o: f64) -> f64 {
        if self > o {
            self
        } else {
            o
        }
    }
    #[inline(always)]
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    #[inline(always)]
    fn powi2(self) -> f64 {
        self.powi(2)
    }
    #[inline(always)]
    fn gt(self, o: f64) -> bool {
        self > o
    }
    #[inline(always)]
    fn ge(self, o: f64) -> bool {
        self >= o
    }
    #[inline(always)]
    fn lt(self, o: f64) -> bool {
        self < o
    }
    #[inline(always)]
    fn select(m: bool, a: f64, b: f64) -> f64 {
        if m {
            a
        } else {
            b
        }
    }
}

/// `N` numbers `f64` side by side: plain arrays that LLVM turns into vector instructions
/// (one AVX2 register holds 4; 8 are two registers of independent work).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(align(32))]
pub struct Pack<const N: usize>(pub [f64; N]);

/// Four lanes: one AVX2 register.
pub type F4 = Pack<4>;

impl<const N: usize> Pack<N> {
    /// Per lane `f64::max` (as the scalar integrator's error scale uses it; the sign of an
    /// equal zero is left to the compiler, so only for values that cannot be `-0.0`).
    #[inline(always)]
    pub fn max_num(self, o: Self) -> Self {
        self.map2(o, f64::max)
    }

    /// Per lane `self == o`.
    #[inline(always)]
    pub fn equals(self, o: Self) -> [bool; N] {
        self.test(o, |a, b| a == b)
    }

    #[inline(always)]
    fn map2(self, o: Self, f: impl Fn(f64, f64) -> f64) -> Self {
        Pack(std::array::from_fn(|l| f(self.0[l], o.0[l])))
    }

    #[inline(always)]
    fn test(self, o: Self, f: impl Fn(f64, f64) -> bool) -> [bool; N] {
        std::array::from_fn(|l| f(self.0[l], o.0[l]))
    }
}

macro_rules! pack_op {
    ($tr:ident, $f:ident, $op:tt) => {
        impl<const N: usize> $tr for Pack<N> {
            type Output = Self;
            #[inline(always)]
            fn $f(self, o: Self) -> Self {
                self.map2(o, |a, b| a $op b)
            }
        }
    };
}
pack_op!(Add, add, +);
pack_op!(Sub, sub, -);
pack_op!(Mul, mul, *);
pack_op!(Div, div, /);

impl<const N: usize> Neg for Pack<N> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        Pack(std::array::from_fn(|l| -self.0[l]))
    }
}

impl<const N: usize> Lane for Pack<N> {
    type Mask = [bool; N];
    #[inline(always)]
    fn splat(v: f64) -> Self {
        Pack([v; N])
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        Self::select(self.gt(o), self, o)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Pack(std::array::from_fn(|l| self.0[l].abs()))
    }
    #[inline(always)]
    fn powi2(self) -> Self {
        Pack(std::array::from_fn(|l| self.0[l].powi(2)))
    }
    #[inline(always)]
    fn gt(self, o: Self) -> [bool; N] {
        self.test(o, |a, b| a > b)
    }
    #[inline(always)]
    fn ge(self, o: Self) -> [bool; N] {
        self.test(o, |a, b| a >= b)
    }
    #[inline(always)]
    fn lt(self, o: Self) -> [bool; N] {
        self.test(o, |a, b| a < b)
    }
    #[inline(always)]
    fn select(m: [bool; N], a: Self, b: Self) -> Self {
        Pack(std::array::from_fn(|l| if m[l] { a.0[l] } else { b.0[l] }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lane_is_the_scalar_operation() {
        let a = Pack([1.5, -0.0, f64::NAN, 3e-300]);
        let b = Pack([0.25, 0.0, 2.0, -7.0]);
        for l in 0..4 {
            let (x, y) = (a.0[l], b.0[l]);
            let same = |v: f64, w: f64| v.to_bits() == w.to_bits() || (v.is_nan() && w.is_nan());
            assert!(same((a + b).0[l], x + y));
            assert!(same((a - b).0[l], x - y));
            assert!(same((a * b).0[l], x * y));
            assert!(same((a / b).0[l], x / y));
            assert!(same((-a).0[l], -x));
            assert!(same(a.max(b).0[l], if x > y { x } else { y }));
            assert!(same(Lane::max(x, y), if x > y { x } else { y }));
            assert!(same(a.abs().0[l], x.abs()));
            assert!(same(a.powi2().0[l], x.powi(2)));
            assert_eq!(a.gt(b)[l], x > y);
            assert_eq!(a.ge(b)[l], x >= y);
            assert_eq!(a.lt(b)[l], x < y);
            assert!(same(Pack::select(a.gt(b), a, b).0[l], if x > y { x } else { y }));
        }
        // Where f64::max is specified (ordered, unequal), the two agree.
        for (x, y) in [(1.0, 2.0), (-3.0, 0.0), (0.5, -0.5), (f64::NAN, 1.0)] {
            assert_eq!(Lane::max(x, y), f64::max(x, y));
        }
    }
}
