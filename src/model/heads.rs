//! Every network's output head, written once: BiaPy's 1×1 convolution `heads.0`, or — with
//! `LOSS.CONTRAST.ENABLE` — the pair BiaPy's `contrast=True` networks build instead:
//!
//! * `heads`: `heads.0` 3×3 convolution (features → features), `heads.1` norm, `heads.2`
//!   dropout 0.1, `heads.3` 1×1 convolution without bias (features → classes), giving logits;
//! * `proj_head`: `proj.0` 1×1 convolution, `proj.1` batch norm, ReLU, `proj.3` 1×1 convolution
//!   to `LOSS.CONTRAST.PROJ_DIM` channels, L2-normalised over channels: the embedding the pixel
//!   contrastive loss compares.
//!
//! Both read the same last decoder features. The networks keep their `heads` field (so burn's
//! module paths of a plain network do not change) and add `contrast`; the functions here take
//! both. This file knows nothing of the loss and must not read the config: it takes a
//! [`HeadSpec`].

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

use super::convnext::ChannelNorm;
use super::layers::{ConvNd, NameList, Norm, n_trainable_params};
use crate::config::{Ndim, NormLayer};

/// BiaPy's dropout in the contrastive segmentation head.
pub const HEAD_DROPOUT: f64 = 0.1;
/// `F.normalize`'s floor on the norm.
const NORMALIZE_EPS: f32 = 1e-12;

/// How the network's convolutions are initialised, which its head follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    /// BiaPy's `init_weights`: Xavier-uniform weights, zero biases (the U-Net family, `unetr`).
    Biapy,
    /// PyTorch's default (`multiresunet`, `hrnet`, which BiaPy does not re-initialise).
    Torch,
}

/// The norm of the contrastive segmentation head (`heads.1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadNormKind {
    /// `MODEL.NORMALIZATION`'s layer (or batch norm for `multiresunet`).
    Layer(NormLayer),
    /// A channel layer norm, ε 1e-5 (the `unext_*`, whose other norms are channel norms).
    Channel,
}

/// What a head needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadSpec {
    pub ndim: Ndim,
    /// The last decoder features' channels.
    pub in_channels: usize,
    /// Logit channels.
    pub out_channels: usize,
    /// `Some(LOSS.CONTRAST.PROJ_DIM)` with the contrastive heads, `None` for the plain 1×1.
    pub proj_dim: Option<usize>,
    pub norm: HeadNormKind,
    pub init: Init,
}

/// `heads.1`.
#[derive(Module, Debug)]
pub enum HeadNorm {
    Layer(Norm),
    Channel(ChannelNorm),
}

impl HeadNorm {
    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            HeadNorm::Layer(norm) => norm.forward(x),
            HeadNorm::Channel(norm) => norm.forward(x),
        }
    }

    fn biapy_names(&self, prefix: &str, out: &mut NameList) {
        match self {
            HeadNorm::Layer(norm) => norm.biapy_names(prefix, out),
            HeadNorm::Channel(norm) => norm.biapy_names(prefix, out),
        }
    }
}

/// BiaPy's `ProjectionHead(proj="convmlp", bn_type="sync_bn")`.
#[derive(Module, Debug)]
pub struct ProjectionHead {
    /// `proj_head.proj.0`.
    pub conv: ConvNd,
    /// `proj_head.proj.1`.
    pub norm: Norm,
    /// `proj_head.proj.3`.
    pub out: ConvNd,
}

impl ProjectionHead {
    /// `[batch, c, …]` → `[batch, proj_dim, …]`, unit length over channels.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        l2_normalize(self.out.forward(relu(self.norm.forward(self.conv.forward(x)))))
    }
}

/// The contrastive pair: segmentation head and projection head.
#[derive(Module, Debug)]
pub struct ContrastHeads {
    /// `heads.0`.
    pub conv: ConvNd,
    /// `heads.1`.
    pub norm: HeadNorm,
    /// `heads.2`.
    pub dropout: Dropout,
    /// `heads.3`.
    pub classifier: ConvNd,
    /// `proj_head`.
    pub proj_head: ProjectionHead,
}

impl ContrastHeads {
    fn new(spec: &HeadSpec, proj_dim: usize, device: &Device) -> Self {
        let HeadSpec { ndim, in_channels: c, out_channels, init, .. } = *spec;
        let conv = |channels: [usize; 2], kernel: usize| match init {
            Init::Biapy => ConvNd::new(ndim, channels, [kernel; 3], device),
            Init::Torch => ConvNd::torch_default(ndim, channels, [kernel; 3], device),
        };
        let classifier = match init {
            Init::Biapy => ConvNd::without_bias(ndim, [c, out_channels], device),
            Init::Torch => ConvNd::unbiased(ndim, [c, out_channels], [1; 3], [1; 3], device),
        };
        let norm = match spec.norm {
            HeadNormKind::Layer(kind) => HeadNorm::Layer(Norm::new(kind, ndim, c, device)),
            HeadNormKind::Channel => HeadNorm::Channel(ChannelNorm::new(c, super::unext::EPSILON, device)),
        };
        Self {
            conv: conv([c, c], 3),
            norm,
            dropout: DropoutConfig::new(HEAD_DROPOUT).init(),
            classifier,
            proj_head: ProjectionHead {
                conv: conv([c, c], 1),
                norm: Norm::new(NormLayer::Bn, ndim, c, device),
                out: conv([c, proj_dim], 1),
            },
        }
    }

    /// Logits of the features.
    pub fn logits<const D: usize>(&self, feats: Tensor<D>) -> Tensor<D> {
        self.classifier.forward(self.dropout.forward(self.norm.forward(self.conv.forward(feats))))
    }
}

