from . import queue_job
from . import queue_job_channel
from . import queue_job_sh_pass
from . import queue_job_sh_runner
