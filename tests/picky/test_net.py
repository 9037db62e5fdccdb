"""The client's address behind proxies: X-Forwarded-For is read from the right, and only as
far as trusted proxies wrote it (the client writes the rest)."""

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from connectors.models import Event
from picky.models import ApiToken
from picky.net import client_ip

BASE_DIR = Path(__file__).resolve().parents[2]
LOAD_BALANCER = "10.0.0.2"
ALLOWED = "198.51.100.7"
ATTACKER = "203.0.113.50"


def networks(*cidrs):
    return [ipaddress.ip_network(cidr) for cidr in cidrs]


def ip_of(forwarded, remote=LOAD_BALANCER):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


@pytest.fixture
def no_trust(settings):
    settings.PICKY_TRUSTED_PROXY_HOPS = 0
    settings.PICKY_TRUSTED_PROXIES = []
    return settings


@pytest.fixture
def one_hop(no_trust):
    no_trust.PICKY_TRUSTED_PROXY_HOPS = 1
    return no_trust


# The IP-locked API token ----------------------------------------------------------------


def token_client(project, forwarded):
    _, raw = ApiToken.issue(project, "locked", allowed_ip=ALLOWED)
    client = APIClient(REMOTE_ADDR=LOAD_BALANCER)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_X_FORWARDED_FOR=forwarded)
    return client


def test_a_forged_first_hop_does_not_pass_the_token_ip_lock(project, one_hop):
    # The attacker writes the allowed address; the load balancer appends the real one.
    response = token_client(project, f"{ALLOWED}, {ATTACKER}").get("/api/v1/connectors")
    assert response.status_code == 401
    assert response.json() == {"detail": "This API token is not allowed from your IP."}


def test_the_allowed_address_behind_the_load_balancer_passes(project, one_hop):
    assert token_client(project, ALLOWED).get("/api/v1/connectors").status_code == 200


def test_without_trusted_proxies_the_header_is_ignored(project, no_trust):
    assert token_client(project, ALLOWED).get("/api/v1/connectors").status_code == 401


# The event source IP ---------------------------------------------------------------------


def test_the_event_source_ip_is_what_the_load_balancer_saw(client, connector, one_hop):
    response = client.post(
        f"/hooks/{connector.token}",
        data="{}",
        content_type="application/json",
        headers={"X-Forwarded-For": f"{ALLOWED}, {ATTACKER}"},
        REMOTE_ADDR=LOAD_BALANCER,
    )
    assert response.status_code == 200
    assert Event.objects.get().source_ip == ATTACKER


# Hops, networks and malformed values -----------------------------------------------------


@pytest.mark.parametrize(
    "hops, forwarded, seen",
    [
        (0, f"{ALLOWED}, {ATTACKER}", LOAD_BALANCER),
        (1, None, LOAD_BALANCER),
        (1, ATTACKER, ATTACKER),
        (1, f"{ALLOWED}, {ATTACKER}", ATTACKER),
        (1, f"{ALLOWED},{ATTACKER}", ATTACKER),
        # Two proxies: the nearer one wrote the outer proxy's address, which wrote the client's.
        (2, f"{ALLOWED}, {ATTACKER}, 192.0.2.10", ATTACKER),
        (2, f"{ATTACKER}, 192.0.2.10", ATTACKER),
        # Fewer entries than hops: the leftmost was still written by a trusted proxy.
        (2, ATTACKER, ATTACKER),
        (3, f"{ATTACKER}, 192.0.2.10", ATTACKER),
    ],
)
def test_hops(no_trust, hops, forwarded, seen):
    no_trust.PICKY_TRUSTED_PROXY_HOPS = hops
    assert ip_of(forwarded) == seen


