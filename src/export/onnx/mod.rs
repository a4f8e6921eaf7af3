//! ONNX export of a segmentation network, written from Rust (no Python, no exporter library):
//! [`proto`] has the protobuf messages, [`graph`] the layers as ONNX nodes, [`network`] the
//! networks block by block. The graph takes `input0` `[batch, channels, (z,) y, x]` (batch and
//! spatial sizes symbolic) and gives the logits `output0` — the same tensor
//! [`SegModel::forward2d`]/[`SegModel::forward3d`] give; the final sigmoid or softmax is the
//! consumer's post-processing, as in BiaPy's BioImage Model Zoo packages.

pub mod graph;
pub mod network;
pub mod proto;

use prost::Message;

use self::graph::Graph;
use self::proto::{
    Dimension, FLOAT, GraphProto, ModelProto, OperatorSetIdProto, TensorShapeProto, TypeProto, TypeProtoTensor,
    ValueInfoProto,
};
use crate::model::SegModel;

/// The operator set the graph is written for (every op used exists there unchanged).
pub const OPSET: i64 = 17;
/// The IR version that goes with opset 17.
const IR_VERSION: i64 = 8;
/// The graph's input and output names.
pub const INPUT: &str = "input0";
pub const OUTPUT: &str = "output0";

/// `model` as a serialised ONNX `ModelProto`.
pub fn to_bytes(model: &SegModel) -> Vec<u8> {
    to_proto(model).encode_to_vec()
}

/// `model` as an ONNX `ModelProto`.
pub fn to_proto(model: &SegModel) -> ModelProto {
    let mut g = Graph::default();
    let logits = network::emit(model, &mut g, INPUT);
    g.node("Identity", OUTPUT.to_string(), &[&logits], vec![]);
    let geometry = model.geometry();
    let spatial: &[&str] = if geometry.ndim.n_axes() == 2 { &["y", "x"] } else { &["z", "y", "x"] };
    // The logits' convolution: `heads.0`, or `heads.3` after a contrastive head's 3×3 and norm.
    let weight = |name: &str| g.initializers.iter().find(|t| t.name == name).map(|t| t.dims[0] as usize);
    let out_channels = weight("heads.3.weight").or_else(|| weight("heads.0.weight")).unwrap_or(0);
    let graph = GraphProto {
        node: g.nodes,
        name: "segsweep".into(),
        initializer: g.initializers,
        input: vec![value_info(INPUT, geometry.in_channels, spatial)],
        output: vec![value_info(OUTPUT, out_channels, spatial)],
    };
    ModelProto {
        ir_version: IR_VERSION,
        producer_name: "segsweep".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "A BiaPy-compatible segmentation network; output0 holds logits".into(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
    }
}

/// A float tensor `[batch, channels, spatial…]` with symbolic batch and spatial sizes.
fn value_info(name: &str, channels: usize, spatial: &[&str]) -> ValueInfoProto {
    let named = |n: &str| Dimension { dim_value: None, dim_param: Some(n.to_string()) };
    let mut dim = vec![named("batch"), Dimension { dim_value: Some(channels as i64), dim_param: None }];
    dim.extend(spatial.iter().map(|n| named(n)));
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor { elem_type: FLOAT, shape: Some(TensorShapeProto { dim }) }),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelSpec, n_trainable_params};
    use burn::tensor::Device;

    fn model(yaml: &str) -> SegModel {
        let yaml = format!("TRAIN: {{ENABLE: True}}\nDATA: {{PATCH_SIZE: [16, 16, 1]}}\n{yaml}");
        let config = crate::config::load_str(&yaml, &[]).expect("config").config;
        SegModel::new(&ModelSpec::from_config(&config).expect("spec"), &Device::flex())
    }

    fn count(proto: &ModelProto, op: &str) -> usize {
        proto.graph.as_ref().expect("graph").node.iter().filter(|n| n.op_type == op).count()
    }

    #[test]
    fn a_unet_has_one_node_per_layer_and_every_parameter_as_an_initializer() {
        let net = model("MODEL: {FEATURE_MAPS: [4, 8, 16]}");
        let proto = to_proto(&net);
        // 2 units per level × 5 levels and the head; 2 up-samplings; 2 pools.
        assert_eq!(count(&proto, "Conv"), 11);
        assert_eq!(count(&proto, "ConvTranspose"), 2);
        assert_eq!(count(&proto, "MaxPool"), 2);
        assert_eq!(count(&proto, "InstanceNormalization"), 12);
        assert_eq!(count(&proto, "Elu"), 12);
        assert_eq!(count(&proto, "Concat"), 2);
        let graph = proto.graph.as_ref().expect("graph");
        let values: usize = graph.initializer.iter().map(|t| t.dims.iter().product::<i64>() as usize).sum();
        assert_eq!(values, n_trainable_params(&net));
        assert!(graph.initializer.iter().all(|t| t.raw_data.len() == 4 * t.dims.iter().product::<i64>() as usize));
        let mut names: Vec<&str> = graph.node.iter().map(|n| n.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), graph.node.len(), "node names are unique");
        assert_eq!(graph.node.last().expect("a node").output, [OUTPUT]);
    }

    #[test]
    fn every_value_is_made_before_it_is_used() {
        for yaml in [
            "MODEL: {ARCHITECTURE: attention_unet, FEATURE_MAPS: [4, 8, 16], NORMALIZATION: bn}",
            "MODEL: {ARCHITECTURE: seunet, FEATURE_MAPS: [16, 16, 32], NORMALIZATION: gn, ACTIVATION: gelu}",
            "MODEL: {ARCHITECTURE: resunet, FEATURE_MAPS: [4, 8, 16], UPSAMPLE_LAYER: upsampling}",
            "MODEL: {FEATURE_MAPS: [4, 8, 16], CONV_BLOCK_ORDER: norm_act_conv, ACTIVATION: silu}",
        ] {
            let proto = to_proto(&model(yaml));
            let graph = proto.graph.expect("graph");
            let mut known: std::collections::HashSet<String> =
                graph.initializer.iter().map(|t| t.name.clone()).collect();
            known.insert(INPUT.into());
            known.insert(String::new());
            for node in &graph.node {
                for input in &node.input {
                    assert!(known.contains(input), "{yaml}: `{}` uses `{input}` before it exists", node.name);
                }
                known.extend(node.output.iter().cloned());
            }
        }
    }
}
