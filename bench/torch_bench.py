"""bench/torch_bench.py — the PyTorch side of lunet's benchmark suite (bench/run.lua).

One process per workload, driven by bench/run.lua over a line protocol:
    python3 bench/torch_bench.py WORKLOAD THREADS
  prints   "ready torch <version>"     after building the workload (or "missing <why>"
                                       when PyTorch cannot be imported)
  reads    "run K"  -> runs one untimed iteration, then K timed ones, and prints
                       "times <s1> <s2> ... <sK>" (seconds per iteration)
  reads    "quit"   -> prints "rss <VmHWM in kB>" (the process's peak resident memory)
                       and exits.
    python3 bench/torch_bench.py --config
  prints   "config torch <version>; <build>": which build is measured, from
           torch.__config__.show() (its BLAS, oneDNN and CPU-capability lines), for the
           report's note on the PyTorch it compares with.
The workloads mirror bench/run.lua's: same shapes, same batch, same NCHW / batch-first
layout, torch.set_num_threads(THREADS). Inputs are random; labels cycle 0..9.
"""
import re
import sys
import time


def peak_rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 1024), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(1024, 10))


def train_step(torch, model, x, y):
    """One training step (forward, backward, Adam update) of model on (x, y)."""
    crit = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
    return step


class LastStep:
    """Sequence model: a recurrent layer, its last hidden state, a linear layer."""

    def __init__(self, torch, cell, hidden):
        nn = torch.nn
        self.rnn = getattr(nn, cell)(28, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, 10)
        self.params = list(self.rnn.parameters()) + list(self.fc.parameters())

    def __call__(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])

    def parameters(self):
        return self.params


class UnfusedLSTM:
    """An LSTM written step by step from elementwise ops (not nn.LSTM's fused kernel), the
    same cell as bench/workloads.lua's autogradLSTM: the input side of the gates in one
    product for all steps, then per step the hidden side, the gates and the state update;
    the last hidden state into a linear layer."""

    def __init__(self, torch, hidden):
        nn = torch.nn
        ref = nn.LSTM(28, hidden)
        self.w_ih, self.w_hh = ref.weight_ih_l0, ref.weight_hh_l0
        self.b = nn.Parameter((ref.bias_ih_l0 + ref.bias_hh_l0).detach())
        self.fc = nn.Linear(hidden, 10)
        self.hidden, self.F = hidden, torch.nn.functional
        self.params = [self.w_ih, self.w_hh, self.b] + list(self.fc.parameters())

    def __call__(self, x):
        n, steps, _ = x.shape
        H, F = self.hidden, self.F
        h, c = x.new_zeros(n, H), x.new_zeros(n, H)
        xg = F.linear(x.reshape(n * steps, -1), self.w_ih, self.b).view(n, steps, 4 * H)
        for t in range(steps):
            gates = xg[:, t] + F.linear(h, self.w_hh)
            i, f, g, o = gates.chunk(4, 1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * c.tanh()
        return self.fc(h)

    def parameters(self):
        return self.params


def build(torch, name):
    """The function one iteration of workload `name` calls."""
    nn = torch.nn
    torch.manual_seed(1)

    def labels(n):
        return torch.arange(n) % 10

    # PyTorch is autograd throughout: its LeNet-5 step is the counterpart of both lunet paths;
    # autograd_lstm_cell is the unfused cell on both sides.
    name = name.removeprefix("autograd_")
    if name.startswith("lenet_"):
        batch = int(name.rsplit("_b", 1)[1])
        model = lenet(nn)
        x = torch.rand(batch, 1, 28, 28)
        if name.startswith("lenet_train"):
            model.train()
            return train_step(torch, model, x, labels(batch))
        model.eval()

        def infer():
            with torch.no_grad():
                model(x)
        return infer
    if name in ("resconv_b50", "dwconv_b50", "convtranspose_b50"):
        # forward, then the gradients w.r.t. the input, the weight and the bias, as lunet's
        # forward + updateGradInput + accGradParameters
        if name == "resconv_b50":
            conv, x = nn.Conv2d(64, 64, 3, padding=1), torch.rand(50, 64, 16, 16)
        elif name == "dwconv_b50":
            conv, x = nn.Conv2d(64, 64, 3, padding=1, groups=64), torch.rand(50, 64, 28, 28)
        else:
            conv, x = nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), torch.rand(50, 64, 14, 14)
        x.requires_grad_(True)
        g = torch.rand_like(conv(x))

        def fwd_bwd():
            torch.autograd.grad(conv(x), (x, conv.weight, conv.bias), g)
        return fwd_bwd
    if name.startswith("conv"):
        shapes = {"conv1": (1, 32, 28), "conv2": (32, 64, 14)}
        c, oc, hw = shapes[name.split("_")[0]]
        conv = nn.Conv2d(c, oc, 5, padding=2)
        x = torch.rand(50, c, hw, hw)
        if name.endswith("_fwd"):
            def fwd():
                with torch.no_grad():
                    conv(x)
            return fwd
        x.requires_grad_(True)
        out = conv(x)
        g = torch.rand_like(out)

        def bwd():
            # gradients w.r.t. the input, the weight and the bias, as lunet's
            # conv2d_backward_input + conv2d_backward_params
            torch.autograd.grad(out, (x, conv.weight, conv.bias), g, retain_graph=True)
        return bwd
    if name.startswith("lstm_cell_train"):
        batch = int(name.rsplit("_b", 1)[1])
        return train_step(torch, UnfusedLSTM(torch, 128), torch.rand(batch, 28, 28), labels(batch))
    if name.split("_")[0] in ("rnn", "lstm", "gru"):
        cell = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[name.split("_")[0]]
        batch = int(name.rsplit("_b", 1)[1])
        model = LastStep(torch, cell, 64)
        x = torch.rand(batch, 28, 28)
        return train_step(torch, model, x, labels(batch))
    if name == "cat_b50":
        parts = [torch.rand(50, 256) for _ in range(4)]
        return lambda: torch.cat(parts, 1)
    if name == "indexselect_b50":
        x, idx = torch.rand(10000, 784), torch.randperm(10000)[:50]
        return lambda: torch.index_select(x, 0, idx)
    if name == "gather_b256":
        x, idx = torch.rand(256, 1000), torch.randint(0, 1000, (256, 4))
        return lambda: torch.gather(x, 1, idx)
    if name == "adam_lenet":
        model = lenet(nn)
        for w in model.parameters():
            w.grad = torch.randn_like(w) * 1e-2
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        return opt.step
    if name == "sort_65536":
        x = torch.rand(65536)
        return lambda: torch.sort(x)
    if name.startswith("sgemm_"):
        shapes = {"1024": (1024, 1024, 1024), "conv1": (32, 25, 50 * 784), "conv2": (64, 800, 50 * 196),
                  "fc1": (50, 3136, 1024), "fc2": (50, 1024, 10)}
        m, k, n = shapes[name[len("sgemm_"):]]
        a, b, c = torch.rand(m, k), torch.rand(k, n), torch.empty(m, n)

        def mm():
            torch.mm(a, b, out=c)
        return mm
    raise ValueError("unknown workload " + name)


