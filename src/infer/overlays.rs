//! The evaluate stage's prediction overlays (`results/<job>/overlays/`): per test image a PNG of
//! the input, the truth and the written mask with true positives, false positives and false
//! negatives in their colours and the image's IoU in the title; for a 3D image, three z slices
//! (a quarter, half and three quarters of the way through) as `<stem>_z<k>.png`.
//!
//! Owns: choosing the slices and naming the files. Must not: compute metrics or binarise (the
//! caller hands the written labels and the IoU) or draw (that is `crate::plot::overlay`).

use std::path::Path;

use super::InferError;
use crate::data::Volume;
use crate::plot::overlay::{OverlaySlice, overlay_png};

/// What to draw for one test image.
pub struct ImageOverlay<'a> {
    /// The image's file name (for the title).
    pub file: &'a str,
    pub stem: &'a str,
    /// The input as read, first channel drawn.
    pub input: &'a Volume<f32>,
    pub truth: Option<&'a Volume<u16>>,
    /// The written labels, `z · y · x`.
    pub labels: &'a [u16],
    pub iou: Option<f64>,
    pub n_classes: usize,
    pub ignore: Option<u16>,
}

/// The z slices drawn of a stack of `depth`: one for 2D, else up to three distinct ones.
pub fn slices(depth: usize) -> Vec<usize> {
    if depth <= 1 {
        return vec![0];
    }
    let mut chosen: Vec<usize> =
        [depth / 4, depth / 2, (3 * depth) / 4].into_iter().map(|z| z.min(depth - 1)).collect();
    chosen.dedup();
    chosen
}

/// Writes the overlays of one image into `dir`.
pub fn write(dir: &Path, image: &ImageOverlay<'_>) -> Result<(), InferError> {
    let [depth, height, width] = image.input.spatial_shape();
    if image.labels.len() != depth * height * width {
        return Err(InferError::write(dir.join(format!("{}.png", image.stem)))(format!(
            "the written mask has {} voxels but the image {depth}×{height}×{width}",
            image.labels.len()
        )));
    }
    std::fs::create_dir_all(dir).map_err(InferError::write(dir))?;
    let plane = height * width;
    let grey: Vec<f32> = image.input.channel(0).into_vec();
    let iou = image.iou.map_or("-".to_string(), |v| format!("{v:.4}"));
    for z in slices(depth) {
        let range = z * plane..(z + 1) * plane;
        let truth = image.truth.map(|t| &t.as_slice()[range.clone()]);
        let slice =
            OverlaySlice { image: &grey[range.clone()], truth, prediction: &image.labels[range], height, width };
        let (name, title) = if depth == 1 {
            (format!("{}.png", image.stem), format!("{}   IoU {iou}", image.file))
        } else {
            (format!("{}_z{z}.png", image.stem), format!("{}   z {z} of {depth}   IoU (whole stack) {iou}", image.file))
        };
        let path = dir.join(name);
        overlay_png(&path, &title, &slice, image.n_classes, image.ignore).map_err(InferError::write(&path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_distinct_and_inside() {
        assert_eq!(slices(1), [0]);
        assert_eq!(slices(2), [0, 1]);
        assert_eq!(slices(3), [0, 1, 2]);
        assert_eq!(slices(16), [4, 8, 12]);
    }

    #[test]
    fn a_3d_image_gets_three_slices_and_a_wrong_mask_size_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let input = Volume::from_vec([8, 6, 5, 1], (0..240).map(|v| v as f32).collect()).unwrap();
        let labels = vec![1u16; 240];
        let image = ImageOverlay {
            file: "a.tif",
            stem: "a",
            input: &input,
            truth: None,
            labels: &labels,
            iou: None,
            n_classes: 2,
            ignore: None,
        };
        write(dir.path(), &image).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["a_z2.png", "a_z4.png", "a_z6.png"]);
        let short = ImageOverlay { labels: &labels[..10], ..image };
        assert!(write(dir.path(), &short).unwrap_err().to_string().contains("a.png"));
    }
}
