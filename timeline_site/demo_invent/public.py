"""Where the dashboard serves the in-process demo's assets (no imports: the parser reads it).

The project mounts `timeline_site.demo_invent.urls` at PUBLIC_BASE, and the
in-process transport rewrites the demo's `/assets/<name>` URLs to
`PUBLIC_BASE/assets/<name>`, which is the only root-relative URL the parser
accepts (and only while the demo is the upstream).
"""

PUBLIC_BASE = "/demo-invent"
ASSETS_PREFIX = PUBLIC_BASE + "/assets/"
