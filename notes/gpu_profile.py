"""Exploration (not part of the package): where does a bf16 channels_last Attention-92 (CIFAR) training
step spend GPU time? Usage on the GPU machine, from the repository: python notes/gpu_profile.py
"""

import sys

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, ".")
from resattn_min import create_model  # noqa: E402

torch.backends.cudnn.benchmark = True
model = create_model(sys.argv[1] if len(sys.argv) > 1 else "attention92_cifar").cuda()
model = model.to(memory_format=torch.channels_last)
x = torch.randn(64, 3, 32, 32, device="cuda").to(memory_format=torch.channels_last)
y = torch.randint(0, 10, (64,), device="cuda")
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4,
                      foreach=True)


def step():
    with torch.autocast("cuda", torch.bfloat16):
        loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


for _ in range(10):
    step()
torch.cuda.synchronize()
with profile(activities=[ProfilerActivity.CUDA]) as prof:
    for _ in range(5):
        step()
    torch.cuda.synchronize()
events = prof.key_averages()
total = sum(e.device_time_total for e in events if e.device_time_total > 0)
n = sum(e.count for e in events if e.device_time_total > 0)
print(f"GPU kernel time per step: {total / 5 / 1000:.2f} ms in {n // 5} kernels")
print(events.table(sort_by="device_time_total", row_limit=25, max_name_column_width=70))
