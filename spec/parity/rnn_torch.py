#!/usr/bin/python3
"""PyTorch's stacked, bidirectional, time-first RNN/LSTM/GRU, for spec/rnn_options_spec.lua.

Run by hand (not in CI), with Debian's Python and python3-torch:
    /usr/bin/python3 spec/parity/rnn_torch.py
It writes spec/fixtures/rnn/torch.lua: for each cell, 2 layers, bidirectional, input
(T, N, D) time first, the parameters under lunet's names (weightIH1, weightHH1Reverse,
bias1 / biasIH1 + biasHH1, ...; the RNN's and LSTM's hidden-hidden bias is zero, lunet
having one bias there), the output, h_n, and the gradients of sum(output * r) w.r.t.
the input and every parameter.
"""
import torch

import luafixture

torch.manual_seed(18)
T, N, D, H = 4, 3, 5, 4


def tensor(t):
    t = t.detach()
    return "{shape = {%s}, data = {%s}}" % (", ".join(str(s) for s in t.shape),
                                            ", ".join(repr(float(v)) for v in t.flatten()))


def case(name, cls):
    m = cls(D, H, num_layers=2, bidirectional=True)
    single_bias = name != "GRU"
    with torch.no_grad():
        for l in range(2):
            for suf in ("", "_reverse"):
                if single_bias:
                    getattr(m, "bias_hh_l%d%s" % (l, suf)).zero_()
    x = torch.randn(T, N, D, requires_grad=True)
    out, hn = m(x)
    if isinstance(hn, tuple):
        hn = hn[0]
    r = torch.randn(*out.shape)
    (out * r).sum().backward()
    params, grads = [], []
    for l in range(2):
        for suf, lsuf in (("", ""), ("_reverse", "Reverse")):
            names = [("weight_ih", "weightIH"), ("weight_hh", "weightHH")]
            names += [("bias_ih", "bias")] if single_bias else [("bias_ih", "biasIH"), ("bias_hh", "biasHH")]
            for tn, ln in names:
                p = getattr(m, "%s_l%d%s" % (tn, l, suf))
                params.append("%s%d%s = %s" % (ln, l + 1, lsuf, tensor(p)))
                grads.append("%s%d%s = %s" % (ln, l + 1, lsuf, tensor(p.grad)))
    return ('{name = "%s", input = %s, params = {%s}, output = %s, hN = %s, gradOutput = %s, gradInput = %s, '
            'gradParams = {%s}}' % (name, tensor(x), ", ".join(params), tensor(out), tensor(hn), tensor(r),
                                    tensor(x.grad), ", ".join(grads)))


def main():
    cases = [case("RNN", torch.nn.RNN), case("LSTM", torch.nn.LSTM), case("GRU", torch.nn.GRU)]
    luafixture.write("rnn", "rnn_torch.py", cases)


main()
