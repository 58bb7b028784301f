rockspec_format = "3.0"
package = "lunet"
version = "scm-1"
source = { url = "git+file://." }
description = {
  summary = "Tensors, convolutional and recurrent networks for Lua 5.4, with C kernels on OpenBLAS",
  detailed = [[
lunet is a Lua-scriptable numerical framework: float32 N-d tensors, conv2d, pooling,
RNN/LSTM/GRU kernels in C (sgemm through OpenBLAS), a Torch7-style nn module library,
optimizers, data loaders, PNG plots and Zeiler & Fergus's visualization methods.]],
  license = "MIT",
}
dependencies = { "lua >= 5.4", "luafilesystem >= 1.8", "argparse >= 0.7" }
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    LUNET_CMOD_DIR = "$(LIBDIR)",
    LUNET_LUA_DIR = "$(LUADIR)",
    LUNET_BIN_DIR = "$(BINDIR)",
  },
}
