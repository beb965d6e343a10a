from . import installed
