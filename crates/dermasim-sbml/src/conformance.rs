//! SBML Test Suite runner (placeholder).
