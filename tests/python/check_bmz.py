"""Checks what `segsweep export` wrote with the tools that consume it, and prints what they saw
as JSON (the Rust test asserts on it):

- the BioImage Model Zoo package: bioimageio.core's own `test_model` (format validation, then
  every weight format reproducing the package's test output, at several input sizes);
- its ONNX weights run by onnxruntime on the test input, after the package's pre-processing,
  against segsweep's own prediction (the test output);
- optionally a `.pth`: `torch.load(weights_only=True)`, BiaPy's own class built from the file's
  `model_build_kwargs` with the state dict loaded strictly, and its output on the same input.

Offline: the one network look-up bioimageio.spec makes (does the author's GitHub account exist?)
is answered "yes" for the package's own authors; any other connection attempt fails the check.

Usage: python check_bmz.py PACKAGE.zip [CHECKPOINT.pth]
       python check_bmz.py --no-bioimageio PACKAGE.zip [CHECKPOINT.pth]   (skips test_model)
"""

import contextlib
import hashlib
import io
import json
import sys
import zipfile

import httpx
import numpy as np
import yaml


def offline(self, request, *args, **kwargs):
    raise httpx.ConnectError(f"the check is offline but tried {request.url}")


httpx.Client.send = offline


def preprocess(x, steps):
    """The package's pre-processing for the steps segsweep writes, per sample and channel."""
    for step in steps:
        kwargs = step.get("kwargs", {})
        axes = tuple(range(2, x.ndim))
        if step["id"] == "zero_mean_unit_variance":
            mean = x.mean(axis=axes, keepdims=True)
            std = x.std(axis=axes, keepdims=True)
            x = (x - mean) / (std + kwargs.get("eps", 1e-6))
        elif step["id"] == "scale_linear":
            x = x * kwargs["gain"] + kwargs.get("offset", 0.0)
        elif step["id"] == "scale_range":
            lo = x.min(axis=axes, keepdims=True)
            hi = x.max(axis=axes, keepdims=True)
            x = (x - lo) / (hi - lo + kwargs.get("eps", 1e-6))
        else:
            raise SystemExit(f"check_bmz.py does not know the pre-processing step {step['id']}")
    return x.astype(np.float32)


def postprocess(y, steps):
    for step in steps:
        if step["id"] == "sigmoid":
            y = 1.0 / (1.0 + np.exp(-y))
        elif step["id"] == "softmax":
            e = np.exp(y - y.max(axis=1, keepdims=True))
            y = e / e.sum(axis=1, keepdims=True)
    return y


def main(*args):
    run_bioimageio = args[0] != "--no-bioimageio"
    package, checkpoint = (list(args if run_bioimageio else args[1:]) + [None])[:2]
    seen = {}
    with zipfile.ZipFile(package) as z:
        files = {name: z.read(name) for name in z.namelist()}
    rdf = yaml.safe_load(files["rdf.yaml"])
    seen["files"] = sorted(files)
    seen["sha256_ok"] = all(
        hashlib.sha256(files[ref["source"]]).hexdigest() == ref["sha256"]
        for ref in [rdf["inputs"][0]["test_tensor"], rdf["outputs"][0]["test_tensor"], *rdf["weights"].values()]
    )
    seen["weights"] = sorted(rdf["weights"])

    if run_bioimageio:
        seen.update(bioimageio_test(package, rdf))
    seen.update(onnx_and_torch(files, rdf, checkpoint))
    return seen


def bioimageio_test(package, rdf):
    seen = {}
    from bioimageio.spec._internal import field_validation

    for person in rdf.get("authors", []) + rdf.get("maintainers", []):
        if person.get("github_user"):
            field_validation.KNOWN_GITHUB_USERS.add(person["github_user"].lower())
    from bioimageio.core import test_model

    summary = test_model(package)
    seen["bioimageio_status"] = summary.status
    seen["bioimageio_checks"] = len(summary.details)
    seen["bioimageio_failed"] = [d.name + ": " + str(d.errors) for d in summary.details if d.status == "failed"]
    return seen


BIAPY_CLASSES = {
    "unet": ("biapy.models.unet", "U_Net"),
    "attention_unet": ("biapy.models.attention_unet", "Attention_U_Net"),
    "seunet": ("biapy.models.seunet", "SE_U_Net"),
    "resunet": ("biapy.models.resunet", "ResUNet"),
    "resunet_se": ("biapy.models.resunet_se", "ResUNet_SE"),
    "resunet++": ("biapy.models.resunet++", "ResUNetPlusPlus"),
    "unetr": ("biapy.models.unetr", "UNETR"),
    "hrnet": ("biapy.models.hrnet", "HighResolutionNet"),
}


def onnx_and_torch(files, rdf, checkpoint):
    seen = {}
    x = np.load(io.BytesIO(files["test-input.npy"]))
    expected = np.load(io.BytesIO(files["test-output.npy"]))
    normed = preprocess(x, rdf["inputs"][0]["preprocessing"])
    post = rdf["outputs"][0]["postprocessing"]

    import onnxruntime

    session = onnxruntime.InferenceSession(files[rdf["weights"]["onnx"]["source"]], providers=["CPUExecutionProvider"])
    (logits,) = session.run(["output0"], {"input0": normed})
    seen["onnx_shape"] = list(logits.shape)
    seen["onnx_max_abs"] = float(np.abs(postprocess(logits, post) - expected).max())

    if checkpoint:
        import importlib

        import torch

        ckpt = torch.load(checkpoint, weights_only=True, map_location="cpu")
        seen["pth_keys"] = sorted(ckpt)
        seen["pth_tensors"] = len(ckpt["model"])
        seen["pth_biapy_version"] = ckpt["biapy_version"]
        seen["pth_cfg_architecture"] = ckpt["cfg"]["MODEL"]["ARCHITECTURE"]
        if "pytorch_state_dict" in rdf["weights"]:
            arch = rdf["weights"]["pytorch_state_dict"]["architecture"]
            module, name = arch["import_from"], arch["callable"]
        else:
            # A package without PyTorch weights (a contrastive network, D30): the class of the
            # checkpoint's architecture, as segsweep's `biapy_class` names it.
            module, name = BIAPY_CLASSES[ckpt["cfg"]["MODEL"]["ARCHITECTURE"]]
        cls = getattr(importlib.import_module(module), name)
        model = cls(**ckpt["model_build_kwargs"])
        model.load_state_dict(ckpt["model"], strict=True)
        if getattr(model, "contrast", False):
            # With `LOSS.CONTRAST`, BiaPy 3.7.1's forward walks the `heads` Sequential (3x3 conv,
            # norm, dropout, 1x1 conv) as if each layer were a head of its own and fails; run it as
            # the one head it is (segsweep's D30).
            model.heads = torch.nn.ModuleList([model.heads])
        model.eval()
        with torch.no_grad():
            out = model(torch.from_numpy(normed))
        out = out if torch.is_tensor(out) else out["pred"]
        seen["pth_max_abs"] = float(np.abs(postprocess(out.numpy(), post) - expected).max())

    return seen


if __name__ == "__main__":
    out = sys.stdout
    # BiaPy's classes print while they are built: keep stdout for the JSON.
    with contextlib.redirect_stdout(sys.stderr):
        seen = main(*sys.argv[1:])
    json.dump(seen, out)
