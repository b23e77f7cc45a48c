"""Keep query strings out of request logs.

Contact search terms (e-mail addresses, names, phone numbers) travel in the
query string of `/?q=…`; the request line of the development server's log
(`django.server`) would otherwise write them to the console and log files.
gunicorn's access log is set up without them in gunicorn.conf.py.
"""

from __future__ import annotations

import logging
import re

# From "?" to the end of the request target: the target ends at whitespace
# (before " HTTP/1.1") or at the quote closing a quoted request line.
_QUERY = re.compile(r"\?[^\s\"']*")


def without_query(text: str) -> str:
    return _QUERY.sub("", text)


class StripQueryString(logging.Filter):
    """Drops the query string from every text argument of a record (the request line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(without_query(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif not record.args and isinstance(record.msg, str):
            record.msg = without_query(record.msg)
        return True
