"""A REST API client holding a real API token of a project."""

from rest_framework.test import APIClient

from picky.models import ApiToken


def api_client(project, allowed_ip=None, remote_addr="127.0.0.1"):
    _, raw = ApiToken.issue(project, "tests", allowed_ip=allowed_ip)
    client = APIClient(REMOTE_ADDR=remote_addr)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client
