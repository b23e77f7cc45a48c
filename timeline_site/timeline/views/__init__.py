"""The timeline feature's views: each validates the request (a Form), checks access, calls one service
function and renders.

- views/timeline.py: `contact_timeline` (the full page, or for htmx the next page `#page` or the filtered
  timeline `#timeline`) and `contact_spans` (the spans and the header's history, once a page is on screen);
- views/place.py: a page opened at an entry or a day, pages above, and `contact_live` (anything newer?);
- views/export.py: `contact_export`, the whole timeline as CSV or JSON;
- views/find.py: `index` (find a contact) and `contact_lookup` (a CRM's link by e-mail, phone or name);
- views/common.py: what they share, upstream failures in words among it.
"""

from timeline_site.timeline.views.export import contact_export
from timeline_site.timeline.views.find import contact_lookup, index
from timeline_site.timeline.views.place import contact_live
from timeline_site.timeline.views.timeline import contact_spans, contact_timeline

__all__ = ["contact_export", "contact_live", "contact_lookup", "contact_spans", "contact_timeline", "index"]
