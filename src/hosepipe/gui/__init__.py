"""hosepipe in a window (tkinter): the file client, the getfile form, and the Form class.

``hosepipe gui`` is the file client (:mod:`hosepipe.gui.app`), ``hosepipe gui --form``
the chapter's getfile form (:mod:`hosepipe.gui.getfile`). :class:`Form` and :func:`ask`
(:mod:`hosepipe.gui.form`) are for any program that wants a form.

Importing this package does not import tkinter (the command line lists ``gui`` even
where tkinter is not installed); ``Form`` and ``ask`` load it when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hosepipe.gui.form import Form, ask

__all__ = ["Form", "ask"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from hosepipe.gui import form  # noqa: PLC0415 - tkinter only when used

        return getattr(form, name)
    raise AttributeError(f"module 'hosepipe.gui' has no attribute {name!r}")
