"""Pact runs offline here: no usage tracking calls out of CI."""

import os

os.environ.setdefault("PACT_DO_NOT_TRACK", "true")
