# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from urllib.parse import urlsplit

from werkzeug.exceptions import NotFound
from werkzeug.routing import RequestRedirect

from odoo import models

from .queue_job_sh_ip_change import IP_CHANGE_PATH


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _match(cls, path_info):
        """No redirect to ``/_odoo.sh/ip-change``: a 404.

        werkzeug's router (2.2) redirects a path with repeated slashes
        (``/_odoo.sh//ip-change``) to the path of the route it would match,
        whatever the route says. That route answers only requests sent to
        its exact path (see ``controllers/ip_change.py``), and any other
        form gets a 404.
        """
        try:
            return super()._match(path_info)
        except RequestRedirect as redirect:
            if urlsplit(redirect.new_url).path.rstrip("/") == IP_CHANGE_PATH:
                raise NotFound() from None
            raise
