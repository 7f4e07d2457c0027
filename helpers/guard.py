"""Keeps hidden tests honest when answer cells tamper with what the tests use.

Student code runs in the same kernel as the hidden tests. It can reassign functions in numpy,
pandas or ``helpers`` (``np.allclose = lambda *a, **k: True``), shadow builtins in the notebook's
namespace (``len = lambda x: 5``) or change the LAB_* settings. :func:`snapshot` records those modules
before any answer runs (the Setup cell); :func:`restore` puts back every changed attribute before
a hidden test runs. It defends against casual tampering, not against rewriting the interpreter.
"""

from __future__ import annotations

import builtins
import os
import sys

WATCHED_MODULES = ("builtins", "numpy", "numpy.linalg", "pandas", "PIL.Image", "matplotlib.figure",
                   "pyspark.sql", "pyspark.ml.feature", "pyspark.ml.linalg", "torch")
_snapshot: dict[str, dict[str, object]] = {}
_environment: dict[str, str] = {}


def _watched() -> list[str]:
    helpers = [name for name in sys.modules if name == "helpers" or name.startswith("helpers.")]
    return [name for name in (*WATCHED_MODULES, *helpers) if name in sys.modules]


def snapshot() -> None:
    """Record the watched modules and LAB_* settings, once per process (later calls add new modules only)."""
    for name in _watched():
        _snapshot.setdefault(name, dict(vars(sys.modules[name])))
    if not _environment:
        _environment.update({key: value for key, value in os.environ.items() if key.startswith(("LAB_", "SPARK_"))})
        _environment["__recorded__"] = "1"


def restore() -> list[str]:
    """Undo changes to the recorded modules, builtins shadowed in ``__main__`` and LAB_* settings.

    Returns what was restored, e.g. ``["numpy.allclose", "__main__.len"]``.
    """
    restored = []
    for name, saved in _snapshot.items():
        namespace = vars(sys.modules.get(name, builtins))
        for attribute, value in saved.items():
            if namespace.get(attribute, _MISSING) is not value:
                namespace[attribute] = value
                restored.append(f"{name}.{attribute}")
    if hasattr(builtins, "get_ipython"):  # only in a notebook kernel, never in someone's script
        main = vars(sys.modules["__main__"])
        for attribute in [a for a in main if a in vars(builtins) and not a.startswith("_")]:
            del main[attribute]
            restored.append(f"__main__.{attribute}")
    if _environment:
        for key in [k for k in os.environ if k.startswith(("LAB_", "SPARK_")) and k not in _environment]:
            del os.environ[key]
            restored.append(f"os.environ[{key}]")
        for key, value in _environment.items():
            if key != "__recorded__" and os.environ.get(key) != value:
                os.environ[key] = value
                restored.append(f"os.environ[{key}]")
    return restored


_MISSING = object()
