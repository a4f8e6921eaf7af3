//! Metrics: IoU at every level (training batches, validation, test patches, merged images, full
//! images, post-processed, 3D stacks). Pure: counts in, numbers out; no I/O.

pub mod iou;

pub use iou::{Counts, iou, mean_skipping};
