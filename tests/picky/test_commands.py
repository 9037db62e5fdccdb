from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from picky.api_auth import ApiTokenAuthentication
from picky.models import ApiToken, Membership, Project, hash_api_token


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def owner(db):
    return get_user_model().objects.create_user("asha", password="pw-asha-123")


@pytest.mark.django_db
class TestCreateProject:
    def test_creates_the_project_with_its_owner(self, owner):
        output = run(
            "createproject", "shop", "--name", "Shop", "--owner", "asha", "--time-zone",
            "Asia/Kolkata",
        )  # fmt: skip
        project = Project.objects.get(slug="shop")
        assert (project.name, project.time_zone) == ("Shop", "Asia/Kolkata")
        membership = Membership.objects.get(project=project)
        assert (membership.user, membership.role) == (owner, Membership.Role.OWNER)
        assert "Created project shop (Shop), owner asha." in output

    def test_the_owner_can_sign_in_to_the_admin(self, owner, client):
        run("createproject", "shop", "--name", "Shop", "--owner", "asha")
        owner.refresh_from_db()
        assert owner.is_staff
        client.force_login(owner)
        assert client.get("/admin/connectors/connector/").status_code == 200

    def test_duplicate_slug(self, owner):
        run("createproject", "shop", "--name", "Shop", "--owner", "asha")
        with pytest.raises(CommandError, match="A project with slug 'shop' exists already"):
            run("createproject", "shop", "--name", "Other", "--owner", "asha")
        assert Project.objects.count() == 1

    def test_unknown_owner_creates_nothing(self, db):
        with pytest.raises(CommandError, match="No user named 'nobody'"):
            run("createproject", "shop", "--name", "Shop", "--owner", "nobody")
        assert not Project.objects.exists()

    def test_unknown_time_zone(self, owner):
        with pytest.raises(CommandError, match="time_zone: Unknown time zone 'Mars/Olympus'"):
            run(
                "createproject", "shop", "--name", "Shop", "--owner", "asha", "--time-zone",
                "Mars/Olympus",
            )  # fmt: skip
        assert not Project.objects.exists()

    @pytest.mark.parametrize("slug", ["Not a slug", "shop!", ""])
    def test_invalid_slug(self, owner, slug):
        with pytest.raises(CommandError, match="slug: "):
            run("createproject", slug, "--name", "Shop", "--owner", "asha")
        assert not Project.objects.exists()

    def test_blank_name(self, owner):
        with pytest.raises(CommandError, match="name: This field cannot be blank"):
            run("createproject", "shop", "--name", "  ", "--owner", "asha")


@pytest.mark.django_db
class TestCreateApiToken:
    def test_prints_the_token_once_and_stores_its_hash(self, project, rf):
        output = run("create_api_token", "--project", "acme", "--name", "CRM sync")
        raw = output.strip()
        token = ApiToken.objects.get()
        assert raw.startswith(ApiToken.PREFIX)
        assert token.token_hash == hash_api_token(raw)
        assert raw not in (token.token_hash, token.token_prefix)
        assert (token.project, token.name, token.allowed_ip) == (project, "CRM sync", None)
        # The printed token authenticates API calls for that project.
        request = rf.get("/api/v1/project", HTTP_AUTHORIZATION=f"Bearer {raw}")
        user, _ = ApiTokenAuthentication().authenticate(request)
        assert user.project == project

    def test_tokens_are_unique_and_long(self, project):
        raws = {run("create_api_token", "--project", "acme", "--name", f"t{i}") for i in range(5)}
        assert len(raws) == 5
        assert all(len(raw.strip()) >= len(ApiToken.PREFIX) + 43 for raw in raws)

    def test_bound_to_an_ip(self, project):
        run("create_api_token", "--project", "acme", "--name", "Office", "--ip", "203.0.113.7")
        assert ApiToken.objects.get().allowed_ip == "203.0.113.7"

    def test_invalid_ip(self, project):
        with pytest.raises(CommandError, match="'203.0.113' is not an IP address"):
            run("create_api_token", "--project", "acme", "--name", "Office", "--ip", "203.0.113")
        assert not ApiToken.objects.exists()

    def test_unknown_project(self, db):
        with pytest.raises(CommandError, match="No project with slug 'nope'"):
            run("create_api_token", "--project", "nope", "--name", "x")

    def test_blank_name(self, project):
        with pytest.raises(CommandError, match="name: This field cannot be blank"):
            run("create_api_token", "--project", "acme", "--name", " ")
        assert not ApiToken.objects.exists()

    def test_name_too_long(self, project):
        with pytest.raises(CommandError, match="name: Ensure this value has at most 100"):
            run("create_api_token", "--project", "acme", "--name", "x" * 101)
        assert not ApiToken.objects.exists()
