from . import ip_change
from . import monitoring
