#!/usr/bin/python3
"""PyTorch CPU reference line for `npm run bench` (float32, 2 threads: the machine's cores).

Reads the case list (JSON) on stdin, prints one JSON line per case: {"name", "median_ms"} or {"name",
"skipped"}. Timing: time.perf_counter around the op, 1 warm-up, median of 9 samples (3 with --quick).
Conv input / weight gradients call aten.convolution_backward with an output mask (the kernel autograd would
run, without the forward); the block runs forward (BatchNorm in training mode) + backward to every parameter.
Whole models use the official YOLOv9 code when a checkout is found (env YOLOV9_DIR, default /tmp/yolov9, as
for the test fixtures): DetectionModel(models/detect/<cfg>.yaml), forward in eval mode under no_grad, and the
training step as ours: train-mode forward, loss = sum of the means of every level map, backward (samples stop
at 3 once 10 s were spent). Without a checkout the model cases are reported as skipped. Modules the official
code imports but never uses (IPython, ...) are stubbed when missing (official_stubs.py).
Run by the harness with /usr/bin/python3 (Debian's python3-torch); without torch it prints one error line.
"""
import contextlib
import io
import json
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as e:  # the harness reports the reason and leaves the column out
    print(json.dumps({"error": f"no torch: {e} (optional reference line; Debian: apt-get install python3-torch)"}))
    sys.exit(3)

from official_stubs import OPTIONAL, stub_missing  # noqa: E402  (bench/, next to this script)

QUICK = "--quick" in sys.argv
REPS = 3 if QUICK else 9
torch.set_num_threads(2)
torch.manual_seed(0)


def timed(fn, budget_s=None):
    fn()  # warm-up
    xs = []
    start = time.perf_counter()
    for _ in range(REPS):
        t0 = time.perf_counter()
        fn()
        xs.append((time.perf_counter() - t0) * 1000)
        if budget_s is not None and len(xs) >= 3 and time.perf_counter() - start > budget_s:
            break
    return statistics.median(xs)


YOLOV9_DIR = os.path.abspath(os.environ.get("YOLOV9_DIR", "/tmp/yolov9"))
HAVE_OFFICIAL = os.path.isfile(os.path.join(YOLOV9_DIR, "models", "yolo.py"))


def flat(v):
    return [v] if isinstance(v, torch.Tensor) else [t for e in v for t in flat(e)]


def model_case(c):
    if YOLOV9_DIR not in sys.path:
        sys.path.insert(0, YOLOV9_DIR)
        stub_missing(OPTIONAL)  # e.g. IPython: imported by the official utils, never used here
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from models.yolo import DetectionModel  # the official code, imported from the checkout

        torch.manual_seed(0)
        m = DetectionModel(os.path.join(YOLOV9_DIR, "models", "detect", f"{c['cfg']}.yaml"), ch=3, nc=80)
    x = torch.rand(c["batch"], 3, c["size"], c["size"])
    if not c["train"]:
        m.eval()

        def fwd():
            with torch.no_grad():
                m(x)

        return timed(fwd, 10)
    m.train()

    def step():
        m.zero_grad(set_to_none=True)
        sum(o.mean() for o in flat(m(x))).backward()

    return timed(step, 10)


def conv_case(c):
    x = torch.randn(c["n"], c["c"], c["h"], c["w"])
    w = torch.randn(c["o"], c["c"] // c["groups"], c["k"], c["k"]) * 0.05
    oh, ow = c["out"]
    dy = torch.randn(c["n"], c["o"], oh, ow)
    s, p, g = [c["stride"]] * 2, [c["pad"]] * 2, c["groups"]
    if c["pass"] == "fwd":
        return timed(lambda: F.conv2d(x, w, None, s, p, 1, g))
    mask = [True, False, False] if c["pass"] == "dgrad" else [False, True, False]
    return timed(lambda: torch.ops.aten.convolution_backward(dy, x, w, None, s, p, [1, 1], False, [0, 0], g, mask))


class ConvBn(torch.nn.Module):
    def __init__(self, c1, c2, k=1, act=True):
        super().__init__()
        self.conv = torch.nn.Conv2d(c1, c2, k, 1, k // 2, bias=False)
        self.bn = torch.nn.BatchNorm2d(c2, eps=1e-3, momentum=0.03)
        self.act = act

    def forward(self, x):
        y = self.bn(self.conv(x))
        return F.silu(y) if self.act else y


class RepNBottleneck(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.conv2, self.cv2 = ConvBn(c, c, 3, False), ConvBn(c, c, 1, False), ConvBn(c, c, 3)

    def forward(self, x):
        return x + self.cv2(F.silu(self.conv1(x) + self.conv2(x)))


class RepNCSP(torch.nn.Module):
    def __init__(self, c1, c2, n):
        super().__init__()
        h = c2 // 2
        self.cv1, self.cv2, self.cv3 = ConvBn(c1, h), ConvBn(c1, h), ConvBn(2 * h, c2)
        self.m = torch.nn.Sequential(*[RepNBottleneck(h) for _ in range(n)])

    def forward(self, x):
        return self.cv3(torch.cat([self.m(self.cv1(x)), self.cv2(x)], 1))


class RepNCSPELAN4(torch.nn.Module):
    def __init__(self, c1, c2, c3, c4, c5):
        super().__init__()
        self.cv1 = ConvBn(c1, c3)
        self.cv2 = torch.nn.Sequential(RepNCSP(c3 // 2, c4, c5), ConvBn(c4, c4, 3))
        self.cv3 = torch.nn.Sequential(RepNCSP(c4, c4, c5), ConvBn(c4, c4, 3))
        self.cv4 = ConvBn(c3 + 2 * c4, c2)

    def forward(self, x):
        y0, y1 = self.cv1(x).chunk(2, 1)
        y2 = self.cv2(y1)
        y3 = self.cv3(y2)
        return self.cv4(torch.cat([y0, y1, y2, y3], 1))


def block_case(c):
    m = RepNCSPELAN4(c["c1"], c["c2"], c["c3"], c["c4"], c["c5"]).train()
    x = torch.randn(c["n"], c["c1"], c["h"], c["w"])
    dy = torch.randn(c["n"], c["c2"], c["h"], c["w"])

    def step():
        m.zero_grad(set_to_none=True)
        m(x).backward(dy)

    return timed(step)


def main():
    cases = json.load(sys.stdin)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "official": YOLOV9_DIR if HAVE_OFFICIAL else None}), flush=True)
    for c in cases:
        kind = c["kind"]
        out = {"name": c["name"]}
        with torch.no_grad() if kind in ("conv", "matmul") else torch.enable_grad():
            if kind == "conv":
                out["median_ms"] = conv_case(c)
            elif kind == "matmul":
                a, b = torch.randn(c["m"], c["k"]), torch.randn(c["k"], c["n"])
                out["median_ms"] = timed(lambda: a @ b)
            elif kind == "block":
                out["median_ms"] = block_case(c)
            elif HAVE_OFFICIAL:
                out["median_ms"] = model_case(c)
            else:
                out["skipped"] = f"no official YOLOv9 checkout at {YOLOV9_DIR} (set YOLOV9_DIR) for the whole models"
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
