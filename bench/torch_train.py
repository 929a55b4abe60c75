#!/usr/bin/python3
"""The official YOLOv9 training step on PyTorch CPU: the reference line of the training-throughput table.

Reads a JSON list of configs on stdin ({"cfg", "imgsz", "batch", "nc", "warmup", "steps", "seed"}), prints one
JSON line per config: {"cfg", "imgsz", "batch", "step_ms": [...], "median_ms", "images_per_s"} or {..., "skipped"}.
A first line {"torch", "threads", "official"} describes the run; a fatal problem is one {"error"} line, exit 3.

Everything is the official code, imported from a checkout (--yolov9 DIR, else env GELAN_YOLOV9_DIR or
YOLOV9_DIR, else /tmp/yolov9); nothing of it is copied here. Per config, as train.py / train_dual.py do it:
models.yolo.Model(models/detect/<cfg>.yaml, ch=3, nc), model.hyp = data/hyps/hyp.scratch-high.yaml,
utils.loss_tal_dual.ComputeLoss for dual-head models (yolov9-*) and utils.loss_tal.ComputeLoss otherwise,
utils.torch_utils.smart_optimizer(model, 'SGD', lr0, momentum, weight_decay) and ModelEMA. One step = forward,
loss, backward, clip_grad_norm_(10), optimizer.step(), zero_grad(), ema.update() -- the optimiser runs every step
(train.py accumulates to a nominal batch of 64; a throughput step is the full step either way). fp32, no AMP.

Data: random images in [0, 1) and 2-6 boxes per image (random class, centre, size 5-50 % of the side), made once
per config; the TS side draws from the same distribution with its own generator.

The official code imports a few modules it never needs for a training step (IPython, seaborn, thop, ...): any of
those missing on this machine is replaced by an inert stub module before the import, so a plain Python with
torch, torchvision, numpy, yaml, opencv, pandas and matplotlib is enough. Which modules were stubbed is reported.
"""
import argparse
import contextlib
import importlib
import io
import json
import logging
import os
import statistics
import sys
import time

from official_stubs import OPTIONAL, stub_missing  # bench/, next to this script

def official_dir(cli):
    for d in (cli, os.environ.get("GELAN_YOLOV9_DIR"), os.environ.get("YOLOV9_DIR"), "/tmp/yolov9"):
        if d:
            return os.path.abspath(d), os.path.isfile(os.path.join(d, "models", "yolo.py"))
    return None, False


def fail(msg):
    print(json.dumps({"error": msg}), flush=True)
    sys.exit(3)


def synthetic_batch(torch, g, batch, imgsz, nc):
    imgs = torch.rand(batch, 3, imgsz, imgsz, generator=g)
    rows = []
    for i in range(batch):
        for _ in range(int(torch.randint(2, 7, (1,), generator=g))):
            w, h = (0.05 + 0.45 * torch.rand(2, generator=g)).tolist()
            cx = w / 2 + (1 - w) * float(torch.rand(1, generator=g))
            cy = h / 2 + (1 - h) * float(torch.rand(1, generator=g))
            rows.append([i, int(torch.randint(0, nc, (1,), generator=g)), cx, cy, w, h])
    return imgs, torch.tensor(rows, dtype=torch.float32)


def run_config(torch, yolov9, c):
    import yaml
    from models.yolo import Model
    from utils.torch_utils import ModelEMA, smart_optimizer

    dual = c["cfg"].startswith("yolov9")
    ComputeLoss = importlib.import_module("utils.loss_tal_dual" if dual else "utils.loss_tal").ComputeLoss
    torch.manual_seed(c.get("seed", 0))
    with contextlib.redirect_stdout(io.StringIO()):
        model = Model(os.path.join(yolov9, "models", "detect", f"{c['cfg']}.yaml"), ch=3, nc=c["nc"])
    with open(os.path.join(yolov9, "data", "hyps", "hyp.scratch-high.yaml"), errors="ignore") as f:
        hyp = yaml.safe_load(f)
    model.nc, model.hyp = c["nc"], hyp
    model.train()
    compute_loss = ComputeLoss(model)
    optimizer = smart_optimizer(model, "SGD", hyp["lr0"], hyp["momentum"], hyp["weight_decay"])
    ema = ModelEMA(model)
    g = torch.Generator().manual_seed(c.get("seed", 0))
    imgs, targets = synthetic_batch(torch, g, c["batch"], c["imgsz"], c["nc"])

    def step():
        pred = model(imgs)
        loss, _ = compute_loss(pred, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
        optimizer.step()
        optimizer.zero_grad()
        ema.update(model)
        if not torch.isfinite(loss).all():
            raise RuntimeError(f"non-finite loss {loss.item()}")

    for _ in range(c.get("warmup", 1)):
        step()
    xs = []
    for _ in range(c.get("steps", 5)):
        t0 = time.perf_counter()
        step()
        xs.append((time.perf_counter() - t0) * 1000)
    med = statistics.median(xs)
    return {"step_ms": [round(x, 1) for x in xs], "median_ms": med, "images_per_s": c["batch"] * 1000 / med, "loss": "dual" if dual else "single"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--yolov9", help="official WongKinYiu/yolov9 checkout")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: every CPU)")
    a = ap.parse_args()
    yolov9, found = official_dir(a.yolov9)
    if not found:
        fail(f"no official YOLOv9 checkout at {yolov9} (--yolov9 DIR or GELAN_YOLOV9_DIR)")
    try:
        import torch
    except ImportError as e:
        fail(f"no torch in {sys.executable}: {e} (Debian: apt-get install python3-torch)")
    torch.set_num_threads(a.threads or os.cpu_count() or 1)
    stubbed = stub_missing(OPTIONAL)
    sys.path.insert(0, yolov9)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            importlib.import_module("models.yolo")
    except Exception as e:  # noqa: BLE001
        fail(f"the official code at {yolov9} does not import: {type(e).__name__}: {e}")
    logging.getLogger("yolov5").setLevel(logging.WARNING)
    configs = json.load(sys.stdin)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "official": yolov9, "stubbed": stubbed}), flush=True)
    for c in configs:
        out = {"cfg": c["cfg"], "imgsz": c["imgsz"], "batch": c["batch"]}
        try:
            out.update(run_config(torch, yolov9, c))
        except Exception as e:  # noqa: BLE001  (one config failing must not lose the others)
            out["skipped"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
