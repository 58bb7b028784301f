#!/usr/bin/python3
"""PyTorch's outputs and gradients for the convolutions of spec/conv_spec.lua ("parity with PyTorch").

Run by hand (not in CI), with Debian's Python and python3-torch:
    /usr/bin/python3 spec/parity/conv_torch.py
It writes spec/fixtures/conv/torch.lua, a Lua table: for each case its name, the lunet
module (`module`) and its constructor's arguments (`args`, lunet's spelling: the options
table last), the input x, the module's weight and bias, r (the loss is sum(out * r), so
that no gradient is trivial), the forward output and the gradients of x, weight and bias,
each tensor as {shape = {...}, data = {...}}. The spec builds the module from `args`,
copies weight and bias in and compares.
"""
import os
import torch

torch.manual_seed(16)

# name -> (module, positional args, options in lunet's spelling, input shape)
CASES = {
    "groups2": ("Conv2d", (4, 6, (3, 2)), {"stride": (2, 1), "padding": (1, 0), "groups": 2}, (2, 4, 7, 6)),
    "depthwise": ("Conv2d", (3, 6, 3), {"padding": 1, "groups": 3}, (2, 3, 6, 5)),
    "dilation2": ("Conv2d", (3, 4, 3), {"dilation": 2, "stride": (1, 2), "padding": (2, 1)}, (2, 3, 8, 7)),
    "dilation_groups_nobias": ("Conv2d", (4, 4, (2, 3)), {"dilation": (3, 1), "groups": 2, "bias": False},
                               (1, 4, 7, 5)),
    "transpose_stride2": ("ConvTranspose2d", (4, 3, 3), {"stride": 2, "padding": 1, "outputPadding": 1},
                          (2, 4, 4, 5)),
    "transpose_groups_dilation": ("ConvTranspose2d", (4, 6, (2, 3)),
                                  {"stride": (2, 1), "padding": (0, 1), "outputPadding": (1, 0), "groups": 2,
                                   "dilation": (1, 2)}, (2, 4, 3, 4)),
    "conv1d_dilation": ("Conv1d", (4, 6, 3), {"dilation": 2, "padding": 2, "stride": 2, "groups": 2}, (2, 4, 11)),
}

TORCH_NAMES = {"outputPadding": "output_padding"}


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (tuple, list)):
        return "{" + ", ".join(lua_value(x) for x in v) + "}"
    if isinstance(v, dict):
        return "{" + ", ".join("%s = %s" % (k, lua_value(x)) for k, x in sorted(v.items())) + "}"
    return str(v)


def lua_tensor(t):
    t = t.detach().contiguous()
    shape = ", ".join(str(s) for s in t.shape)
    data = ", ".join("%.9g" % v for v in t.flatten().tolist())
    return "{shape = {%s}, data = {%s}}" % (shape, data)


def main():
    out = ["-- written by spec/parity/conv_torch.py (PyTorch %s); do not edit" % torch.__version__, "return {"]
    for name, (module, args, opts, shape) in CASES.items():
        m = getattr(torch.nn, module)(*args, **{TORCH_NAMES.get(k, k): v for k, v in opts.items()})
        x = torch.randn(*shape, requires_grad=True)
        y = m(x)
        r = torch.randn(*y.shape)
        (y * r).sum().backward()
        tensors = {"x": x, "weight": m.weight, "r": r, "out": y, "grad_x": x.grad, "grad_weight": m.weight.grad}
        if m.bias is not None:
            tensors.update(bias=m.bias, grad_bias=m.bias.grad)
        fields = ",\n   ".join("%s = %s" % (k, lua_tensor(v)) for k, v in tensors.items())
        out.append('  {name = "%s", module = "%s", args = %s,\n   %s},'
                   % (name, module, lua_value(list(args) + [opts]), fields))
    out.append("}")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "conv", "torch.lua")
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")
    print("wrote", os.path.normpath(path), len(CASES), "cases")


if __name__ == "__main__":
    main()
