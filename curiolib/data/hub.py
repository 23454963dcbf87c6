"""Whether the Hugging Face hub can be reached: asked before downloading a standard data set or a model."""
from __future__ import annotations

import os
import socket

HUB_HOST = "huggingface.co"
_TRUE = {"1", "true", "yes", "on"}


def offline_by_setting() -> bool:
    """True when HF_HUB_OFFLINE or HF_DATASETS_OFFLINE asks for offline mode (as in the tests and CI)."""
    return any(os.environ.get(name, "").strip().lower() in _TRUE
               for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_reachable(timeout: float = 3.0) -> bool:
    """False when offline mode is set or the hub does not answer a TCP connection within ``timeout`` seconds."""
    if offline_by_setting():
        return False
    try:
        with socket.create_connection((HUB_HOST, 443), timeout=timeout):
            return True
    except OSError:
        return False
