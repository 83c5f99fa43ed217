"""The demo: the shipped catalogue's services, moved onto the loopback estate, and a script."""

from __future__ import annotations

from typing import Any

import yaml

from agent.catalog.model import Catalog, Service
from agent.demo.estate import Fault

CYCLE_SECONDS = 600.0
INTERVAL = "5s"
TIMEOUT = "3s"

# What goes wrong, and when, in each 10-minute cycle.
SCRIPT = (
    Fault("autenticacao", 20, 110, "503", "Autenticação Central falha: SSD e App caem com ela"),
    Fault("portal", 30, 120, "slow", "Portal lento (acima de max_latency): degradado"),
    Fault("mbway", 150, 270, "hang", "MB WAY deixa de responder (timeout)"),
    Fault("smartdocs", 210, 300, "wrong-body", "SmartDocs devolve a página errada"),
    Fault("visao-360", 330, 450, "flap", "Visão 360º intermitente (flapping)"),
)


def demo_catalog_yaml(shipped: Catalog, port: int) -> str:
    """The shipped services with one HTTP check each against the estate on `port`."""
    services = [_service(s, port) for s in shipped.services]
    document = {
        "version": 1,
        "defaults": {"interval": INTERVAL, "timeout": TIMEOUT, "confirm_down": 2, "confirm_up": 2},
        "services": services,
    }
    header = (
        "# Demo catalogue written by `vigia demo`: the shipped services on a loopback estate.\n"
    )
    return header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def _service(service: Service, port: int) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": service.id,
        "name": service.name,
        "macro_service": service.macro_service,
        "tier": service.tier,
        "pcn": service.pcn,
        "owner": service.owner,
        "monitored": service.monitored,
        "depends_on": list(service.depends_on),
    }
    if service.monitored:
        entry["checks"] = [
            {
                "http": {
                    "url": f"http://127.0.0.1:{port}/{service.id}/health",
                    "expect_status": [200],
                    "body_contains": "Segurança Social",
                    "max_latency": "1s",
                }
            }
        ]
    return entry
