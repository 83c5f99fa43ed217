"""The shipped catalogue, catalog/services.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.catalog.loader import load
from agent.catalog.model import MACRO_SERVICES, Catalog
from checks.specs import HttpSpec, TcpSpec, TlsSpec, target_host

SHIPPED = Path(__file__).resolve().parents[2] / "catalog" / "services.yaml"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load(SHIPPED, environ={})


def test_shipped_catalogue_validates(catalog: Catalog) -> None:
    assert len(catalog.services) >= 20
    assert catalog.source == SHIPPED


def test_every_monitored_service_has_checks(catalog: Catalog) -> None:
    assert catalog.monitored
    assert [s.id for s in catalog.monitored if not s.checks] == []


def test_every_service_uses_one_of_the_six_macro_services(catalog: Catalog) -> None:
    assert len(MACRO_SERVICES) == 6
    assert {s.macro_service for s in catalog.services} <= set(MACRO_SERVICES)


def test_the_seed_documents_services_are_catalogued(catalog: Catalog) -> None:
    names = " ".join(s.name for s in catalog.services)
    for expected in (
        "Segurança Social Direta",
        "MB WAY",
        "Visão 360",
        "SmartDocs",
        "Active Directory",
        "DNS",
        "PTSS",
        "Portal",
        "Correio",
    ):
        assert expected in names


def test_placeholders_are_labelled(catalog: Catalog) -> None:
    """Checks aimed at the reserved .invalid domain sit in services labelled placeholder."""
    for service in catalog.services:
        targets = " ".join(repr(c.spec) for c in service.checks)
        if ".invalid" in targets:
            assert service.labels.get("endpoint") == "placeholder", service.id


def test_placeholder_services_aim_at_no_real_host(catalog: Catalog) -> None:
    placeholders = [s for s in catalog.services if s.labels.get("endpoint") == "placeholder"]
    assert placeholders
    for service in placeholders:
        for check in service.checks:
            host = target_host(check.spec)
            assert host is None or host.endswith(".invalid"), check.id


def test_public_endpoints_are_real_https_urls(catalog: Catalog) -> None:
    public = [
        c.spec
        for s in catalog.services
        if s.labels.get("endpoint") != "placeholder"
        for c in s.checks
        if isinstance(c.spec, HttpSpec)
    ]
    assert public and all(spec.url.startswith("https://") for spec in public)


def test_platinum_pcn_services_exist_for_ind4(catalog: Catalog) -> None:
    assert any(s.is_platinum_pcn for s in catalog.services)
    assert {s.tier for s in catalog.services} <= set(catalog.tiers)


def test_the_mail_relay_and_the_directory_are_watched_through_starttls(catalog: Catalog) -> None:
    email = {c.name: c.spec for c in catalog.by_id["email"].checks}
    relay = email["tcp"]
    assert isinstance(relay, TcpSpec) and relay.starttls == "smtp" and relay.steps
    certificate = email["smtp-certificado"]
    assert isinstance(certificate, TlsSpec) and certificate.starttls == "smtp"
    directory = {c.name: c.spec for c in catalog.by_id["active-directory"].checks}
    ldaps = directory["tcp"]
    assert isinstance(ldaps, TcpSpec) and ldaps.tls
    ldap = directory["ldap-starttls"]
    assert isinstance(ldap, TlsSpec) and ldap.starttls == "ldap" and ldap.port == 389
