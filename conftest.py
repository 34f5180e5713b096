"""Settings that must be in place before any test module imports SciPy."""

import importlib.util
import os

# scikit-learn's check_array_api_input runs only when SciPy's array API support
# is switched on, which must happen before SciPy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

# skvae.onnx imports skl2onnx, of the [onnx] extra: its docstrings' examples run
# where the extra is installed (.venv), not without it (make test-oldest).
collect_ignore = [] if importlib.util.find_spec("skl2onnx") else ["skvae/onnx.py"]
