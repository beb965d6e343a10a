from . import test_runner
