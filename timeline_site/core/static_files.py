"""The static files as served in production: our own CSS and JavaScript minified, then compressed once,
at `collectstatic`, by WhiteNoise (hashed names, far-future caching, gzip and Brotli files beside each).

The sources in static/ stay readable, comments and all: the comments are a third of the bytes a phone
would download on its first visit. Minifying is left to libraries made for it (rcssmin and rjsmin, the
minifiers of django-compressor and webassets: they remove comments and whitespace and rename nothing).
With the Brotli package installed, WhiteNoise writes a .br file beside each .gz, for the browsers that
ask for it (all current ones, over HTTPS). Zopfli was tried for the .gz files: 0.6 KB less on a first
visit, for twelve seconds more per collectstatic; not taken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import rcssmin
import rjsmin
from django.core.files.base import ContentFile, File
from whitenoise.storage import CompressedManifestStaticFilesStorage


def minifier(name: str) -> Callable[[str], str] | None:
    """What minifies the file `name`, or None for a file that is not ours to minify (already minified by
    its makers, like htmx, or neither CSS nor JavaScript: images and fonts are not even read here)."""
    if ".min." in name:
        return None
    if name.endswith(".css"):
        return rcssmin.cssmin
    if name.endswith(".js"):
        return rjsmin.jsmin
    return None


def minified(name: str, text: str) -> str | None:
    """`text` of the file `name` minified, or None when `name` is not ours to minify (see minifier)."""
    minify = minifier(name)
    return None if minify is None else str(minify(text))


class MinifiedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    """CompressedManifestStaticFilesStorage that minifies CSS and JavaScript as it writes them.

    Every copy goes through `_save` (the method a Django storage implements to write a file): the plain
    name, and the hashed one after Django has rewritten the CSS's url()s. The hash stays the source's, so a
    change to a source still changes its name."""

    def _save(self, name: str, content: File[Any]) -> str:
        minify = minifier(name)
        if minify is not None:
            content.seek(0)  # Django may hand over a file it has just read to hash
            text = content.read()
            content = ContentFile(minify(text.decode("utf-8") if isinstance(text, bytes) else text).encode("utf-8"))
        return super()._save(name, content)
