#!/usr/bin/python3
"""PyTorch's gradients for the cases of spec/autograd_spec.lua ("parity with PyTorch").

Run by hand (not in CI), with Debian's Python and python3-torch:
    /usr/bin/python3 spec/parity/autograd_torch.py
It writes spec/fixtures/autograd/torch.lua, a Lua table: for each case its name, the
inputs (`params`, which get gradients, and `consts`), each as {shape = {...}, data = {...}}
(class numbers and row indices 1-based, as lunet has them, with dtype = "int"), the loss and
the gradient of every param. The spec builds the same inputs from the file and computes
the same function with lunet.autograd. Every loss is sum(out * r) with r a fixed random
tensor, so that no gradient is trivial.
"""
import os
import torch
import torch.nn.functional as F

torch.manual_seed(15)


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def positive(*shape):
    return randn(*shape).abs() + 0.5


def weighted(out, c):
    return (out * c["r"]).sum()


def labels(n, k):
    return torch.randint(1, k + 1, (n,), dtype=torch.int32)


# name -> (params, consts, f(p, c) -> loss). The consts' "r" is made to the output's shape.
CASES = {
    "add_broadcast": ({"a": randn(3, 4), "b": randn(4)}, {}, lambda p, c: p["a"] + p["b"]),
    "sub_broadcast": ({"a": randn(2, 3, 4), "b": randn(3, 1)}, {}, lambda p, c: p["a"] - p["b"]),
    "mul_broadcast": ({"a": randn(3, 1, 4), "b": randn(2, 4)}, {}, lambda p, c: p["a"] * p["b"]),
    "div": ({"a": randn(3, 4), "b": positive(3, 4)}, {}, lambda p, c: p["a"] / p["b"]),
    "pow_number": ({"a": positive(3, 4)}, {}, lambda p, c: p["a"] ** 2.5),
    "pow_tensor": ({"a": positive(3, 4), "b": randn(4)}, {}, lambda p, c: p["a"] ** p["b"]),
    "maximum": ({"a": randn(3, 4), "b": randn(4)}, {}, lambda p, c: torch.maximum(p["a"], p["b"])),
    "minimum": ({"a": randn(3, 4), "b": randn(3, 1)}, {}, lambda p, c: torch.minimum(p["a"], p["b"])),
    "unary": ({"a": randn(3, 4)}, {}, lambda p, c: torch.cat([
        (-p["a"]).exp(), p["a"].abs().log(), (p["a"].abs() + 0.1).sqrt(), p["a"].tanh(), p["a"].sigmoid(),
        p["a"].relu(), p["a"].clamp(-0.5, 0.5)], 0)),
    "matmul_2d": ({"a": randn(3, 4), "b": randn(4, 5)}, {}, lambda p, c: p["a"] @ p["b"]),
    "matmul_batched": ({"a": randn(2, 3, 4), "b": randn(2, 4, 5)}, {}, lambda p, c: p["a"] @ p["b"]),
    "matmul_batched_shared": ({"a": randn(2, 3, 4), "b": randn(4, 5)}, {}, lambda p, c: p["a"] @ p["b"]),
    "matmul_vector": ({"a": randn(3, 4), "v": randn(4)}, {}, lambda p, c: p["a"] @ p["v"]),
    "addmm": ({"c": randn(3, 5), "a": randn(3, 4), "b": randn(4, 5)}, {},
              lambda p, c: torch.addmm(p["c"], p["a"], p["b"], beta=0.5, alpha=2.0)),
    "sum_dim": ({"a": randn(3, 4, 2)}, {}, lambda p, c: p["a"].sum(1, keepdim=True) * p["a"].sum(2)[:, :, None]),
    "mean_max_min": ({"a": randn(3, 4)}, {}, lambda p, c: p["a"].mean(0) + p["a"].max(0)[0] + p["a"].min()),
    "var_std": ({"a": randn(3, 4)}, {}, lambda p, c: p["a"].var(1) + p["a"].std()),
    "views": ({"a": randn(2, 3, 4)}, {}, lambda p, c: p["a"].transpose(0, 2).reshape(4, 6)
              + p["a"].permute(2, 0, 1).reshape(4, 6) + p["a"].narrow(1, 1, 2).select(0, 1).reshape(1, 8)[:, :6]
              + p["a"][1, 2].unsqueeze(1).expand(4, 6)),
    "index": ({"a": randn(4, 3)}, {"idx": torch.tensor([2, 4, 2, 1], dtype=torch.int32)},
              lambda p, c: p["a"].index_select(0, c["idx"].long() - 1)),
    "linear": ({"x": randn(5, 4), "w": randn(3, 4), "b": randn(3)}, {},
               lambda p, c: F.linear(p["x"], p["w"], p["b"])),
    "conv2d": ({"x": randn(2, 3, 7, 6), "w": randn(4, 3, 3, 3), "b": randn(4)}, {},
               lambda p, c: F.conv2d(p["x"], p["w"], p["b"], stride=2, padding=1)),
    "maxpool2d": ({"x": randn(2, 3, 6, 6)}, {}, lambda p, c: F.max_pool2d(p["x"], 2, 2)),
    "softmax": ({"x": randn(4, 5)}, {}, lambda p, c: F.softmax(p["x"], 1) + F.log_softmax(p["x"], 1)),
    "crossentropy": ({"x": randn(6, 5)}, {"y": labels(6, 5)},
                     lambda p, c: F.cross_entropy(p["x"], c["y"].long() - 1)),
    "small_cnn": ({"w1": randn(4, 3, 3, 3) * 0.3, "b1": randn(4) * 0.1, "w2": randn(5, 16) * 0.3, "b2": randn(5) * 0.1},
                  {"x": randn(3, 3, 4, 4), "y": labels(3, 5)},
                  lambda p, c: F.cross_entropy(F.linear(F.max_pool2d(F.conv2d(c["x"], p["w1"], p["b1"], padding=1)
                                                                      .relu(), 2).reshape(3, 16), p["w2"], p["b2"]),
                                               c["y"].long() - 1)),
    # label-smoothed cross-entropy, eps = 0.1: (1 - eps) nll + eps mean_k(-logp)
    "label_smoothing": ({"x": randn(6, 5)}, {"y": labels(6, 5)},
                        lambda p, c: F.cross_entropy(p["x"], c["y"].long() - 1, label_smoothing=0.1)),
}


