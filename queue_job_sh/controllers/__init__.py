from . import ip_change
