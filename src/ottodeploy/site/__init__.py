"""The status site's pages: plain values (``content``), the graph drawn by Graphviz
(``graph``) and the HTML written with Jinja2 templates (``render``).

``flows.site`` gathers the values; this package only turns them into files.
"""
