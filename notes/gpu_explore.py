"""Exploration (not part of the package): how fast can one CIFAR Attention-92 training step go on one GPU?

Times eager fp32, eager bf16+channels_last, whole-step CUDA graph (bf16, CL), and torch.compile + graph.
Usage on the GPU machine, from the repository: python notes/gpu_explore.py [--compile] [--only-new]
[--check-streams]; the package's ``python -m resattn_min bench`` times the variants that were kept.
"""

import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, ".")
from resattn_min import create_model  # noqa: E402


def sgd_step(params, bufs, lr, momentum=0.9, wd=1e-4):
    grads = [p.grad for p in params]
    torch._foreach_add_(grads, params, alpha=wd)
    torch._foreach_mul_(bufs, momentum)
    torch._foreach_add_(bufs, grads)
    torch._foreach_add_(grads, bufs, alpha=momentum)  # Nesterov
    torch._foreach_mul_(grads, lr)
    torch._foreach_sub_(params, grads)


def timed(fn, steps=60, warmup=15):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(steps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def parallel_forward(self, x):
    """Trunk and mask on two streams: they are independent until the merge."""
    from resattn_min.models.attention_module import combine

    x = self.pre(x)
    main = torch.cuda.current_stream()
    side = getattr(self, "_side", None)
    if side is None:
        side = self._side = torch.cuda.Stream()
    side.wait_stream(main)
    with torch.cuda.stream(side):
        mask = self.mask(x)
    trunk = self.trunk(x)
    main.wait_stream(side)
    return self.post(combine(mask, trunk, self.combination))


def run(name, batch, amp, cl, graph, compile_, streams=False, unit_compile=False):
    import types

    from resattn_min.models.attention_module import AttentionModule

    torch.manual_seed(0)
    model = create_model(name).cuda()
    if streams:
        for m in model.modules():
            if isinstance(m, AttentionModule):
                m.forward = types.MethodType(parallel_forward, m)
    if unit_compile:
        from resattn_min.models.residual_unit import ResidualUnit

        torch._dynamo.config.cache_size_limit = 64
        torch._dynamo.config.recompile_limit = 64
        for m in model.modules():
            if isinstance(m, ResidualUnit):
                m.compile()
    if cl:
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters()]
    bufs = [torch.zeros_like(p) for p in params]
    lr = torch.tensor(0.1, device="cuda")
    fwd = torch.compile(model) if compile_ else model
    x = torch.randn(batch, 3, 32, 32, device="cuda")
    if cl:
        x = x.to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device="cuda")

    def step():
        with torch.autocast("cuda", torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(fwd(x), y)
        loss.backward()
        with torch.no_grad():
            sgd_step(params, bufs, lr)
        for p in params:
            p.grad = None
        return loss

    if not graph:
        return timed(step)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(5):
            step()
    torch.cuda.current_stream().wait_stream(s)
    for p in params:
        p.grad = torch.zeros_like(p)
    g = torch.cuda.CUDAGraph()
    # keep grads allocated: zero them in the graph instead of setting to None
    def step_graph():
        with torch.autocast("cuda", torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(fwd(x), y)
        loss.backward()
        with torch.no_grad():
            sgd_step(params, bufs, lr)
            torch._foreach_zero_([p.grad for p in params])
        return loss
    with torch.cuda.graph(g):
        step_graph()
    return timed(g.replay)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--only-new", action="store_true")
    ap.add_argument("--model", default="attention92_cifar")
    ap.add_argument("--batch", type=int, default=64)
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    rows = {}
    new = [
        ("unitcompile+graph bf16 CL", dict(amp=True, cl=True, graph=True, compile_=False, unit_compile=True)),
        ("unitcompile+graph bf16 CL streams",
         dict(amp=True, cl=True, graph=True, compile_=False, streams=True, unit_compile=True)),
    ]
    old = [
        ("eager fp32", dict(amp=False, cl=False, graph=False, compile_=False)),
        ("eager bf16 CL", dict(amp=True, cl=True, graph=False, compile_=False)),
        ("graph fp32", dict(amp=False, cl=False, graph=True, compile_=False)),
        ("graph bf16 CL", dict(amp=True, cl=True, graph=True, compile_=False)),
        ("graph bf16", dict(amp=True, cl=False, graph=True, compile_=False)),
    ]
    if a.compile:
        old.append(("compile+graph bf16 CL", dict(amp=True, cl=True, graph=True, compile_=True)))
    for label, kw in new if a.only_new else old:
        t0 = time.time()
        ms = run(a.model, a.batch, **kw)
        rows[label] = ms
        print(f"{label:24s} {ms:7.2f} ms/step {a.batch / ms * 1000:9.0f} img/s  ({time.time() - t0:.0f}s)",
              flush=True)
    print(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "model": a.model,
                      "batch": a.batch, "ms_per_step": rows}))




def check_streams(name="attention92_cifar"):
    """The two-stream forward/backward computes the same as the plain one."""
    import types

    from resattn_min.models.attention_module import AttentionModule

    torch.manual_seed(0)
    model = create_model(name).cuda()
    x = torch.randn(64, 3, 32, 32, device="cuda")
    out = model(x)
    out.square().mean().backward()
    g_ref = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    for m in model.modules():
        if isinstance(m, AttentionModule):
            m.forward = types.MethodType(parallel_forward, m)
    out2 = model(x)
    out2.square().mean().backward()
    d_out = (out - out2).abs().max().item()
    d_grad = max((a - p.grad).abs().max().item() for a, p in zip(g_ref, model.parameters(), strict=True))
    print(f"streams check: max |out diff| {d_out:.2e}, max |grad diff| {d_grad:.2e}", flush=True)


if __name__ == "__main__":
    if "--check-streams" in sys.argv:
        sys.argv.remove("--check-streams")
        check_streams()
    main()
