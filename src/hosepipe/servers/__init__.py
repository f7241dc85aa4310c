"""Server models and the superserver that runs many bindings in one process.

Models: ``iterative``, ``thread``, ``fork``, ``select`` and ``async``
(the README's "Choosing a model" says how to choose; docs/architecture.md how they
differ).
"""

from hosepipe.servers.base import Binding
from hosepipe.servers.superserver import MODELS, Superserver

__all__ = ["MODELS", "Binding", "Superserver"]
