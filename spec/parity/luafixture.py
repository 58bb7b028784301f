"""The fixture file the parity scripts of spec/parity/ write: a Lua list of cases, each
already a Lua table constructor, under spec/fixtures/<folder>/torch.lua."""
import os

import torch


def write(folder, script, cases):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", folder, "torch.lua")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("-- Written by spec/parity/%s with PyTorch %s; do not edit.\nreturn {\n" % (script, torch.__version__))
        for c in cases:
            f.write("  " + c + ",\n")
        f.write("}\n")
    print("wrote %d cases to %s" % (len(cases), os.path.normpath(path)))
