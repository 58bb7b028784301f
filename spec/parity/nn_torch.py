#!/usr/bin/python3
"""PyTorch's outputs and input gradients for lunet.nn's activations and losses, for
spec/nn_parity_spec.lua.

Run by hand (not in CI), with Debian's Python and python3-torch:
    /usr/bin/python3 spec/parity/nn_torch.py
It writes spec/fixtures/nn/torch.lua, a Lua list of cases: the lunet module's name and its
constructor's options (`args`, a Lua expression), the input, the target (losses), the
output and the gradient w.r.t. the input, each tensor as {shape = {...}, data = {...}}
(class numbers 1-based, dtype = "int"). An activation's gradient is that of sum(out * r),
with r a fixed random tensor given as gradOutput; a loss's is that of its value (for
reduction "none", of sum(out * r), r again given as gradOutput).
"""
import torch

import luafixture
import torch.nn as tnn

torch.manual_seed(16)


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def away_from_zero(*shape):
    # no input within 0.05 of a kink (ReLU-like activations, L1 at 0)
    x = randn(*shape)
    return x + 0.1 * x.sign()


ACTIVATIONS = [
    ("Tanh", "", tnn.Tanh()),
    ("Sigmoid", "", tnn.Sigmoid()),
    ("LeakyReLU", "0.2", tnn.LeakyReLU(0.2)),
    ("ELU", "1.5", tnn.ELU(1.5)),
    ("GELU", "", tnn.GELU()),
    ("GELU", '{approximate = "tanh"}', tnn.GELU(approximate="tanh")),
    ("SiLU", "", tnn.SiLU()),
    ("Softplus", "2, 5", tnn.Softplus(2.0, 5.0)),
    ("Identity", "", tnn.Identity()),
]


def probs(*shape):
    return torch.rand(*shape, dtype=torch.float32) * 0.9 + 0.05


def lua_options(**kw):
    parts = []
    for k, v in kw.items():
        if isinstance(v, str):
            parts.append('%s = "%s"' % (k, v))
        elif isinstance(v, bool):
            parts.append("%s = %s" % (k, "true" if v else "false"))
        elif isinstance(v, torch.Tensor):
            parts.append("%s = lunet.tensor{%s}" % (k, ", ".join(repr(float(e)) for e in v.flatten())))
        else:
            parts.append("%s = %r" % (k, v))
    return "{" + ", ".join(parts) + "}"


def losses():
    """(lunet name, lunet options, torch module, input, target, lunet target) for each loss and reduction."""
    out = []
    for red in ("mean", "sum", "none"):
        x, y = away_from_zero(3, 4), randn(3, 4)
        out.append(("MSELoss", dict(reduction=red), tnn.MSELoss(reduction=red), x, y, y))
        out.append(("L1Loss", dict(reduction=red), tnn.L1Loss(reduction=red), x, y, y))
        out.append(("SmoothL1Loss", dict(reduction=red, beta=0.7), tnn.SmoothL1Loss(reduction=red, beta=0.7), x, y, y))
        p, t = probs(3, 4), torch.rand(3, 4)
        out.append(("BCELoss", dict(reduction=red), tnn.BCELoss(reduction=red), p, t, t))
        w = torch.rand(4) + 0.5
        out.append(("BCELoss", dict(reduction=red, weight=w), tnn.BCELoss(reduction=red, weight=w), p, t, t))
        pw = torch.rand(4) * 3 + 0.5
        out.append(("BCEWithLogitsLoss", dict(reduction=red, weight=w, posWeight=pw),
                    tnn.BCEWithLogitsLoss(reduction=red, weight=w, pos_weight=pw), randn(3, 4) * 3, t, t))
        q = torch.softmax(randn(3, 4), 1)
        logp = torch.log_softmax(randn(3, 4), 1)
        out.append(("KLDivLoss", dict(reduction=red), tnn.KLDivLoss(reduction=red), logp, q, q))
        out.append(("KLDivLoss", dict(reduction=red, logTarget=True), tnn.KLDivLoss(reduction=red, log_target=True),
                    logp, q.log(), q.log()))
        labels = torch.tensor([0, 2, 1, 3, 2])
        cw = torch.rand(4) + 0.5
        out.append(("NLLLoss", dict(reduction=red, weight=cw), tnn.NLLLoss(reduction=red, weight=cw),
                    torch.log_softmax(randn(5, 4), 1), labels, labels + 1))
        ignore = torch.tensor([0, -100, 1, 3, -100])
        out.append(("NLLLoss", dict(reduction=red, ignoreIndex=-100), tnn.NLLLoss(reduction=red, ignore_index=-100),
                    torch.log_softmax(randn(5, 4), 1), ignore, torch.where(ignore >= 0, ignore + 1, ignore)))
        out.append(("CrossEntropyLoss", dict(reduction=red), tnn.CrossEntropyLoss(reduction=red), randn(5, 4),
                    labels, labels + 1))
        out.append(("CrossEntropyLoss", dict(reduction=red, weight=cw, labelSmoothing=0.2, ignoreIndex=-100),
                    tnn.CrossEntropyLoss(reduction=red, weight=cw, label_smoothing=0.2, ignore_index=-100),
                    randn(5, 4), ignore, torch.where(ignore >= 0, ignore + 1, ignore)))
    out.append(("KLDivLoss", dict(reduction="batchmean"), tnn.KLDivLoss(reduction="batchmean"),
                torch.log_softmax(randn(3, 4), 1), torch.softmax(randn(3, 4), 1), None))
    return out


def tensor(t):
    t = t.detach()
    dtype = ', dtype = "int"' if not t.is_floating_point() else ""
    data = ", ".join(repr(float(v)) if t.is_floating_point() else str(int(v)) for v in t.flatten())
    return "{shape = {%s}, data = {%s}%s}" % (", ".join(str(s) for s in t.shape), data, dtype)


def main():
    cases = []
    for name, args, m in ACTIVATIONS:
        x = away_from_zero(3, 5).requires_grad_()
        y = m(x)
        r = randn(*y.shape)
        (y * r).sum().backward()
        cases.append('{kind = "activation", name = "%s", args = "%s", input = %s, output = %s, gradOutput = %s, '
                     'gradInput = %s}' % (name, args.replace('"', '\\"'), tensor(x), tensor(y), tensor(r), tensor(x.grad)))
    for name, opts, m, x, y, ly in losses():
        x = x.clone().requires_grad_()
        out = m(x, y)
        r = randn(*out.shape) if out.dim() > 0 else None
        (out * r).sum().backward() if r is not None else out.backward()
        cases.append('{kind = "loss", name = "%s", args = "%s", input = %s, target = %s, output = %s, gradOutput = %s, '
                     'gradInput = %s}' % (name, lua_options(**opts).replace('"', '\\"'), tensor(x),
                                         tensor(ly if ly is not None else y), tensor(out),
                                         tensor(r) if r is not None else "nil", tensor(x.grad)))
    luafixture.write("nn", "nn_torch.py", cases)


main()
