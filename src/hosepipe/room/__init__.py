"""Chat rooms that span servers: the ``room`` service and its clients."""
