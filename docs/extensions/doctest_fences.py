"""A Griffe extension for the API reference: doctest examples shown as code.

The docstrings write their examples as doctest lines (``>>> call()`` followed by
the expected output) under ``Example:``. Markdown would read ``>>>`` as nested
quotes and ``[...]`` outputs as links, so each run of doctest lines is wrapped
in a ``pycon`` code fence before the docstring is rendered. Lines already inside
a fence are left alone.
"""

import griffe


def fence_doctests(text: str) -> str:
    """Return ``text`` with every block of doctest lines inside a ``pycon`` fence."""
    fenced, indent, in_fence, in_doctest = [], "", False, False
    for line in text.split("\n"):
        stripped = line.lstrip()
        if in_doctest and not stripped:
            fenced.append(indent + "```")
            in_doctest = False
        if not in_doctest and stripped.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and not in_doctest and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            fenced.append(indent + "```pycon")
            in_doctest = True
        fenced.append(line)
    if in_doctest:
        fenced.append(indent + "```")
    return "\n".join(fenced)


class DoctestFences(griffe.Extension):
    """Wrap the doctest lines of every docstring in a ``pycon`` code fence."""

    def on_object(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
