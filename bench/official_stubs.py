"""Stand-ins for modules the official YOLOv9 code imports at module level but never uses for a forward pass or a
training step (IPython, seaborn, thop, loggers, ...): `stub_missing()` replaces each one that does not import here
by an inert module (any attribute is callable and returns another inert object; its submodules import too), so a
plain Python with torch, torchvision, numpy, yaml, opencv, pandas and matplotlib runs the official code. Installed
modules are left alone. Used by bench/torch_cpu.py and bench/torch_train.py.
"""
import importlib
import importlib.machinery
import sys
import types

# Imported by the official code at module level but unused by a training step; stubbed only when missing.
OPTIONAL = ["IPython", "seaborn", "thop", "clearml", "comet_ml", "wandb", "pycocotools", "albumentations"]


class _Inert(types.ModuleType):
    """A module whose every attribute is a callable that accepts anything and returns another inert object."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert(f"{self.__name__}.{name}")

    def __call__(self, *a, **k):
        return _Inert(f"{self.__name__}()")


class _StubFinder:
    """Finds every submodule of a stubbed package (`from IPython.core.display import x`) as another inert module."""

    def __init__(self, roots):
        self.roots = roots

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] not in self.roots:
            return None
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec):
        m = _Inert(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


def stub_missing(names):
    stubbed = []
    for n in names:
        try:
            importlib.import_module(n)
        except Exception:  # noqa: BLE001  (ImportError, or a broken optional install)
            for k in [k for k in sys.modules if k == n or k.startswith(n + ".")]:
                del sys.modules[k]
            stubbed.append(n)
    if stubbed:
        sys.meta_path.insert(0, _StubFinder(set(stubbed)))
    return stubbed
