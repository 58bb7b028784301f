#!/usr/bin/python3
"""PyTorch's outputs and gradients for the layers of lunet/nn/norm.lua (spec/norm_spec.lua,
"parity with PyTorch").

Run by hand (not in CI), with Debian's Python and python3-torch:
    /usr/bin/python3 spec/parity/norm_torch.py
It writes spec/fixtures/norm/torch.lua, a Lua table with one entry per case: the module's
class name, constructor arguments and options (lunet's spellings, indices 1-based), its
weight and bias, the input x and the output weights r (the loss is sum(out * r), so that
no gradient is trivial), then PyTorch's output and the gradients of that loss w.r.t. the
input, weight and bias. Tensors are {shape = {...}, data = {...}} (dtype = "int" for
indices). Batch norm cases also give `steps`, inputs forwarded in training before x, the
running statistics after them and x, and the output and gradients in evaluation mode.
"""
import os
import torch
import torch.nn as nn

torch.manual_seed(16)


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, torch.Tensor):
        t = v.detach()
        shape = "{" + ", ".join(str(s) for s in t.shape) + "}"
        if t.dtype in (torch.int32, torch.int64):
            data = ", ".join(str(int(a)) for a in t.reshape(-1))
            return "{shape = %s, dtype = \"int\", data = {%s}}" % (shape, data)
        data = ", ".join("%.9g" % float(a) for a in t.reshape(-1))
        return "{shape = %s, data = {%s}}" % (shape, data)
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(lua_value(a) for a in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join("%s = %s" % (k, lua_value(a)) for k, a in sorted(v.items())) + "}"
    raise TypeError(type(v))


def grads(module, x, r, with_input=True):
    """Output and gradients of sum(module(x) * r) w.r.t. x (unless it holds indices) and the parameters."""
    module.zero_grad()
    x = x.clone().requires_grad_(with_input)
    out = module(x)
    (out * r).sum().backward()
    res = {"output": out}
    if with_input:
        res["gradInput"] = x.grad
    # copies: the next zero_grad() zeroes the gradients in place
    if getattr(module, "weight", None) is not None:
        res["gradWeight"] = module.weight.grad.clone()
    if getattr(module, "bias", None) is not None:
        res["gradBias"] = module.bias.grad.clone()
    return res


def affine(module, res):
    """Random weight and bias (the defaults, ones and zeros, would hide mistakes), recorded in res."""
    with torch.no_grad():
        for name in ("weight", "bias"):
            p = getattr(module, name, None)
            if p is not None:
                p.copy_(randn(*p.shape))
                res[name] = p.clone()


def batchnorm(name, cls, num, shape, opts, steps=3):
    torch_opts = {"eps": opts.get("eps", 1e-5), "momentum": opts.get("momentum", 0.1),
                  "affine": opts.get("affine", True), "track_running_stats": opts.get("trackRunningStats", True)}
    m = cls(num, **torch_opts)
    case = {"name": name, "module": cls.__name__, "args": [num], "opts": opts}
    affine(m, case)
    m.train()
    case["steps"] = [randn(*shape) * 2 + 1 for _ in range(steps)]
    with torch.no_grad():
        for s in case["steps"]:
            m(s)
    case["x"], case["r"] = randn(*shape) * 3 - 0.5, randn(*shape)
    case.update(grads(m, case["x"], case["r"]))
    if m.running_mean is not None:
        case["runningMean"], case["runningVar"] = m.running_mean.clone(), m.running_var.clone()
    m.eval()
    ev = grads(m, case["x"], case["r"])
    for k, v in ev.items():
        case["eval" + k[0].upper() + k[1:]] = v
    return case


def layernorm(name, shape, normalized, opts):
    m = nn.LayerNorm(normalized, eps=opts.get("eps", 1e-5), elementwise_affine=opts.get("elementwiseAffine", True))
    case = {"name": name, "module": "LayerNorm", "args": [list(normalized)], "opts": opts}
    affine(m, case)
    case["x"], case["r"] = randn(*shape) * 2 + 0.5, randn(*shape)
    case.update(grads(m, case["x"], case["r"]))
    return case


def pooling(name, module, lunet_name, args, opts, shape):
    case = {"name": name, "module": lunet_name, "args": args, "opts": opts, "x": randn(*shape)}
    case["r"] = randn(*module(case["x"]).shape)
    case.update(grads(module, case["x"], case["r"]))
    return case


def embedding(name, num, dim, index, padding_idx=None):
    m = nn.Embedding(num, dim, padding_idx=None if padding_idx is None else padding_idx - 1)
    with torch.no_grad():
        m.weight.copy_(randn(num, dim))
    idx = torch.tensor(index, dtype=torch.int64)
    case = {"name": name, "module": "Embedding", "args": [num, dim], "weight": m.weight.clone(),
            "x": (idx + 1).to(torch.int32), "r": randn(*idx.shape, dim)}
    if padding_idx is not None:
        case["opts"] = {"paddingIdx": padding_idx}
    res = grads(m, idx, case["r"], with_input=False)
    case.update(res)
    return case


CASES = [
    batchnorm("batchnorm1d_2d", nn.BatchNorm1d, 4, (6, 4), {}),
    batchnorm("batchnorm1d_3d", nn.BatchNorm1d, 3, (4, 3, 5), {"momentum": 0.3}),
    batchnorm("batchnorm2d", nn.BatchNorm2d, 4, (3, 4, 5, 5), {"momentum": 0.2, "eps": 1e-3}),
    batchnorm("batchnorm2d_no_affine", nn.BatchNorm2d, 3, (2, 3, 4, 3), {"affine": False}),
    batchnorm("batchnorm2d_no_running", nn.BatchNorm2d, 3, (2, 3, 4, 3), {"trackRunningStats": False}),
    layernorm("layernorm_2d", (3, 4, 5), (4, 5), {}),
    layernorm("layernorm_last", (6, 8), (8,), {"eps": 1e-3}),
    layernorm("layernorm_no_affine", (2, 3, 7), (7,), {"elementwiseAffine": False}),
    pooling("avgpool_default", nn.AvgPool2d(2), "AvgPool2d", [2], {}, (2, 3, 6, 7)),
    pooling("avgpool_include_pad", nn.AvgPool2d(3, 2, 1), "AvgPool2d", [3], {"stride": 2, "padding": 1},
            (2, 3, 7, 6)),
    pooling("avgpool_exclude_pad", nn.AvgPool2d(3, 2, 1, count_include_pad=False), "AvgPool2d", [3],
            {"stride": 2, "padding": 1, "countIncludePad": False}, (2, 3, 7, 6)),
    pooling("avgpool_ceil", nn.AvgPool2d((3, 2), (2, 2), (1, 0), ceil_mode=True), "AvgPool2d", [[3, 2]],
            {"stride": 2, "padding": [1, 0], "ceilMode": True}, (2, 2, 8, 7)),
    pooling("avgpool_ceil_exclude_pad", nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
            "AvgPool2d", [3], {"stride": 2, "padding": 1, "ceilMode": True, "countIncludePad": False},
            (1, 2, 6, 8)),
    pooling("adaptive_global", nn.AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d", [1], {}, (3, 4, 5, 6)),
    pooling("adaptive_3x4", nn.AdaptiveAvgPool2d((3, 4)), "AdaptiveAvgPool2d", [[3, 4]], {}, (2, 3, 7, 6)),
    pooling("adaptive_up", nn.AdaptiveAvgPool2d((7, 3)), "AdaptiveAvgPool2d", [[7, 3]], {}, (2, 2, 5, 5)),
    embedding("embedding", 10, 4, [[3, 0, 9, 3, 5], [1, 3, 3, 7, 0], [2, 2, 8, 1, 3]]),
    embedding("embedding_padding", 7, 5, [[1, 0, 6, 1], [3, 1, 1, 2]], padding_idx=2),
    embedding("embedding_1d", 5, 3, [4, 4, 0]),
]


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "norm", "torch.lua")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("-- written by spec/parity/norm_torch.py (PyTorch %s); do not edit\nreturn {\n" % torch.__version__)
        for case in CASES:
            f.write("  %s,\n" % lua_value(case))
        f.write("}\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
