-- The specs test the build they are asked to: `./run.sh asan` sets LUNET_BUILD=build-asan,
-- and a search path that found build/ first would run the suite on the uninstrumented module.
describe("the build under test", function()
  it("is the one LUNET_BUILD names (build/ by default)", function()
    local want = (os.getenv("LUNET_BUILD") or "build") .. "/lunet/core.so"
    local found = package.searchpath("lunet.core", package.cpath)
    assert.is_truthy(found and found:sub(-#want) == want, ("lunet.core comes from %s, not %s"):format(tostring(found), want))
  end)
end)
