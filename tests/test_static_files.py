"""The static files as production serves them (timeline_site/core/static_files.py): our CSS and JavaScript
minified under their hashed names, compressed beside them, and the same rules in fewer bytes."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles.storage import staticfiles_storage
from django.test import Client

from timeline_site.core.static_files import MinifiedStaticFilesStorage, minified

SOURCES = Path(settings.BASE_DIR) / "static"
OURS = sorted(p.relative_to(SOURCES).as_posix() for p in SOURCES.rglob("*") if p.suffix in {".css", ".js"})


def test_there_are_files_to_check() -> None:
    assert {"css/app.css", "js/app.js", "js/timeline.js"} <= set(OURS)


@pytest.mark.parametrize("name", OURS)
def test_each_file_is_served_minified_and_compressed_under_its_hashed_name(name: str) -> None:
    source = (SOURCES / name).read_text()
    served = Path(staticfiles_storage.path(staticfiles_storage.stored_name(name)))
    text = served.read_text()
    assert 0 < len(text) < len(source)
    # Django points the stylesheet's url()s at the hashed names: read them back as written.
    assert re.sub(r'url\("([^"]+)\.[0-9a-f]{12}(\.\w+)"\)', r"url(\1\2)", text) == minified(name, source)
    assert "/*" not in text and "\n  " not in text  # no comments, no indentation left
    assert gzip.decompress(Path(f"{served}.gz").read_bytes()).decode() == text
    if Path(f"{served}.br").exists():  # with the Brotli package installed (requirements.txt)
        import brotli

        assert brotli.decompress(Path(f"{served}.br").read_bytes()).decode() == text


def test_the_hash_still_follows_the_source() -> None:
    """Minifying happens as the file is written: the name's hash is the source's, so an edit changes it."""
    import hashlib

    stored = staticfiles_storage.stored_name("js/app.js")
    digest = hashlib.md5((SOURCES / "js/app.js").read_bytes(), usedforsecurity=False).hexdigest()[:12]
    assert stored == f"js/app.{digest}.js"


def test_minified_keeps_what_the_browser_reads() -> None:
    css = "/* why */\n.a  >  .b {\n  color: red;  /* note */\n}\n@media print {\n  .c { display: none; }\n}\n"
    assert minified("x.css", css) == ".a>.b{color:red}@media print{.c{display:none}}"
    js = "// why\nconst re = /a\\/\\/b/g; // keep the regex\nconst s = '/* not a comment */';\nfoo(re, s);\n"
    out = minified("x.js", js)
    assert out is not None and "// why" not in out
    assert "/a\\/\\/b/g" in out and "'/* not a comment */'" in out
    assert minified("vendor/htmx.min.js", "a  =  1") is None and minified("x.svg", "<svg/>") is None


def test_the_served_stylesheet_is_the_minified_one(client: Client) -> None:
    url = staticfiles_storage.url("css/app.css")
    response = client.get(url, headers={"accept-encoding": "gzip"})
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    body = gzip.decompress(b"".join(response.streaming_content)).decode()  # type: ignore[attr-defined]
    assert not re.search(r"/\*.*?\*/", body, re.S) and ".card" in body


def test_images_and_fonts_pass_through_unread(tmp_path: Path) -> None:
    """Only CSS and JavaScript are read as text: a PNG (not UTF-8) is written as it came."""
    from django.core.files.base import ContentFile

    storage = MinifiedStaticFilesStorage(location=str(tmp_path), base_url="/static/")
    png = b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary"
    storage._save("img/x.png", ContentFile(png))
    storage._save("css/x.css", ContentFile(b"/* why */\n.a {\n  color: red;\n}\n"))
    assert (tmp_path / "img/x.png").read_bytes() == png
    assert (tmp_path / "css/x.css").read_text() == ".a{color:red}"
