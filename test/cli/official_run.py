"""Run an official YOLOv9 script (train_dual.py, detect.py, …) unmodified, offline, from a test.

    /usr/bin/python3 test/cli/official_run.py <yolov9 checkout> <script.py> [script args…]
    torchrun --nproc_per_node N test/cli/official_run.py <yolov9 checkout> train_dual.py …

What an offline machine lacks is stubbed by test/fixtures/gen/offline_stubs.py (IPython, TensorBoard's writer,
the plot font download); everything else is the official code as checked out.
"""
import os
import runpy
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "gen"))
import offline_stubs  # noqa: E402

root, script, *args = sys.argv[1:]
offline_stubs.install()
sys.path.insert(0, root)
offline_stubs.no_font_download()
sys.argv = [os.path.join(root, script), *args]
runpy.run_path(sys.argv[0], run_name="__main__")
