__version__ = "0.1.0"

from brique import _core_guard

_core_guard.guard()  # an extension built from an older source is never imported (`make core`)