def lua_tensor(t):
    t = t.detach().contiguous()
    shape = ", ".join(str(s) for s in t.shape)
    if t.dtype == torch.int32:
        data = ", ".join(str(int(v)) for v in t.flatten().tolist())
        return '{shape = {%s}, dtype = "int", data = {%s}}' % (shape, data)
    data = ", ".join("%.9g" % v for v in t.flatten().tolist())
    return "{shape = {%s}, data = {%s}}" % (shape, data)


def lua_table(d):
    return "{" + ", ".join("%s = %s" % (k, lua_tensor(v)) for k, v in sorted(d.items())) + "}"


def main():
    out = ["-- written by spec/parity/autograd_torch.py (PyTorch %s); do not edit" % torch.__version__, "return {"]
    for name, (params, consts, f) in CASES.items():
        p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        value = f(p, consts)
        if value.dim() > 0:  # a weighted sum, with the weights among the constants
            consts = dict(consts, r=randn(*value.shape))
            value = weighted(value, consts)
        value.backward()
        grads = {k: v.grad for k, v in p.items()}
        out.append('  {name = "%s", loss = %.9g,\n   params = %s,\n   consts = %s,\n   grads = %s},'
                   % (name, value.item(), lua_table(params), lua_table(consts), lua_table(grads)))
    out.append("}")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "autograd", "torch.lua")
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")
    print("wrote", os.path.normpath(path), len(CASES), "cases")


if __name__ == "__main__":
    main()
