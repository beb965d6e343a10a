from . import test_ip_change
from . import test_dashboard
from . import test_dashboard_tour
from . import test_cron_wake
from . import test_ip_change_webhook
from . import test_monitoring
