"""eddy from Python: tensor streams (eddy.tsr) and the trained models as
PyTorch modules (eddy.models, which imports torch only when used)."""
from . import tsr  # noqa: F401

__version__ = "0.1.0"
