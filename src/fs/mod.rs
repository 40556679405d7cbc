//! The bottom layer: atomic writes and private directories, and whether a directory or file
//! can be trusted with what nomadctx keeps there. Imports nothing of nomadctx but `platform`.

mod files;
pub mod trust;

pub use files::*;