/// The head of `spec`: `(heads, contrast)` — one 1×1 convolution and `None`, or no plain head
/// and the contrastive pair.
pub fn build(spec: &HeadSpec, device: &Device) -> (Vec<ConvNd>, Option<ContrastHeads>) {
    match spec.proj_dim {
        Some(dim) => (Vec::new(), Some(ContrastHeads::new(spec, dim, device))),
        None => {
            let channels = [spec.in_channels, spec.out_channels];
            let head = match spec.init {
                Init::Biapy => ConvNd::new(spec.ndim, channels, [1; 3], device),
                Init::Torch => ConvNd::torch_default(spec.ndim, channels, [1; 3], device),
            };
            (vec![head], None)
        }
    }
}

/// Logits of the last decoder features and, when asked and the network has a projection head,
/// their embedding.
pub fn output<const D: usize>(
    heads: &[ConvNd],
    contrast: Option<&ContrastHeads>,
    feats: Tensor<D>,
    embed: bool,
) -> (Tensor<D>, Option<Tensor<D>>) {
    match contrast {
        Some(pair) => {
            let embedding = embed.then(|| pair.proj_head.forward(feats.clone()));
            (pair.logits(feats), embedding)
        }
        None => (heads[0].forward(feats), None),
    }
}

/// Appends the head's BiaPy names: `heads.0.…`, or `heads.{0,1,3}.…` then `proj_head.proj.…`.
pub fn biapy_names(heads: &[ConvNd], contrast: Option<&ContrastHeads>, out: &mut NameList) {
    for (h, head) in heads.iter().enumerate() {
        head.biapy_names(&format!("heads.{h}"), out);
    }
    if let Some(pair) = contrast {
        pair.conv.biapy_names("heads.0", out);
        pair.norm.biapy_names("heads.1", out);
        pair.classifier.biapy_names("heads.3", out);
        let proj = &pair.proj_head;
        proj.conv.biapy_names("proj_head.proj.0", out);
        proj.norm.biapy_names("proj_head.proj.1", out);
        proj.out.biapy_names("proj_head.proj.3", out);
    }
}

/// Trainable parameters of the head.
pub fn n_params(heads: &[ConvNd], contrast: Option<&ContrastHeads>) -> usize {
    heads.iter().map(n_trainable_params).sum::<usize>() + contrast.map_or(0, n_trainable_params)
}

/// `F.normalize(x, p=2, dim=1)`: each position's channel vector divided by its length (at
/// least 1e-12). The floor is taken on the squared length, before the root, so a zero vector
/// (all channels cut by the ReLU) gets a zero gradient, not `∞ · 0`.
pub fn l2_normalize<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).clamp_min(NORMALIZE_EPS * NORMALIZE_EPS).sqrt();
    x / norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn l2_normalize_gives_unit_channel_vectors() {
        let device = Device::flex();
        let x = Tensor::<4>::from_data(TensorData::new(vec![3.0f32, 0.0, 4.0, 0.0], [1, 2, 1, 2]), &device);
        let got = l2_normalize(x).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(got, vec![0.6, 0.0, 0.8, 0.0]);
    }

    #[test]
    fn a_zero_vector_normalises_to_zero_with_a_finite_gradient() {
        let device = Device::flex().autodiff();
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 0.0, 3.0, 4.0], [2, 2]), &device).require_grad();
        let y = l2_normalize(x.clone());
        assert_eq!(y.clone().into_data().try_to_vec::<f32>().unwrap(), vec![0.0, 0.0, 0.6, 0.8]);
        let grads = y.sum().backward();
        let grad = x.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert!(grad.iter().all(|g| g.is_finite()), "{grad:?}");
    }

    #[test]
    fn contrastive_heads_give_logits_and_unit_embeddings_at_full_size() {
        let device = Device::flex();
        let spec = HeadSpec {
            ndim: Ndim::D2,
            in_channels: 4,
            out_channels: 3,
            proj_dim: Some(5),
            norm: HeadNormKind::Layer(NormLayer::Bn),
            init: Init::Biapy,
        };
        let (plain, pair) = build(&spec, &device);
        assert!(plain.is_empty());
        let feats = Tensor::<4>::random([2, 4, 6, 6], burn::tensor::Distribution::Normal(0.0, 1.0), &device);
        let (logits, embed) = output(&plain, pair.as_ref(), feats, true);
        assert_eq!(logits.dims(), [2, 3, 6, 6]);
        let embed = embed.expect("an embedding");
        assert_eq!(embed.dims(), [2, 5, 6, 6]);
        let lengths = embed.powi_scalar(2).sum_dim(1).into_data().try_to_vec::<f32>().unwrap();
        // Unit length, or 0 where the ReLU left nothing (zero biases), as `F.normalize` gives.
        assert!(lengths.iter().all(|l| (l - 1.0).abs() < 1e-5 || *l == 0.0), "{lengths:?}");
        assert!(lengths.iter().filter(|l| **l > 0.5).count() > lengths.len() / 2);
        // 3×3 conv 4·4·9 + 4, norm 8, classifier 4·3, projection 16 + 4, 8, 4·5 + 5.
        assert_eq!(n_params(&plain, pair.as_ref()), 148 + 8 + 12 + 20 + 8 + 25);
        let mut names = Vec::new();
        biapy_names(&plain, pair.as_ref(), &mut names);
        let names: Vec<&str> = names.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "heads.0.weight",
                "heads.0.bias",
                "heads.1.weight",
                "heads.1.bias",
                "heads.3.weight",
                "proj_head.proj.0.weight",
                "proj_head.proj.0.bias",
                "proj_head.proj.1.weight",
                "proj_head.proj.1.bias",
                "proj_head.proj.3.weight",
                "proj_head.proj.3.bias",
            ]
        );
    }
}
