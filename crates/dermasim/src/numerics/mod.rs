//! Hand-written numerics on the fast, bit-identical path: batched tridiagonal solves and the
//! transport's sweeps. The only module of the crate allowed `unsafe` code: unchecked indexing
//! in the periodic solver's inner loop and the AVX2 builds of the hot loops (and of the
//! peak-rate probe, and of any [`Wide`] work such as the kinetics lanes), each with its
//! `SAFETY:` argument.
#![allow(unsafe_code)]

pub mod blocks;
pub mod kernels;
pub mod peak;
pub mod tridiag;

pub use blocks::column_blocks;
pub use kernels::{lateral_plane, sweep_columns, with_avx2, with_avx512, Wide};
pub use tridiag::{Cyclic, Real, Thomas};
