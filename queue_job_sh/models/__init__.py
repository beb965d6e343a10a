from . import ir_cron
from . import queue_job
from . import queue_job_channel
from . import queue_job_sh_dashboard
from . import queue_job_sh_ip_change
from . import queue_job_sh_pass
from . import queue_job_sh_runner
from . import res_config_settings
