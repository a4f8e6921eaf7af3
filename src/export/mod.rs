//! Sharing a trained model with the tools people run it in: ONNX written from Rust ([`onnx`])
//! and BioImage Model Zoo packages ([`bmz`]). Reads a built network and a resolved config; never
//! trains or predicts itself (the caller hands in predictions it needs to ship).

pub mod bmz;
pub mod onnx;
