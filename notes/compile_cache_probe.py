"""Exploration (not part of the package): does a bench-like process read the compile cache that a
`train` process filled? Which of torch's settings and input layouts are in the cache's key?

    export TORCHINDUCTOR_CACHE_DIR=/tmp/cache-probe
    python -m resattn_min train --model attention56_cifar --dataset synthetic --quick --compile \
        --total-iters 3 --milestones 1,2 --schedule none --lr 0.1 --batch-size 16 --eval-every 3 \
        --run-dir /tmp/probe-train --overwrite --no-progress        # fills the cache
    python notes/compile_cache_probe.py [--trainer-flag] [--channels-last]

It prints the first step's `compiled in N s: k of n graphs from the cache` line (compilation.cost_of).
"""

import argparse

import torch

from resattn_min.train.build import build_model
from resattn_min.train.compilation import cost_of, describe
from resattn_min.train.run_config import TrainConfig
from resattn_min.train.step import train_step

parser = argparse.ArgumentParser()
parser.add_argument("--trainer-flag", action="store_true",
                    help="use_deterministic_algorithms(False, warn_only=True), as seed_everything sets it")
parser.add_argument("--channels-last", action="store_true", help="the trainer's input layout")
args = parser.parse_args()
if args.trainer_flag:
    torch.use_deterministic_algorithms(False, warn_only=True)
torch.manual_seed(0)
model = build_model(TrainConfig(model="attention56_cifar"), 10)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4, nesterov=True)
images, labels = torch.randn(16, 3, 32, 32), torch.randint(0, 10, (16,))
if args.channels_last:
    images = images.contiguous(memory_format=torch.channels_last)
_, cost = cost_of(train_step, torch.compile(model), optimizer, images, labels, 0.01, None)
print(describe(cost))
