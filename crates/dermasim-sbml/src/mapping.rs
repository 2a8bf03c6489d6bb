//! Mapping tables (placeholder).
/// x
pub struct Mapping;
/// x
pub struct MappedModel;
