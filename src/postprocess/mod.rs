//! Post-processing of merged probability maps (spec §4.3, §4.6, §6): BiaPy's median filter and
//! the binarisation into the masks written to `*_binarized/` (threshold, Otsu or argmax).
//!
//! Pure functions on [`Volume`](crate::data::Volume)s: no I/O, no printing, no metrics, no
//! choice of when to run (per image, per 3D stack): the test stage owns the order of operations.

pub mod median;
pub mod threshold;

pub use median::{FilterAxis, PostprocessError, apply_filters, filters_from_config, median_filter};
pub use threshold::{argmax, binarize, otsu_threshold, threshold_for};
