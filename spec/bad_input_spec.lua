-- Bad input, by design: a table of cases {description, function, expected message}.
-- Each function must raise a Lua error (never crash, never return garbage) whose message
-- contains the expected text, which starts with the name of the function that failed and
-- says what was wrong: "conv2d: input must be 4-D (N,C,H,W), got 3-D (1,5,5)". Where a
-- part of the message varies (how the platform prints NaN, a file's size), the expected
-- message is a list of the parts that do not, in order.
local lunet = require "lunet"
local nn = require "lunet.nn"
local optim = require "lunet.optim"
local data = require "lunet.data"
local train = require "lunet.train"
local checkpoint = require "lunet.checkpoint"
local IO = require "spec.io_helper"

local tmp = IO.tmpdir() -- every file a case reads lives here; removed in teardown

local cases = {}
local function case(description, f, expected) cases[#cases + 1] = {description, f, expected} end

-- A file in tmp with the given bytes; returns its path.
local function file(name, bytes) return IO.write(tmp .. "/" .. name, bytes) end
local function flip(s, at) return s:sub(1, at - 1) .. string.char(s:byte(at) ~ 0x55) .. s:sub(at + 1) end

-- A forward pass, then a backward with a gradOutput of the wrong shape.
local function backwardWith(m, input, gradOutput)
  return function()
    m:forward(input)
    m:backward(input, gradOutput)
  end
end

---------------------------------------------------------------------------- tensors
local x23 = lunet.randn(2, 3)
case("zeros: negative size", function() lunet.zeros(-1) end, "zeros: size 1 must be non-negative, got -1")
case("zeros: fractional size", function() lunet.zeros(2.5) end, "zeros: size 1 must be an integer, got 2.5")
case("zeros: element count overflows", function() lunet.zeros(1 << 40, 1 << 40) end,
  "zeros: cannot allocate a tensor of that many elements (size overflows)")
case("zeros: empty, but the other sizes overflow", function() lunet.zeros(0, 1 << 40, 1 << 40) end,
  "zeros: cannot allocate a tensor of that many elements (size overflows)")
case("view: empty, but the other sizes overflow", function() lunet.zeros(0):view(0, 1 << 40, 1 << 40) end,
  "view: sizes overflow")
case("zeros: 10^12 elements cannot be allocated", function() lunet.zeros(1000000, 1000000) end,
  "zeros: not enough memory for a tensor of 1000000000000 elements")
case("zeros: unknown dtype", function() lunet.zeros(2, "half") end,
  'zeros: dtype must be "float", "double" or "int", got half')
case("tensor: ragged nested table", function() lunet.tensor{{1, 2}, {3}} end,
  "tensor: ragged nested table (level 2 has 1 entries, expected 2)")
case("tensor: entries of the wrong type", function() lunet.tensor{"a"} end,
  "tensor: entries must be numbers, got string")
case("add: shapes that do not broadcast", function() return x23 + lunet.randn(4) end,
  "add: shapes (2,3) and (4) cannot be broadcast together")
case("mul: shapes that do not broadcast", function() return x23:mul(lunet.randn(3, 2)) end,
  "mul: shapes (2,3) and (3,2) cannot be broadcast together")
case("add: an operand of the wrong type", function() return x23 + "a" end,
  "add: argument #2 must be a tensor or a number, got string")
case("add: no tensor operand", function() return x23.add(5, 1) end, "add: at least one operand must be a tensor")
case("matmul: inner sizes differ", function() return x23:matmul(lunet.randn(4, 2)) end,
  "matmul: shapes (2,3) and (4,2) do not match for a matrix product")
case("matmul: 3-D by 1-D", function() return lunet.randn(2, 3, 4):matmul(lunet.randn(3)) end,
  "matmul: shapes (2,3,4) and (3) do not match for a matrix product")
case("bmm: 2-D operand", function() return x23:bmm(x23) end, "bmm: A must be 3-D (B,n,k), got 2-D (2,3)")
case("addmm: mismatched shapes", function() lunet.addmm(lunet.zeros(2, 2), x23, x23) end,
  "addmm_: shapes C(2,2), A(2,3), B(2,3) do not match")
case("view: wrong element count", function() return x23:view(4, 2) end,
  "view: shape has 8 elements but the tensor (2,3) has 6")
case("view: non-contiguous tensor", function() return x23:t():view(6) end,
  "view: tensor is not contiguous (use reshape, or contiguous() first)")
case("reshape: wrong element count", function() return x23:reshape(7) end,
  "reshape: shape has 7 elements but the tensor (2,3) has 6")
case("narrow: range out of bounds", function() return x23:narrow(1, 2, 5) end,
  "narrow: range [2, 6] out of bounds for dimension 1 of size 2")
case("select: dimension out of range", function() return x23:select(3, 1) end,
  "select: dimension 3 out of range for a 2-D tensor")
case("t[i]: index out of range", function() return x23[5] end,
  "index: index 5 out of range for dimension 1 of size 2")
case("transpose: dimension out of range", function() return x23:transpose(1, 3) end,
  "transpose: dimension 3 out of range for a 2-D tensor")
case("permute: not a permutation", function() return x23:permute(1, 1) end, "permute: not a permutation of 1..2")
case("expand: size that cannot expand", function() return x23:expand(4, 3) end,
  "expand: size 2 of dimension 1 cannot expand to 4")
case("sum: dimension out of range", function() return x23:sum(5) end,
  "sum: dimension 5 out of range for a 2-D tensor")
case("max: empty tensor", function() return lunet.zeros(0):max() end, "max: tensor is empty")
case("mean: empty tensor", function() return lunet.zeros(0, 4):mean() end, "mean: tensor is empty")
case("argmax: along an empty dimension", function() return lunet.zeros(0, 3):argmax(1) end,
  "argmax: dimension 1 is empty")
case("copy: element counts differ", function() lunet.zeros(2, 3):copy(lunet.zeros(4)) end,
  "copy: destination (2,3) and source (4) differ in number of elements")
case("index: float index tensor", function() return x23:index(lunet.tensor{1, 2}) end,
  "index: argument #2 must be an int tensor, got a float tensor")
case("index: index out of range", function() return x23:index(lunet.tensor{1, 5}:int()) end,
  "index: index 5 out of range for dimension 1 of size 2")
case("exp_: in place on an int tensor", function() lunet.zeros(2, "int"):exp_() end,
  "exp_: argument #1 must be a float or double tensor, got an int tensor")
case("clamp: bounds in the wrong order", function() return x23:clamp(1, 0) end,
  "clamp: lower bound 1.0 is above upper bound 0.0")
case("pow: exponent of the wrong type", function() return x23:pow("a") end,
  "pow: argument #2 must be a tensor or a number, got string")
case("randperm: negative count", function() return lunet.randperm(-1) end, "randperm: n must be in [0, 2^31), got -1")
case("setRNGState: state of the wrong length", function() lunet.setRNGState("abc") end,
  "setRNGState: state must be 48 bytes, got 3")
case("setNumThreads: zero threads", function() lunet.setNumThreads(0) end,
  "setNumThreads: thread count must be in 1..1024, got 0")

---------------------------------------------------------------------------- nn modules
local img = lunet.randn(1, 1, 6, 6)
case("Conv2d: zero channels", function() nn.Conv2d(0, 2, 3) end,
  "Conv2d: channel counts must be positive integers, got 0 and 2")
case("Conv2d: 'same' padding with an even kernel", function() nn.Conv2d(1, 2, 4, {padding = "same"}) end,
  "Conv2d: padding 'same' needs an odd kernel and stride 1, got kernel 4x4, stride 1")
case("Conv2d: input not a tensor", function() nn.Conv2d(1, 2, 3):forward("x") end,
  "Conv2d: input must be a tensor, got string")
case("Conv2d: 3-D input", function() nn.Conv2d(1, 2, 3):forward(lunet.randn(1, 5, 5)) end,
  "conv2d: input must be 4-D (N,C,H,W), got 3-D (1,5,5)")
case("Conv2d: input channels differ from the weight's", function() nn.Conv2d(1, 2, 3):forward(lunet.randn(1, 3, 5, 5)) end,
  "conv2d: weight expects 1 input channels, the input has 3")
case("Conv2d: kernel larger than the input", function() nn.Conv2d(1, 2, 5):forward(lunet.randn(1, 1, 3, 3)) end,
  "conv2d: a 5x5 window with padding 0x0 does not fit the 3x3 input")
case("Conv2d: non-contiguous input", function() nn.Conv2d(1, 2, 3):forward(img:transpose(3, 4)) end,
  "conv2d: input must be contiguous (call :contiguous())")
case("Conv2d: int input", function() nn.Conv2d(1, 2, 3):forward(lunet.zeros(1, 1, 5, 5, "int")) end,
  "conv2d: argument #1 must be a float tensor, got an int tensor")
case("Conv2d: gradOutput of the wrong shape", backwardWith(nn.Conv2d(1, 2, 3), img, lunet.randn(1, 2, 2, 2)),
  "conv2d: grad_output must be (N,C,H,W) = (1,2,4,4), got (1,2,2,2)")
case("MaxPool2d: padding over half the kernel", function() nn.MaxPool2d(2, 2, 3) end,
  "MaxPool2d: padding must be between 0 and half the kernel, got 3 for kernel 2x2")
case("MaxPool2d: 3-D input", function() nn.MaxPool2d(2):forward(lunet.randn(1, 4, 4)) end,
  "maxpool2d: input must be 4-D (N,C,H,W), got 3-D (1,4,4)")
case("MaxPool2d: window larger than the input", function() nn.MaxPool2d(5):forward(lunet.randn(1, 1, 4, 4)) end,
  "maxpool2d: a 5x5 window with padding 0x0 does not fit the 4x4 input")
case("MaxPool2d: int input", function() nn.MaxPool2d(2):forward(lunet.zeros(1, 1, 4, 4, "int")) end,
  "maxpool2d: argument #1 must be a float tensor, got an int tensor")
case("MaxPool2d: gradOutput of the wrong shape", backwardWith(nn.MaxPool2d(2), img, lunet.randn(1, 1, 2, 2)),
  "maxpool2d: grad_output must be (N,C,H,W) = (1,1,3,3), got (1,1,2,2)")
case("MaxPool2d: unpool before any forward", function() nn.MaxPool2d(2):unpool(lunet.randn(1, 1, 2, 2)) end,
  "MaxPool2d:unpool: no forward has run yet")
case("Linear: zero features", function() nn.Linear(0, 2) end,
  "Linear: feature counts must be positive integers, got 0 and 2")
case("Linear: input not a tensor", function() nn.Linear(3, 2):forward({}) end, "Linear: input must be a tensor, got table")
case("Linear: 1-D input", function() nn.Linear(3, 2):forward(lunet.randn(3)) end,
  "linear: input must be 2-D (N,in), got 1-D (3)")
case("Linear: input features differ from the weight's", function() nn.Linear(3, 2):forward(lunet.randn(4, 5)) end,
  "linear: weight expects 3 input features, the input has 5")
case("Linear: non-contiguous input", function() nn.Linear(3, 2):forward(lunet.randn(3, 4):t()) end,
  "linear: input must be contiguous (call :contiguous())")
case("Linear: gradOutput of the wrong shape", backwardWith(nn.Linear(3, 2), lunet.randn(4, 3), lunet.randn(4, 3)),
  "linear: grad_output must be (N,out) = (4,2), got (4,3)")
case("ReLU: input not a tensor", function() nn.ReLU():forward(1) end, "ReLU: input must be a tensor, got number")
case("ReLU: int input", function() nn.ReLU():forward(lunet.zeros(3, "int")) end,
  "relu: argument #1 must be a float tensor, got an int tensor")
case("ReLU: non-contiguous input", function() nn.ReLU():forward(x23:t()) end,
  "relu: input must be contiguous (call :contiguous())")
case("ReLU: gradOutput of the wrong shape", backwardWith(nn.ReLU(), lunet.randn(4, 3), lunet.randn(4, 2)),
  "relu: input (4,3) and grad_output (4,2) differ in shape")
case("Dropout: probability above 1", function() nn.Dropout(1.5) end,
  "Dropout: p (drop probability) must be in [0,1) and keep in (0,1], got 1.5")
case("Dropout: both p and keep", function() nn.Dropout{p = 0.5, keep = 0.5} end,
  "Dropout: give either p or keep, not both")
case("Dropout: int input", function() nn.Dropout(0.5):forward(lunet.zeros(3, "int")) end,
  "dropout: argument #1 must be a float tensor, got an int tensor")
case("Dropout: gradOutput of the wrong shape", backwardWith(nn.Dropout(0.5), lunet.randn(4, 3), lunet.randn(4, 2)),
  "dropout: grad_output (4,2) and mask (4,3) differ in shape")
case("Flatten: scalar input", function() nn.Flatten():forward(lunet.tensor(3)) end,
  "Flatten: input must have a batch dimension, got a scalar")
case("Softmax: 3-D input", function() nn.Softmax():forward(lunet.randn(2, 3, 4)) end,
  "softmax: input must be 2-D (N,K), got 3-D (2,3,4)")
case("LogSoftmax: int input", function() nn.LogSoftmax():forward(lunet.zeros(2, 3, "int")) end,
  "logsoftmax: argument #1 must be a float tensor, got an int tensor")
local logits = lunet.randn(2, 3)
case("CrossEntropyLoss: 1-D logits", function() nn.CrossEntropyLoss():forward(lunet.randn(3), lunet.tensor{1}:int()) end,
  "crossentropy: logits must be 2-D (N,K), got 1-D (3)")
case("CrossEntropyLoss: label above K", function() nn.CrossEntropyLoss():forward(logits, lunet.tensor{1, 4}:int()) end,
  "crossentropy: label 4 at position 2 is out of range 1..3")
case("CrossEntropyLoss: label 0 (0-based labels)", function()
  nn.CrossEntropyLoss():forward(logits, lunet.tensor{0, 1}:int())
end, "crossentropy: label 0 at position 1 is out of range 1..3")
case("CrossEntropyLoss: fractional float label", function() nn.CrossEntropyLoss():forward(logits, lunet.tensor{1.5, 2}) end,
  "crossentropy: label 1.5 at position 1 is not a class number in 1..3")
case("CrossEntropyLoss: NaN label", function() nn.CrossEntropyLoss():forward(logits, lunet.tensor{1, 0 / 0}) end,
  {"crossentropy: label ", "nan at position 2 is not a class number in 1..3"})
case("CrossEntropyLoss: label count differs from the rows", function()
  nn.CrossEntropyLoss():forward(logits, lunet.tensor{1, 2, 3}:int())
end, "crossentropy: 3 labels for 2 rows of logits")
case("CrossEntropyLoss: 2-D labels", function() nn.CrossEntropyLoss():forward(logits, lunet.tensor{{1}, {2}}:int()) end,
  "crossentropy: labels must be 1-D (N), got 2-D (2,1)")
case("CrossEntropyLoss: labels not a tensor", function() nn.CrossEntropyLoss():forward(logits, {1, 2}) end,
  "CrossEntropyLoss: labels must be a tensor of class numbers 1..K, got table")
case("CrossEntropyLoss: empty batch", function() nn.CrossEntropyLoss():forward(lunet.zeros(0, 3), lunet.zeros(0, "int")) end,
  "crossentropy: logits have no rows")
case("CrossEntropyLoss: backward before forward", function()
  nn.CrossEntropyLoss():backward(logits, lunet.tensor{1, 1}:int())
end, "CrossEntropyLoss:backward: call forward(logits, labels) on the same logits first")
case("Sequential: adding a number", function() nn.Sequential():add(42) end,
  "Sequential:add: argument #1 must be an nn module, got number")
case("Sequential: adding a class, not a module", function() nn.Sequential():add(nn.ReLU) end,
  "Sequential:add: argument #1 must be an nn module, got the class nn.ReLU (call it: nn.ReLU())")
case("Sequential: get out of range", function() nn.Sequential():add(nn.ReLU()):get(5) end,
  "Sequential:get: index 5 out of range (the model has 1 modules)")
for _, R in ipairs{"RNN", "LSTM", "GRU"} do
  local kernel = R:lower()
  case(R .. ": zero input size", function() nn[R](0, 4) end,
    R .. ": inputSize and hiddenSize must be positive integers, got 0 and 4")
  case(R .. ": input not a tensor", function() nn[R](3, 4):forward("x") end,
    R .. ": input must be a tensor (N,T,D), got string")
  case(R .. ": 2-D input", function() nn[R](3, 4):forward(x23) end, R .. ": input must be 3-D (N,T,D), got 2-D (2,3)")
  case(R .. ": input features differ from inputSize", function() nn[R](3, 4):forward(lunet.randn(2, 5, 4)) end,
    R .. ": input must be (N,T,3), got (2,5,4)")
  case(R .. ": empty sequence", function() nn[R](3, 4):forward(lunet.randn(2, 0, 3)) end,
    kernel .. "_forward: input must have N, T, D >= 1, got (2,0,3)")
  case(R .. ": int input", function() nn[R](3, 4):forward(lunet.zeros(2, 5, 3, "int")) end,
    kernel .. "_forward: argument #1 must be a float tensor, got an int tensor")
  case(R .. ": gradOutput of the wrong shape", backwardWith(nn[R](3, 4), lunet.randn(2, 5, 3), lunet.randn(2, 5, 3)),
    kernel .. "_backward_input: grad_output must be (N,T,H) = (2,5,4), got (2,5,3)")
end
case("SelectTime: time step 0", function() nn.SelectTime(0) end,
  "SelectTime: the time step must be a non-zero integer (negative counts from the end), got 0")
case("SelectTime: time step past the sequence", function() nn.SelectTime(6):forward(lunet.randn(2, 5, 4)) end,
  "SelectTime: time step 6 is out of range for a sequence of 5 steps")
case("LastStep: 2-D input", function() nn.LastStep():forward(x23) end,
  "LastStep: input must be 3-D (N,T,H), got 2-D (2,3)")

---------------------------------------------------------------------------- optimizers
case("Adam: negative learning rate", function() optim.Adam(nn.Linear(2, 2), {lr = -1}) end,
  "Adam: lr must be a number in [0, inf], got -1")
case("SGD: neither a model nor lists", function() optim.SGD(42) end,
  "SGD: expected a model or two lists (parameters, gradients)")
case("Adam.loadState: state of another optimizer", function()
  optim.Adam(nn.Linear(2, 2)):loadState(optim.SGD(nn.Linear(2, 2)):state())
end, "Adam.loadState: state is for SGD")
case("Adam.loadState: state of another model shape", function()
  optim.Adam(nn.Linear(2, 2)):loadState(optim.Adam(nn.Linear(3, 2)):state())
end, {"Adam.loadState: buffer ", " entry 1 must be a float tensor (2,2) like parameter 1, got float (2,3)"})

---------------------------------------------------------------------------- training
-- A loader whose third batch holds a NaN (or an infinity): training stops there.
local function poisonedLoader(value)
  local n = 0
  return {next = function()
    n = n + 1
    local x = lunet.randn(4, 3)
    if n == 3 then x[2][2] = value end
    return x, lunet.tensor{1, 2, 1, 2}:int()
  end}
end
local function trainOn(loader, iterations)
  return function()
    local model = nn.Sequential():add(nn.Linear(3, 2))
    train.classifier{model = model, criterion = nn.CrossEntropyLoss(), optimizer = optim.SGD(model, {lr = 0.1}),
      loader = loader, iterations = iterations or 5, evalEvery = 100, label = "poisoned"}
  end
end
case("train.classifier: NaN in the inputs", trainOn(poisonedLoader(0 / 0)),
  "train.classifier: loss is NaN at iteration 3 (poisoned); stopping")
case("train.classifier: infinity in the inputs", trainOn(poisonedLoader(math.huge)),
  {"train.classifier: loss is ", " at iteration 3 (poisoned); stopping"})
case("train.classifier: iterations not a positive integer", trainOn(poisonedLoader(0), 0),
  "train.classifier: iterations must be a positive integer, got 0")
case("Loader: inputs and labels differ in count", function()
  data.Loader({images = lunet.zeros(4, 2), labels = lunet.zeros(3, "int")})
end, "Loader: 4 inputs but 3 labels")
case("Loader: batch larger than the data set", function()
  data.Loader({images = lunet.zeros(4, 2), labels = lunet.zeros(4, "int")}, {batchSize = 5})
end, "Loader: batchSize must be an integer in 1..4, got 5")
case("Loader: no labels", function() data.Loader({images = lunet.zeros(4, 2)}) end,
  "Loader: data set must have tensors `images` (or `inputs`) and `labels`")

---------------------------------------------------------------------------- data folders
-- tmp/<name>/<class>/<i>.png for the given classes, each image 1x4x4 unless sizes says otherwise.
local function folder(name, classes, sizes)
  local root = tmp .. "/" .. name
  for _, c in ipairs(classes) do
    data.mkdirs(root .. "/" .. c)
    for i = 1, 2 do
      local s = sizes and sizes[c .. "/" .. i] or {1, 4, 4}
      lunet.image.save(("%s/%s/%d.png"):format(root, c, i), lunet.full(s, 0.5))
    end
  end
  return root
end
local digits = {}
for c = 0, 9 do digits[#digits + 1] = tostring(c) end
case("imageFolder: an expected class folder is missing", function()
  data.imageFolder(folder("missing", {"0", "1", "3"}), {classes = {"0", "1", "2", "3"}})
end, "imageFolder: class folder " .. tmp .. "/missing/2 is missing (expected classes 0,1,2,3)")
case("imageFolder: a class folder not in the expected list", function()
  data.imageFolder(folder("extra", {"0", "1", "x"}), {classes = {"0", "1"}})
end, "imageFolder: " .. tmp .. "/extra/x is not one of the expected classes 0,1")
case("cifar10: a class folder missing from Test", function()
  local root = tmp .. "/CIFAR10"
  folder("CIFAR10/Train", digits)
  folder("CIFAR10/Test", {"0", "1", "2", "3", "4", "5", "6", "8", "9"})
  data.cifar10(root)
end, "imageFolder: class folder " .. tmp .. "/CIFAR10/Test/7 is missing (expected classes 0,1,2,3,4,5,6,7,8,9)")
case("imageFolder: an empty class folder", function()
  local root = folder("emptyclass", {"a"})
  data.mkdirs(root .. "/b")
  data.imageFolder(root)
end, "imageFolder: class folder " .. tmp .. "/emptyclass/b holds no PNG images")
case("imageFolder: images of different sizes", function()
  data.imageFolder(folder("mixed", {"a", "b"}, {["b/2"] = {1, 5, 4}}))
end, "imageFolder: " .. tmp .. "/mixed/b/2.png is 1x5x4 but the first image")
case("imageFolder: gray and RGB images mixed", function()
  data.imageFolder(folder("channels", {"a", "b"}, {["a/2"] = {3, 4, 4}}))
end, "imageFolder: " .. tmp .. "/channels/a/2.png is 3x4x4 but the first image")
case("imageFolder: an unreadable first image", function()
  local root = folder("unreadable1", {"a"})
  IO.write(root .. "/a/1.png", "not a png")
  data.imageFolder(root)
end, "imageFolder: cannot read " .. tmp .. "/unreadable1/a/1.png: image.load:")
case("imageFolder: a truncated image among good ones", function()
  local root = folder("unreadable2", {"a", "b"})
  IO.write(root .. "/b/2.png", IO.read(root .. "/b/1.png"):sub(1, 40))
  data.imageFolder(root)
end, "imageFolder: cannot read " .. tmp .. "/unreadable2/b/2.png")
case("imageFolder: no such folder", function() data.imageFolder(tmp .. "/nope") end,
  "imageFolder: no such directory: " .. tmp .. "/nope")

---------------------------------------------------------------------------- files
local png = IO.png{w = 3, h = 2, color = 0, bits = 8, pixel = function(x, y) return {x + y} end}
case("image.load: truncated PNG", function() lunet.image.load(file("trunc.png", png:sub(1, 50))) end,
  "image.load: '" .. tmp .. "/trunc.png': corrupt PNG: file truncated")
case("image.load: corrupt PNG (CRC)", function() lunet.image.load(file("crc.png", flip(png, 20))) end,
  "image.load: '" .. tmp .. "/crc.png': corrupt PNG:")
case("image.load: not a PNG", function() lunet.image.load(file("text.png", "hello")) end,
  "image.load: '" .. tmp .. "/text.png' is not a PNG file (bad signature)")
case("image.load: missing file", function() lunet.image.load(tmp .. "/none.png") end,
  "image.load: cannot open '" .. tmp .. "/none.png': No such file or directory")
case("image.load: dimensions the file cannot hold", function()
  local body = "IHDR" .. string.pack(">I4I4BBBBB", 60000, 60000, 8, 0, 0, 0, 0)
  lunet.image.load(file("huge.png", png:sub(1, 8) .. string.pack(">I4", 13) .. body ..
    string.pack(">I4", IO.crc32(body)) .. png:sub(34)))
end, {"image.load: '" .. tmp .. "/huge.png': corrupt PNG: the header announces 60000x60000 pixels, more than a ",
  "-byte file can hold"})
local idx = "\0\0\8\2" .. string.pack(">I4I4", 2, 3) .. "\1\2\3\4\5\6"
case("loadIDX: truncated data", function() lunet.loadIDX(file("t.idx", idx:sub(1, -2))) end,
  "loadIDX: '" .. tmp .. "/t.idx': truncated IDX file: the header announces 6 bytes of data, the file holds 5")
case("loadIDX: truncated header", function() lunet.loadIDX(file("h.idx", idx:sub(1, 6))) end,
  "loadIDX: '" .. tmp .. "/h.idx': truncated IDX header (2 dimensions announced)")
case("loadIDX: truncated gzip stream", function()
  local gz = IO.gzip(idx)
  lunet.loadIDX(file("t.idx.gz", gz:sub(1, #gz - 10)))
end, "loadIDX: '" .. tmp .. "/t.idx.gz':")
case("loadIDX: bad magic", function() lunet.loadIDX(file("m.idx", "\0\0\7\2" .. idx:sub(5))) end,
  "loadIDX: '" .. tmp .. "/m.idx' is not an IDX file: bad magic 0x00000702")
case("loadIDX: bytes after the data", function() lunet.loadIDX(file("x.idx", idx .. "\0")) end,
  "loadIDX: '" .. tmp .. "/x.idx': 1 bytes follow the 6 bytes of data the IDX header announces")
case("loadIDX: sizes that overflow", function()
  lunet.loadIDX(file("o.idx", "\0\0\14\3" .. string.pack(">I4I4I4", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF)))
end, "loadIDX: '" .. tmp .. "/o.idx': IDX sizes overflow")
case("loadIDX: float data read as int", function()
  lunet.loadIDX(file("f.idx", "\0\0\13\1" .. string.pack(">I4f", 1, 0.5)), "int")
end, "loadIDX: '" .. tmp .. "/f.idx' holds float32 values, which cannot be read as int")
local tns = (function()
  local p = tmp .. "/w.tns"
  lunet.save(p, lunet.randn(2, 3))
  return IO.read(p)
end)()
case("lunet.load: truncated tensor file", function() lunet.load(file("t.tns", tns:sub(1, -2))) end,
  "lunet.load: '" .. tmp .. "/t.tns': tensor: truncated tensor: the header announces 28 bytes of data and checksum, 27 remain")
case("lunet.load: corrupt tensor data", function() lunet.load(file("c.tns", flip(tns, 40))) end,
  "lunet.load: '" .. tmp .. "/c.tns': tensor: tensor corrupt (checksum mismatch)")
case("lunet.load: unknown tensor dtype", function()
  lunet.load(file("d.tns", tns:sub(1, 12) .. string.pack("<I4", 7) .. tns:sub(17)))
end, "lunet.load: '" .. tmp .. "/d.tns': tensor: unknown tensor dtype 7 (0 float, 1 int, 2 double)")
local container = (function()
  local p = tmp .. "/good.lunet"
  lunet.save(p, {w = lunet.randn(2), name = "x", n = 3})
  return IO.read(p)
end)()
case("lunet.load: truncated container", function() lunet.load(file("t.lunet", container:sub(1, -2))) end,
  "lunet.load: '" .. tmp .. "/t.lunet': checksum mismatch, the file is corrupt")
case("lunet.load: corrupt container", function() lunet.load(file("c.lunet", flip(container, 30))) end,
  "lunet.load: '" .. tmp .. "/c.lunet': checksum mismatch, the file is corrupt")
case("lunet.load: container from a future version", function()
  lunet.load(file("v.lunet", container:sub(1, 6) .. string.pack("<I4", 3) .. container:sub(11)))
end, "lunet.load: '" .. tmp .. "/v.lunet': container format version 3, this lunet reads version 2")
case("lunet.load: not a lunet file", function() lunet.load(file("n.lunet", "hello")) end,
  "lunet.load: '" .. tmp .. "/n.lunet': not a lunet file (bad magic)")
case("lunet.load: a folder", function() lunet.load(tmp) end,
  "lunet.load: '" .. tmp .. "' is a directory, not a regular file")

---------------------------------------------------------------------------- checkpoints
local function mlp(hidden) return nn.Sequential():add(nn.Linear(4, hidden)):add(nn.ReLU()):add(nn.Linear(hidden, 3)) end
local ckpt = tmp .. "/mlp5.ckpt"
checkpoint.save(ckpt, {model = mlp(5), optimizer = optim.Adam(mlp(5)), iteration = 10})
case("checkpoint.load: another model shape", function() checkpoint.load(ckpt, mlp(6)) end,
  "checkpoint.load: parameter 1 is (5,4) in " .. ckpt .. " but (6,4) in the model (another model shape?)")
case("checkpoint.load: another number of parameters", function()
  checkpoint.load(ckpt, nn.Sequential():add(nn.Linear(4, 5)))
end, "checkpoint.load: " .. ckpt .. " holds 4 parameter tensors but the model has 2 (another model?)")
case("checkpoint.load: another optimizer", function() checkpoint.load(ckpt, mlp(5), optim.SGD(mlp(5))) end,
  "SGD.loadState: state is for Adam")
case("checkpoint.load: a lunet file that is not a checkpoint", function() checkpoint.load(tmp .. "/good.lunet", mlp(5)) end,
  "checkpoint.load: " .. tmp .. "/good.lunet is not a lunet checkpoint")
case("checkpoint.load: corrupt checkpoint", function()
  checkpoint.load(file("bad.ckpt", flip(IO.read(ckpt), 100)), mlp(5))
end, "lunet.load: '" .. tmp .. "/bad.ckpt': checksum mismatch, the file is corrupt")

----------------------------------------------------------------------------
describe("bad input", function()
  teardown(function() IO.rmtree(tmp) end)
  for _, c in ipairs(cases) do
    local description, f, expected = c[1], c[2], c[3]
    local parts = type(expected) == "table" and expected or {expected}
    it(description, function()
      assert.truthy(parts[1]:match("^[%w_.:]+: "), "the expected message must start with a function name")
      local ok, err = pcall(f)
      assert.is_false(ok, description .. ": no error was raised")
      err = tostring(err)
      local at = 1
      for _, part in ipairs(parts) do
        local i, j = err:find(part, at, true)
        assert.truthy(i, ("expected the message to contain\n  %s\ngot\n  %s"):format(part, err))
        at = j + 1
      end
    end)
  end
end)
