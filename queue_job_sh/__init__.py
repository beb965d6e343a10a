from . import controllers
from . import cron_worker
from . import models
from .hooks import post_init_hook, uninstall_hook
