"""Server models and the superserver that runs many bindings in one process.

Models: ``iterative``, ``thread``, ``fork``, ``select`` and ``async``
(see docs/architecture.md for how to choose).
"""

from hosepipe.servers.base import Binding
from hosepipe.servers.superserver import MODELS, Superserver

__all__ = ["MODELS", "Binding", "Superserver"]
