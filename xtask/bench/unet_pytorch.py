"""The PyTorch side of `cargo xtask bench`: BiaPy's default U-Net (spec
biapy-semantic-segmentation.md §7.3: conv → InstanceNorm(affine) → ELU units, max-pool down,
transposed-conv up, 1×1 head) timed exactly as `segsweep bench` times segsweep's: a training step
(forward, BCE-with-logits or cross-entropy, backward, AdamW step) and an inference step
(forward under no_grad) on the same seeded-random batch shape. Prints one JSON line.

Usage: python unet_pytorch.py --ndim 2 --batch 4 --patch 1 256 256 [--device cpu|cuda]
       [--threads N] [--warmup 2] [--steps 10] [--classes 2] [--norm in|bn]
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn


def conv_unit(conv, norm, cin, cout, k):
    return nn.Sequential(conv(cin, cout, k, padding="same"), norm(cout), nn.ELU())


class UNet(nn.Module):
    def __init__(self, ndim, cin, cout, fmaps, k=3, norm_kind="in"):
        super().__init__()
        conv = nn.Conv2d if ndim == 2 else nn.Conv3d
        convt = nn.ConvTranspose2d if ndim == 2 else nn.ConvTranspose3d
        pool = nn.MaxPool2d if ndim == 2 else nn.MaxPool3d
        if norm_kind == "bn":
            norm = nn.BatchNorm2d if ndim == 2 else nn.BatchNorm3d
        else:
            inorm = nn.InstanceNorm2d if ndim == 2 else nn.InstanceNorm3d
            norm = lambda c: inorm(c, affine=True)  # noqa: E731
        self.down = nn.ModuleList()
        prev = cin
        for f in fmaps[:-1]:
            self.down.append(nn.Sequential(conv_unit(conv, norm, prev, f, k), conv_unit(conv, norm, f, f, k)))
            prev = f
        self.pool = pool(2)
        self.bottleneck = nn.Sequential(conv_unit(conv, norm, prev, fmaps[-1], k),
                                        conv_unit(conv, norm, fmaps[-1], fmaps[-1], k))
        self.up = nn.ModuleList()
        self.up_conv = nn.ModuleList()
        prev = fmaps[-1]
        for f in reversed(fmaps[:-1]):
            self.up.append(nn.Sequential(convt(prev, f, 2, stride=2), norm(f), nn.ELU()))
            self.up_conv.append(nn.Sequential(conv_unit(conv, norm, 2 * f, f, k), conv_unit(conv, norm, f, f, k)))
            prev = f
        self.head = conv(fmaps[0], cout, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, block, skip in zip(self.up, self.up_conv, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ndim", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--patch", type=int, nargs=3, default=[1, 256, 256])
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--fmaps", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    p.add_argument("--norm", default="in")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=10)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    dev = torch.device(a.device)
    binary = a.classes <= 2
    cout = 1 if binary else a.classes
    model = UNet(a.ndim, a.channels, cout, a.fmaps, norm_kind=a.norm).to(dev)
    z, y, x = a.patch
    spatial = [y, x] if a.ndim == 2 else [z, y, x]
    images = torch.rand([a.batch, a.channels] + spatial, device=dev)
    if binary:
        target = (torch.rand([a.batch, 1] + spatial, device=dev) < 0.3).float()
        loss_fn = nn.BCEWithLogitsLoss()
    else:
        target = torch.randint(0, a.classes, [a.batch] + spatial, device=dev)
        loss_fn = nn.CrossEntropyLoss()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.02)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    train_ms = []
    model.train()
    for i in range(a.warmup + a.steps):
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), target)
        loss.backward()
        opt.step()
        sync()
        if i >= a.warmup:
            train_ms.append((time.perf_counter() - start) * 1e3)
    infer_ms = []
    model.eval()
    with torch.no_grad():
        for i in range(a.warmup + a.steps):
            start = time.perf_counter()
            model(images)
            sync()
            if i >= a.warmup:
                infer_ms.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({
        "device": f"pytorch-{a.device}",
        "torch": torch.__version__,
        "ndim": a.ndim,
        "batch": a.batch,
        "patch": a.patch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_ms": train_ms,
        "infer_ms": infer_ms,
        "train_median_ms": statistics.median(train_ms),
        "infer_median_ms": statistics.median(infer_ms),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }))


if __name__ == "__main__":
    main()
