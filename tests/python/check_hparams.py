"""Reads a sweep's `sweep/tensorboard/` with TensorBoard's own reader and HParams plugin
metadata, and prints what TensorBoard sees as JSON (the Rust test asserts on it).

Usage: python check_hparams.py SWEEP_TENSORBOARD_DIR
"""

import json
import os
import sys

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.plugins.hparams import metadata


def load(path):
    accumulator = event_accumulator.EventAccumulator(path, size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    return accumulator


def value(v):
    kind = v.WhichOneof("kind")
    return getattr(v, kind)


def main(root):
    seen = {"experiment": None, "sessions": {}}
    top = load(root)
    content = top.PluginTagToContent(metadata.PLUGIN_NAME)
    experiment = metadata.parse_experiment_plugin_data(content[metadata.EXPERIMENT_TAG])
    seen["experiment"] = {
        "hparams": {
            info.name: {
                "type": info.type,
                "domain": [value(v) for v in info.domain_discrete.values],
            }
            for info in experiment.hparam_infos
        },
        "metrics": [info.name.tag for info in experiment.metric_infos],
    }
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if not os.path.isdir(path):
            continue
        run = load(path)
        content = run.PluginTagToContent(metadata.PLUGIN_NAME)
        start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
        end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
        scalars = {tag: run.Scalars(tag)[-1].value for tag in run.Tags()["scalars"]}
        seen["sessions"][name] = {
            "hparams": {k: value(v) for k, v in start.hparams.items()},
            "group": start.group_name,
            "status": end.status,
            "metrics": scalars,
        }
    json.dump(seen, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv[1])