# The layers of lunet's nn/norm.lua (bench/workloads.lua's NORM): forward and backward,
# the gradients w.r.t. the input (float inputs) and the parameters.
NORM_WORKLOADS = {
    "batchnorm2d_train_b50": lambda torch: (torch.nn.BatchNorm2d(32), torch.randn(50, 32, 16, 16)),
    "layernorm_b50": lambda torch: (torch.nn.LayerNorm(256), torch.randn(50, 64, 256)),
    "avgpool2d_b50": lambda torch: (torch.nn.AvgPool2d(2), torch.randn(50, 32, 32, 32)),
    "adaptive_avgpool2d_b50": lambda torch: (torch.nn.AdaptiveAvgPool2d(1), torch.randn(50, 64, 16, 16)),
    "embedding_b50": lambda torch: (torch.nn.Embedding(10000, 128), torch.randint(0, 10000, (50, 35))),
    "gelu_b50": lambda torch: (torch.nn.GELU(), torch.randn(50, 64, 16, 16)),
    "silu_b50": lambda torch: (torch.nn.SiLU(), torch.randn(50, 64, 16, 16)),
    "tanh_b50": lambda torch: (torch.nn.Tanh(), torch.randn(50, 64, 16, 16)),
}


def augment_step(torch):
    """torchvision's RandomCrop(28, padding=2) + RandomHorizontalFlip as a DataLoader applies
    them, image by image (torchvision is not in Debian: the same tensor operations)."""
    x = torch.rand(128, 1, 28, 28)

    def step():
        padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
        out = torch.empty_like(x)
        oy, ox = torch.randint(0, 5, (128,)), torch.randint(0, 5, (128,))
        flip = torch.rand(128) < 0.5
        for i in range(128):
            crop = padded[i, :, oy[i]:oy[i] + 28, ox[i]:ox[i] + 28]
            out[i] = torch.flip(crop, (2,)) if flip[i] else crop
        return out
    return step
build_others = build


def build(torch, name):  # noqa: F811 (the norm layers, then the others)
    if name == "augment_b128":
        return augment_step(torch)
    if name not in NORM_WORKLOADS:
        return build_others(torch, name)
    torch.manual_seed(1)
    module, x = NORM_WORKLOADS[name](torch)
    wrt = list(module.parameters())
    if x.is_floating_point():
        x.requires_grad_(True)
        wrt.append(x)
    g = torch.rand_like(module(x))

    def step():
        torch.autograd.grad(module(x), wrt, g)
    return step


def build_config(torch):
    """The parts of torch.__config__.show() that say which kernels run: the BLAS
    (BLAS_INFO=...), oneDNN (MKL-DNN) and the CPU capability the build dispatches to."""
    parts = []
    for line in torch.__config__.show().splitlines():
        line = line.strip().lstrip("- ")
        if "MKL-DNN" in line or "oneDNN" in line or line.startswith("CPU capability"):
            parts.append(line)
        blas = re.search(r"\bBLAS_INFO=[^,]*", line)
        if blas:
            parts.insert(0, blas.group(0))
    return "; ".join(parts) or "no build details"


def main():
    try:
        import torch
    except ImportError as e:
        print("missing", str(e).replace("\n", " "), flush=True)
        return
    if sys.argv[1] == "--config":
        print("config torch", torch.__version__ + ";", build_config(torch), flush=True)
        return
    name, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    try:
        it = build(torch, name)
    except ValueError as e:
        print("error", e, flush=True)
        return
    print("ready torch", torch.__version__, flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        if cmd[0] == "run":
            it()
            times = []
            for _ in range(int(cmd[1])):
                t0 = time.perf_counter()
                it()
                times.append(time.perf_counter() - t0)
            print("times", " ".join("%.9f" % t for t in times), flush=True)
    print("rss", peak_rss_kb(), flush=True)


if __name__ == "__main__":
    main()
