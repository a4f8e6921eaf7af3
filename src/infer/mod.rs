//! Inference: turning a trained model's predictions on test images into probability maps
//! (test-time augmentation, and later patch prediction and full-image prediction). Pure
//! transforms; no I/O and no printing here.

pub mod tta;
