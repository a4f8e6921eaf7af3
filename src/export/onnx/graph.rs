//! An ONNX graph under construction and the layers of [`crate::model::layers`] as ONNX nodes
//! (opset 17): convolutions with their padding, transposed convolutions, the three norms,
//! every `MODEL.ACTIVATION`, max-pooling and linear resizing. Values are named by the node that
//! makes them; weights become initializers named after their layer. This file knows layers, not
//! networks ([`super::network`] walks those).

use burn::module::Param;
use burn::nn::{BatchNorm, GroupNorm, InstanceNorm, PaddingConfig2d, PaddingConfig3d};
use burn::tensor::Tensor;

use super::proto::{AttributeProto, FLOAT, INT64, NodeProto, TensorProto};
use crate::config::Activation;
use crate::model::layers::{ConvNd, ConvTransposeNd, LEAKY_RELU_SLOPE, Norm};

/// Nodes and initializers, in the order they were added.
#[derive(Default)]
pub struct Graph {
    pub nodes: Vec<NodeProto>,
    pub initializers: Vec<TensorProto>,
}

/// An attribute of a node.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    Str(&'static str),
}

impl Graph {
    /// Adds `op(inputs) → name` and returns the output's name.
    pub fn node(&mut self, op: &str, name: String, inputs: &[&str], attrs: Vec<(&str, Attr)>) -> String {
        let attribute = attrs
            .into_iter()
            .map(|(key, value)| {
                let mut a = AttributeProto { name: key.to_string(), ..Default::default() };
                match value {
                    Attr::Float(f) => (a.f, a.r#type) = (Some(f), 1),
                    Attr::Int(i) => (a.i, a.r#type) = (Some(i), 2),
                    Attr::Str(s) => (a.s, a.r#type) = (Some(s.as_bytes().to_vec()), 3),
                    Attr::Ints(ints) => (a.ints, a.r#type) = (ints, 7),
                }
                a
            })
            .collect();
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![name.clone()],
            name: name.clone(),
            op_type: op.to_string(),
            attribute,
        });
        name
    }

    /// A float initializer; returns its name.
    pub fn float(&mut self, name: String, dims: &[usize], values: &[f32]) -> String {
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto { dims: as_i64(dims), data_type: FLOAT, name: name.clone(), raw_data });
        name
    }

    /// An int64 initializer; returns its name.
    pub fn int64(&mut self, name: String, values: &[i64]) -> String {
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.initializers.push(TensorProto {
            dims: vec![values.len() as i64],
            data_type: INT64,
            name: name.clone(),
            raw_data,
        });
        name
    }

    /// A parameter as an initializer named `name`.
    pub fn param<const D: usize>(&mut self, name: String, param: &Param<Tensor<D>>) -> String {
        self.tensor(name, param.val())
    }

    /// A tensor as an initializer named `name`.
    pub fn tensor<const D: usize>(&mut self, name: String, tensor: Tensor<D>) -> String {
        let dims = tensor.dims();
        let values: Vec<f32> = tensor.into_data().convert::<f32>().try_into_vec().expect("converted to f32");
        self.float(name, &dims, &values)
    }

    /// A layer's `weight` and optional `bias` as initializers `{name}.weight`, `{name}.bias`.
    fn weight_bias<const D: usize>(
        &mut self,
        name: &str,
        weight: &Param<Tensor<D>>,
        bias: Option<&Param<Tensor<1>>>,
    ) -> (String, Option<String>) {
        let weight = self.param(format!("{name}.weight"), weight);
        (weight, bias.map(|b| self.param(format!("{name}.bias"), b)))
    }

    /// `ConvNd`: its padding, stride, dilation and groups as the burn layer holds them.
    pub fn conv(&mut self, x: &str, conv: &ConvNd, name: &str) -> String {
        let ((weight, bias), kernel, dilation, stride, groups, pads) = match conv {
            ConvNd::D2(c) => {
                let span = |axis: usize| c.dilation[axis] * (c.kernel_size[axis] - 1);
                let pads = match c.padding {
                    PaddingConfig2d::Same => [span(0) / 2, span(1) / 2, span(0) - span(0) / 2, span(1) - span(1) / 2],
                    PaddingConfig2d::Valid => [0; 4],
                    PaddingConfig2d::Explicit(top, left, bottom, right) => [top, left, bottom, right],
                };
                let weights = self.weight_bias(name, &c.weight, c.bias.as_ref());
                (weights, c.kernel_size.to_vec(), c.dilation.to_vec(), c.stride.to_vec(), c.groups, pads.to_vec())
            }
            ConvNd::D3(c) => {
                let span = |axis: usize| c.dilation[axis] * (c.kernel_size[axis] - 1);
                let pads = match c.padding {
                    PaddingConfig3d::Same => {
                        let begin = [0, 1, 2].map(|a| span(a) / 2);
                        [begin, [0, 1, 2].map(|a| span(a) - span(a) / 2)].concat()
                    }
                    PaddingConfig3d::Valid => vec![0; 6],
                    PaddingConfig3d::Explicit(d, h, w) => vec![d, h, w, d, h, w],
                };
                let weights = self.weight_bias(name, &c.weight, c.bias.as_ref());
                (weights, c.kernel_size.to_vec(), c.dilation.to_vec(), c.stride.to_vec(), c.groups, pads)
            }
        };
        let mut inputs = vec![x, weight.as_str()];
        if let Some(bias) = &bias {
            inputs.push(bias);
        }
        let mut attrs = vec![("kernel_shape", Attr::Ints(as_i64(&kernel))), ("pads", Attr::Ints(as_i64(&pads)))];
        if dilation.iter().any(|&d| d != 1) {
            attrs.push(("dilations", Attr::Ints(as_i64(&dilation))));
        }
        if stride.iter().any(|&s| s != 1) {
            attrs.push(("strides", Attr::Ints(as_i64(&stride))));
        }
        if groups != 1 {
            attrs.push(("group", Attr::Int(groups as i64)));
        }
        self.node("Conv", name.to_string(), &inputs, attrs)
    }

    /// `ConvTransposeNd` with kernel = stride (no overlap, no padding).
    pub fn conv_transpose(&mut self, x: &str, conv: &ConvTransposeNd, name: &str) -> String {
        let ((weight, bias), kernel) = match conv {
            ConvTransposeNd::D2(c) => (self.weight_bias(name, &c.weight, c.bias.as_ref()), c.kernel_size.to_vec()),
            ConvTransposeNd::D3(c) => (self.weight_bias(name, &c.weight, c.bias.as_ref()), c.kernel_size.to_vec()),
        };
        let strides = match conv {
            ConvTransposeNd::D2(c) => c.stride.to_vec(),
            ConvTransposeNd::D3(c) => c.stride.to_vec(),
        };
        let mut inputs = vec![x, weight.as_str()];
        if let Some(bias) = &bias {
            inputs.push(bias);
        }
        let attrs = vec![("kernel_shape", Attr::Ints(as_i64(&kernel))), ("strides", Attr::Ints(as_i64(&strides)))];
        self.node("ConvTranspose", name.to_string(), &inputs, attrs)
    }

    /// A `Norm` layer; `ndim` is the number of spatial axes.
    pub fn norm(&mut self, x: &str, norm: &Norm, name: &str, ndim: usize) -> String {
        match norm {
            Norm::Batch(bn) => self.batch_norm(x, bn, name),
            Norm::Instance(inorm) => self.instance_norm(x, inorm, name),
            Norm::Group(gn) => self.group_norm(x, gn, name, ndim),
        }
    }

    fn batch_norm(&mut self, x: &str, bn: &BatchNorm, name: &str) -> String {
        let scale = self.param(format!("{name}.weight"), &bn.gamma);
        let bias = self.param(format!("{name}.bias"), &bn.beta);
        let mean = self.tensor(format!("{name}.running_mean"), bn.running_mean.value());
        let var = self.tensor(format!("{name}.running_var"), bn.running_var.value());
        let attrs = vec![("epsilon", Attr::Float(bn.epsilon as f32))];
        self.node("BatchNormalization", name.to_string(), &[x, &scale, &bias, &mean, &var], attrs)
    }

    fn instance_norm(&mut self, x: &str, norm: &InstanceNorm, name: &str) -> String {
        let (scale, bias) = self.affine(norm.gamma.as_ref(), norm.beta.as_ref(), norm.num_channels, name);
        let attrs = vec![("epsilon", Attr::Float(norm.epsilon as f32))];
        self.node("InstanceNormalization", name.to_string(), &[x, &scale, &bias], attrs)
    }

    /// Group norm as ONNX models write it before opset 21: reshape to `[n, groups, -1]`,
    /// instance-normalise without affine, reshape back, then scale and shift per channel.
    fn group_norm(&mut self, x: &str, gn: &GroupNorm, name: &str, ndim: usize) -> String {
        let groups = gn.num_groups;
        let grouped_shape = self.int64(format!("{name}.grouped_shape"), &[0, groups as i64, -1]);
        let grouped = self.node("Reshape", format!("{name}.grouped"), &[x, &grouped_shape], vec![]);
        let ones = self.float(format!("{name}.ones"), &[groups], &vec![1.0; groups]);
        let zeros = self.float(format!("{name}.zeros"), &[groups], &vec![0.0; groups]);
        let attrs = vec![("epsilon", Attr::Float(gn.epsilon as f32))];
        let normed = self.node("InstanceNormalization", format!("{name}.normed"), &[&grouped, &ones, &zeros], attrs);
        let shape = self.node("Shape", format!("{name}.shape"), &[x], vec![]);
        let back = self.node("Reshape", format!("{name}.back"), &[&normed, &shape], vec![]);
        let channels = gn.num_channels;
        let (scale, bias) = self.affine(gn.gamma.as_ref(), gn.beta.as_ref(), channels, name);
        let per_channel: Vec<i64> = (1..=ndim as i64).collect();
        let axes = self.int64(format!("{name}.axes"), &per_channel);
        let scale = self.node("Unsqueeze", format!("{name}.weight_nd"), &[&scale, &axes], vec![]);
        let bias = self.node("Unsqueeze", format!("{name}.bias_nd"), &[&bias, &axes], vec![]);
        let scaled = self.node("Mul", format!("{name}.scaled"), &[&back, &scale], vec![]);
        self.node("Add", name.to_string(), &[&scaled, &bias], vec![])
    }

    /// The norm's affine parameters as initializers (ones and zeros when it has none).
    fn affine(
        &mut self,
        gamma: Option<&Param<Tensor<1>>>,
        beta: Option<&Param<Tensor<1>>>,
        channels: usize,
        name: &str,
    ) -> (String, String) {
        let scale = match gamma {
            Some(g) => self.param(format!("{name}.weight"), g),
            None => self.float(format!("{name}.weight"), &[channels], &vec![1.0; channels]),
        };
        let bias = match beta {
            Some(b) => self.param(format!("{name}.bias"), b),
            None => self.float(format!("{name}.bias"), &[channels], &vec![0.0; channels]),
        };
        (scale, bias)
    }

    /// `MODEL.ACTIVATION` as [`crate::model::layers::activate`] computes it.
    pub fn activation(&mut self, x: &str, act: Activation, name: &str) -> String {
        let name = name.to_string();
        match act {
            Activation::Relu => self.node("Relu", name, &[x], vec![]),
            Activation::Tanh => self.node("Tanh", name, &[x], vec![]),
            Activation::LeakyRelu => {
                self.node("LeakyRelu", name, &[x], vec![("alpha", Attr::Float(LEAKY_RELU_SLOPE as f32))])
            }
            Activation::Elu => self.node("Elu", name, &[x], vec![("alpha", Attr::Float(1.0))]),
            Activation::Sigmoid => self.node("Sigmoid", name, &[x], vec![]),
            Activation::Softmax => self.node("Softmax", name, &[x], vec![("axis", Attr::Int(1))]),
            Activation::Softplus => self.node("Softplus", name, &[x], vec![]),
            Activation::Silu => {
                let gate = self.node("Sigmoid", format!("{name}.gate"), &[x], vec![]);
                self.node("Mul", name, &[x, &gate], vec![])
            }
            Activation::Gelu => {
                // Exact GELU: x · (1 + erf(x / √2)) / 2 (opset 17 has no Gelu).
                let root2 = self.float(format!("{name}.sqrt2"), &[], &[std::f32::consts::SQRT_2]);
                let half = self.float(format!("{name}.half"), &[], &[0.5]);
                let one = self.float(format!("{name}.one"), &[], &[1.0]);
                let scaled = self.node("Div", format!("{name}.scaled"), &[x, &root2], vec![]);
                let erf = self.node("Erf", format!("{name}.erf"), &[&scaled], vec![]);
                let shifted = self.node("Add", format!("{name}.shifted"), &[&erf, &one], vec![]);
                let gated = self.node("Mul", format!("{name}.gated"), &[x, &shifted], vec![]);
                self.node("Mul", name, &[&gated, &half], vec![])
            }
            Activation::Linear | Activation::None => x.to_string(),
        }
    }

    /// Max-pooling with kernel = stride = `factors` over the last `ndim` axes (floor mode).
    pub fn max_pool(&mut self, x: &str, factors: [usize; 3], ndim: usize, name: &str) -> String {
        if factors == [1, 1, 1] {
            return x.to_string();
        }
        let kernel = as_i64(&factors[3 - ndim..]);
        let attrs = vec![("kernel_shape", Attr::Ints(kernel.clone())), ("strides", Attr::Ints(kernel))];
        self.node("MaxPool", name.to_string(), &[x], attrs)
    }

    /// Bi/trilinear up-sampling by `factors`, `align_corners=False` (PyTorch's half-pixel).
    pub fn upsample(&mut self, x: &str, factors: [usize; 3], ndim: usize, name: &str) -> String {
        let mut scales = vec![1.0f32, 1.0];
        scales.extend(factors[3 - ndim..].iter().map(|&f| f as f32));
        let scales = self.float(format!("{name}.scales"), &[ndim + 2], &scales);
        let attrs =
            vec![("mode", Attr::Str("linear")), ("coordinate_transformation_mode", Attr::Str("pytorch_half_pixel"))];
        self.node("Resize", name.to_string(), &[x, "", &scales], attrs)
    }

    /// Bi/trilinear resizing with `align_corners=True` to the spatial size of `like` (`sizes`
    /// taken from `like`'s shape at run time: batch and channels from `x`).
    pub fn resize_like(&mut self, x: &str, like: &str, name: &str) -> String {
        let x_shape = self.node("Shape", format!("{name}.x_shape"), &[x], vec![("end", Attr::Int(2))]);
        let like_shape = self.node("Shape", format!("{name}.like_shape"), &[like], vec![("start", Attr::Int(2))]);
        let sizes =
            self.node("Concat", format!("{name}.sizes"), &[&x_shape, &like_shape], vec![("axis", Attr::Int(0))]);
        let attrs = vec![("mode", Attr::Str("linear")), ("coordinate_transformation_mode", Attr::Str("align_corners"))];
        self.node("Resize", name.to_string(), &[x, "", "", &sizes], attrs)
    }

    /// Nearest up-sampling by integer `factors` as PyTorch's `mode="nearest"` (source index
    /// `floor(dst / f)`).
    pub fn upsample_nearest(&mut self, x: &str, factors: [usize; 3], ndim: usize, name: &str) -> String {
        let mut scales = vec![1.0f32, 1.0];
        scales.extend(factors[3 - ndim..].iter().map(|&f| f as f32));
        let scales = self.float(format!("{name}.scales"), &[ndim + 2], &scales);
        let attrs = vec![
            ("mode", Attr::Str("nearest")),
            ("coordinate_transformation_mode", Attr::Str("asymmetric")),
            ("nearest_mode", Attr::Str("floor")),
        ];
        self.node("Resize", name.to_string(), &[x, "", &scales], attrs)
    }
}

/// Sizes as ONNX's int64s.
pub fn as_i64(values: &[usize]) -> Vec<i64> {
    values.iter().map(|&v| v as i64).collect()
}
