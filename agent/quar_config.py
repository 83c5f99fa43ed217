"""The QUAR settings live in agent/indicators/quar_config.py; this module keeps the old import
path for agent/runtime.py (issue #13, another change is reshaping it): delete it once runtime.py
imports `agent.indicators.quar_config`."""

from agent.indicators.quar_config import load_quar

__all__ = ["load_quar"]
