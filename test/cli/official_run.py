"""Run an official YOLOv9 script (train_dual.py, detect.py, …) unmodified, offline, from a test.

    /usr/bin/python3 test/cli/official_run.py <yolov9 checkout> <script.py> [script args…]
    torchrun --nproc_per_node N test/cli/official_run.py <yolov9 checkout> train_dual.py …

Stands in for what an offline machine lacks: IPython (imported by models/common.py and matplotlib's backend
hook) and TensorBoard's SummaryWriter (logging only) when they are not installed, and the Arial font download of utils.general.check_font (used only to draw
plots). Everything else is the official code as checked out.
"""
import os
import runpy
import sys
import types

root, script, *args = sys.argv[1:]
try:
    import IPython  # noqa: F401
except ImportError:
    ipy = types.ModuleType("IPython")
    disp = types.ModuleType("IPython.display")
    disp.display = lambda *a, **k: None
    ipy.display = disp
    ipy.get_ipython = lambda: None
    sys.modules["IPython"] = ipy
    sys.modules["IPython.display"] = disp
try:
    import torch.utils.tensorboard  # noqa: F401
except ImportError:
    # TensorBoard logging only; Debian packages no tensorboard
    tb = types.ModuleType("torch.utils.tensorboard")

    class SummaryWriter:
        def __init__(self, *a, **k):
            pass

        def __getattr__(self, name):
            return lambda *a, **k: None

    tb.SummaryWriter = SummaryWriter
    sys.modules["torch.utils.tensorboard"] = tb
sys.path.insert(0, root)
import utils.general  # noqa: E402

utils.general.check_font = lambda *a, **k: None
sys.argv = [os.path.join(root, script), *args]
runpy.run_path(sys.argv[0], run_name="__main__")
