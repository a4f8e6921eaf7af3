//! Checks, run only in a `tch` build, that libtorch's convolution, ReLU and batch-norm kernels
//! and gradients (the patched `vendor/burn-tch`) equal flex's, for every convolution shape the
//! models use and a few they do not (stride 2, asymmetric padding, groups). Owns no model code.

use burn::tensor::module::{conv_transpose2d, conv_transpose3d, conv2d, conv3d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, Tensor, TensorData};

/// Values, then the input and weight gradients of `Σ f(x, w)·g` on `device`, for a fixed `g`.
fn gradients<const D: usize>(
    device: &Device,
    x: &TensorData,
    w: &TensorData,
    f: &dyn Fn(Tensor<D>, Tensor<D>) -> Tensor<D>,
) -> [TensorData; 3] {
    let x = Tensor::<D>::from_data(x.clone(), device).require_grad();
    let w = Tensor::<D>::from_data(w.clone(), device).require_grad();
    let y = f(x.clone(), w.clone());
    // A fixed, position-dependent output gradient, the same on both devices.
    let n = y.shape().num_elements();
    let g_values: Vec<f32> = (0..n).map(|i| ((i * 7919) % 23) as f32 / 11.0 - 1.0).collect();
    let g = Tensor::<D>::from_data(TensorData::new(g_values, y.shape()), device);
    let grads = (y.clone() * g).sum().backward();
    [y.into_data(), x.grad(&grads).unwrap().into_data(), w.grad(&grads).unwrap().into_data()]
}

fn assert_same<const D: usize>(
    x_shape: [usize; D],
    w_shape: [usize; D],
    f: &dyn Fn(Tensor<D>, Tensor<D>) -> Tensor<D>,
) {
    let cpu = Device::flex();
    let x = Tensor::<D>::random(x_shape, Distribution::Normal(0.0, 1.0), &cpu).into_data();
    let w = Tensor::<D>::random(w_shape, Distribution::Normal(0.0, 0.3), &cpu).into_data();
    let flex = gradients(&Device::flex().autodiff(), &x, &w, f);
    #[allow(deprecated)]
    let tch = gradients(&Device::libtorch().autodiff(), &x, &w, f);
    for (name, (a, b)) in ["output", "input gradient", "weight gradient"].iter().zip(flex.iter().zip(&tch)) {
        assert_close(name, a, b);
    }
}

#[test]
fn relu_gradients_match_flex_including_exact_zeros() {
    // The outer ReLU sees exact zeros (where the inner one cut): its gradient is 0 there on both.
    let f = |x: Tensor<4>, w: Tensor<4>| burn::tensor::activation::relu(burn::tensor::activation::relu(x) * w);
    assert_same([2, 3, 5, 4], [2, 3, 5, 4], &f);
}

#[test]
fn conv2d_gradients_match_flex() {
    for (stride, padding, groups) in [(1, 1, 1), (2, 1, 1), (1, 0, 1), (1, 1, 2)] {
        assert_same([2, 4, 9, 8], [6, 4 / groups, 3, 3], &|x, w| {
            conv2d(x, w, None, ConvOptions::new([stride; 2], [padding; 2], [1; 2], groups))
        });
    }
    // The U-Net's first layer: one input channel.
    assert_same([2, 1, 16, 16], [4, 1, 3, 3], &|x, w| conv2d(x, w, None, ConvOptions::new([1; 2], [1; 2], [1; 2], 1)));
}

#[test]
fn conv2d_gradients_match_flex_with_asymmetric_padding() {
    assert_same([1, 3, 7, 6], [2, 3, 2, 2], &|x, w| {
        let options = ConvOptions::new_with_padding([1; 2], [(0, 1), (1, 0)], [1; 2], 1);
        conv2d(x, w, None, options)
    });
}

#[test]
fn conv3d_gradients_match_flex() {
    for batch in [1, 2] {
        for (stride, padding) in [(1, 1), (2, 0)] {
            assert_same([batch, 3, 6, 7, 8], [4, 3, 3, 3, 3], &|x, w| {
                conv3d(x, w, None, ConvOptions::new([stride; 3], [padding; 3], [1; 3], 1))
            });
        }
    }
}