@pytest.mark.parametrize(
    "forwarded, remote, seen",
    [
        (f"{ALLOWED}, {ATTACKER}", LOAD_BALANCER, ATTACKER),
        # Every proxy of the chain inside the trusted networks is passed over.
        (f"{ALLOWED}, {ATTACKER}, 10.1.2.3, 172.16.0.9", LOAD_BALANCER, ATTACKER),
        # Only proxies inside them: the client's address is the last one they wrote.
        ("10.9.9.9", LOAD_BALANCER, "10.9.9.9"),
        # A peer outside the trusted networks is the client, whatever it writes.
        (f"{ALLOWED}", ATTACKER, ATTACKER),
        (f"{ALLOWED}, 10.1.2.3", ATTACKER, ATTACKER),
        (f"{ALLOWED}", "::ffff:10.0.0.2", ALLOWED),
        (f"{ALLOWED}", "fd00::1", ALLOWED),
    ],
)
def test_trusted_networks(no_trust, forwarded, remote, seen):
    no_trust.PICKY_TRUSTED_PROXIES = networks("10.0.0.0/8", "172.16.0.0/12", "fd00::/8")
    assert ip_of(forwarded, remote) == seen


def test_hops_and_networks_together(no_trust):
    # A CDN of known networks in front of one load balancer of unknown address.
    no_trust.PICKY_TRUSTED_PROXY_HOPS = 1
    no_trust.PICKY_TRUSTED_PROXIES = networks("192.0.2.0/24")
    assert ip_of(f"{ALLOWED}, {ATTACKER}, 192.0.2.10", remote="100.64.0.1") == ATTACKER


@pytest.mark.parametrize(
    "forwarded, seen",
    [
        ("", LOAD_BALANCER),
        (" ", LOAD_BALANCER),
        (",", LOAD_BALANCER),
        ("not-an-ip", LOAD_BALANCER),
        (f"{ALLOWED}, not-an-ip", LOAD_BALANCER),
        (f"{ALLOWED}, unknown", LOAD_BALANCER),
        (f"{ALLOWED}, 999.1.1.1", LOAD_BALANCER),
        (f"{ALLOWED}, {ATTACKER}:51234", ATTACKER),
        (f"{ALLOWED}, [2001:db8::5]:443", "2001:db8::5"),
        (f"{ALLOWED}, 2001:db8::5", "2001:db8::5"),
        (f"{ALLOWED}, fe80::1%eth0", "fe80::1"),
        (f"{ALLOWED}, ::ffff:{ATTACKER}", ATTACKER),
        (f"{ALLOWED}, {'1' * 5000}", LOAD_BALANCER),
        ("\x00, \ud800", LOAD_BALANCER),
    ],
)
def test_malformed_values_stop_at_the_proxy_that_wrote_them(one_hop, forwarded, seen):
    assert ip_of(forwarded) == seen


def test_a_unix_socket_peer_behind_one_trusted_hop(one_hop):
    assert ip_of(ATTACKER, remote="") == ATTACKER
    assert ip_of("garbage", remote="") is None


# Settings --------------------------------------------------------------------------------


def settings_in_a_fresh_process(**variables):
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.PICKY_TRUSTED_PROXY_HOPS, [str(n) for n in s.PICKY_TRUSTED_PROXIES])"
    )
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "picky.settings",
        "SECRET_KEY": "a-test-key-for-a-fresh-process-0123456789-abcdefghijklmnop",
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, capture_output=True, text=True
    )


def test_the_former_boolean_means_one_hop():
    done = settings_in_a_fresh_process(PICKY_TRUST_X_FORWARDED_FOR="true")
    assert done.stdout.strip() == "1 []"
    done = settings_in_a_fresh_process(
        PICKY_TRUST_X_FORWARDED_FOR="true", PICKY_TRUSTED_PROXY_HOPS="2"
    )
    assert done.stdout.strip() == "2 []"


def test_trusted_networks_are_read_and_checked():
    done = settings_in_a_fresh_process(PICKY_TRUSTED_PROXIES="10.0.0.0/8,192.0.2.7")
    assert done.stdout.strip() == "0 ['10.0.0.0/8', '192.0.2.7/32']"
    done = settings_in_a_fresh_process(PICKY_TRUSTED_PROXIES="10.0.0.0/8,lb.internal")
    assert done.returncode != 0
    assert "PICKY_TRUSTED_PROXIES: 'lb.internal' is not an IP address or a CIDR range" in (
        done.stderr
    )
