from . import test_ip_change