#[test]
fn transposed_conv_gradients_match_flex() {
    // The U-Net's up-sampling: kernel 2, stride 2; and an overlapping case with output padding.
    assert_same([2, 6, 5, 4], [6, 3, 2, 2], &|x, w| {
        conv_transpose2d(x, w, None, ConvTransposeOptions::new([2; 2], [0; 2], [0; 2], [1; 2], 1))
    });
    assert_same([1, 4, 5, 5], [4, 2, 3, 3], &|x, w| {
        conv_transpose2d(x, w, None, ConvTransposeOptions::new([2; 2], [1; 2], [1; 2], [1; 2], 1))
    });
    for batch in [1, 2] {
        assert_same([batch, 4, 3, 4, 5], [4, 2, 2, 2, 2], &|x, w| {
            conv_transpose3d(x, w, None, ConvTransposeOptions::new([2; 3], [0; 3], [0; 3], [1; 3], 1))
        });
    }
}

/// Every value of `a` within `1e-4 × max(1, max |a|)` of `b`'s.
fn assert_close(name: &str, a: &TensorData, b: &TensorData) {
    assert_eq!(a.shape(), b.shape(), "{name}");
    let scale = a.iter::<f32>().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
    let diff = a.iter::<f32>().zip(b.iter::<f32>()).fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
    assert!(diff <= 1e-4 * scale, "{name}: max |flex − tch| = {diff}, max |flex| = {scale}");
}

/// The batch norm of a training step (batch statistics) and its three gradients, and the
/// inference batch norm with given statistics, on `device`.
fn batch_norm_results<const D: usize>(device: &Device, x: &TensorData, gamma: &TensorData) -> Vec<TensorData> {
    use burn::tensor::module::{batch_norm, batch_norm_train};
    let x = Tensor::<D>::from_data(x.clone(), device).require_grad();
    let gamma = Tensor::<1>::from_data(gamma.clone(), device).require_grad();
    let channels = gamma.dims()[0];
    let beta = Tensor::<1>::from_data(
        TensorData::new((0..channels).map(|c| c as f32 * 0.1 - 0.2).collect(), [channels]),
        device,
    )
    .require_grad();
    let train = batch_norm_train(x.clone(), gamma.clone(), beta.clone(), 1e-5);
    let n = train.output.shape().num_elements();
    let g: Vec<f32> = (0..n).map(|i| ((i * 7919) % 23) as f32 / 11.0 - 1.0).collect();
    let g = Tensor::<D>::from_data(TensorData::new(g, train.output.shape()), device);
    let grads = (train.output.clone() * g).sum().backward();
    let inference = batch_norm(
        x.clone().detach(),
        gamma.clone().detach(),
        beta.clone().detach(),
        train.mean.clone().detach(),
        train.variance.clone().detach().add_scalar(0.5),
        1e-3,
    );
    vec![
        train.output.into_data(),
        train.mean.into_data(),
        train.variance.into_data(),
        x.grad(&grads).unwrap().into_data(),
        gamma.grad(&grads).unwrap().into_data(),
        beta.grad(&grads).unwrap().into_data(),
        inference.into_data(),
    ]
}

#[test]
fn batch_norm_and_its_gradients_match_flex() {
    fn check<const D: usize>(shape: [usize; D]) {
        let cpu = Device::flex();
        let x = Tensor::<D>::random(shape, Distribution::Normal(0.5, 2.0), &cpu).into_data();
        let gamma = Tensor::<1>::random([shape[1]], Distribution::Normal(1.0, 0.3), &cpu).into_data();
        let flex = batch_norm_results::<D>(&Device::flex().autodiff(), &x, &gamma);
        #[allow(deprecated)]
        let tch = batch_norm_results::<D>(&Device::libtorch().autodiff(), &x, &gamma);
        let names = ["output", "mean", "variance", "input gradient", "gamma gradient", "beta gradient", "inference"];
        for (name, (a, b)) in names.iter().zip(flex.iter().zip(&tch)) {
            assert_close(&format!("{name} {shape:?}"), a, b);
        }
    }
    check([4, 3, 6, 5]);
    check([1, 2, 3, 4, 5]);
}
