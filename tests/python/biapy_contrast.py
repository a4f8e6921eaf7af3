"""BiaPy 3.7.1's `PixelContrastLoss._contrastive` on seeded random anchors and a queue, printed
as JSON for `tests/it/contrast.rs`: the anchors `[A, P]` (one view), their labels, the queue
`[C, 2*M, P]` (segment rows then pixel rows per class, as BiaPy concatenates them) and the loss.

BiaPy allocates with `.cuda()`; here that is the identity, so it runs on the CPU.
"""

import json

import torch

torch.Tensor.cuda = lambda self, *args, **kwargs: self

from biapy.engine.metrics import PixelContrastLoss  # noqa: E402

torch.manual_seed(0)
A, P, C, M = 5, 4, 3, 2
anchors = torch.nn.functional.normalize(torch.randn(A, 1, P), dim=2)
labels = torch.tensor([0.0, 2.0, 1.0, 1.0, 0.0])
queue = torch.nn.functional.normalize(torch.randn(C, 2 * M, P), dim=2)
value = PixelContrastLoss()._contrastive(anchors, labels, queue=queue).item()
print(
    json.dumps(
        {
            "shape": [A, P, C, M],
            "anchors": anchors[:, 0].flatten().tolist(),
            "labels": labels.tolist(),
            "queue": queue.flatten().tolist(),
            "loss": value,
        }
    )
)
