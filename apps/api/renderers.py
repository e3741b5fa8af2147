"""Renderers beside DRF's JSON one."""

from rest_framework import renderers


class CSVRenderer(renderers.BaseRenderer):
    """Lets `Accept: text/csv` (or `?format=csv`) through content negotiation for views that
    answer CSV themselves (a streamed download); errors still render as JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return renderers.JSONRenderer().render(data)
