#!/usr/bin/python3
"""PyTorch's AdamW trajectory and learning-rate schedules, for spec/optim_parity_spec.lua.

Run by hand (not in CI), with Debian's Python and python3-torch:
    /usr/bin/python3 spec/parity/optim_torch.py
It writes spec/fixtures/optim/torch.lua: for AdamW, a start point, a target and the
parameter after each of 50 steps on the loss sum((p - target)^2); for each schedule, the
learning rate (and momentum where cycled) after each of 50 steps, with the lunet
constructor that should reproduce it.
"""
import torch

import luafixture

torch.manual_seed(17)


def lua_list(xs):
    return "{" + ", ".join(repr(float(x)) for x in xs) + "}"


def adamw_case(wd):
    p0, target = torch.randn(6), torch.randn(6)
    p = p0.clone().requires_grad_()
    opt = torch.optim.AdamW([p], lr=0.05, weight_decay=wd)
    traj = []
    for _ in range(50):
        opt.zero_grad()
        ((p - target) ** 2).sum().backward()
        opt.step()
        traj.append(p.detach().clone())
    return '{kind = "AdamW", weightDecay = %r, start = %s, target = %s, trajectory = {%s}}' % (
        wd, lua_list(p0), lua_list(target), ", ".join(lua_list(t) for t in traj))


def schedule_case(lunet, make, opt_kind="SGD", metrics=None):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9) if opt_kind == "SGD" else torch.optim.Adam([p], lr=0.1)
    sched = make(opt)
    lrs, moms = [opt.param_groups[0]["lr"]], []
    mom = lambda: opt.param_groups[0]["momentum"] if opt_kind == "SGD" else opt.param_groups[0]["betas"][0]
    moms.append(mom())
    for i in range(49):
        opt.step()
        sched.step(metrics[i]) if metrics else sched.step()
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(mom())
    return '{kind = "schedule", optimizer = "%s", lunet = "%s", metrics = %s, lr = %s, momentum = %s}' % (
        opt_kind, lunet, lua_list(metrics) if metrics else "nil", lua_list(lrs), lua_list(moms))


def main():
    S = torch.optim.lr_scheduler
    plateau_metrics = [1.0 / (1 + i) if i < 10 else 0.1 + 0.001 * ((i * 7) % 5) for i in range(49)]
    cases = [
        adamw_case(0.01), adamw_case(0.5),
        schedule_case("StepLR(opt, {stepSize = 7, gamma = 0.5})", lambda o: S.StepLR(o, 7, 0.5)),
        schedule_case("MultiStepLR(opt, {milestones = {5, 12, 30}, gamma = 0.3})",
                      lambda o: S.MultiStepLR(o, [5, 12, 30], 0.3)),
        schedule_case("ExponentialLR(opt, {gamma = 0.95})", lambda o: S.ExponentialLR(o, 0.95)),
        schedule_case("CosineAnnealingLR(opt, {tMax = 20, etaMin = 0.01})",
                      lambda o: S.CosineAnnealingLR(o, 20, 0.01)),
        schedule_case("ReduceLROnPlateau(opt, {factor = 0.5, patience = 3, cooldown = 2})",
                      lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=3, cooldown=2), metrics=plateau_metrics),
        schedule_case("ReduceLROnPlateau(opt, {mode = \\\"max\\\", thresholdMode = \\\"abs\\\", threshold = 0.01, patience = 2})",
                      lambda o: S.ReduceLROnPlateau(o, mode="max", threshold_mode="abs", threshold=0.01, patience=2),
                      metrics=[-m for m in plateau_metrics]),
        schedule_case("OneCycleLR(opt, {maxLr = 1, totalSteps = 50})", lambda o: S.OneCycleLR(o, 1.0, total_steps=50)),
        schedule_case("OneCycleLR(opt, {maxLr = 0.5, totalSteps = 50, pctStart = 0.2, annealStrategy = \\\"linear\\\"})",
                      lambda o: S.OneCycleLR(o, 0.5, total_steps=50, pct_start=0.2, anneal_strategy="linear"), "Adam"),
        schedule_case("LambdaLR(opt, function(n) return 1 / (1 + n) end)", lambda o: S.LambdaLR(o, lambda n: 1 / (1 + n))),
    ]
    luafixture.write("optim", "optim_torch.py", cases)


main()
