from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_ipv46_address

from picky.models import ApiToken, Project

from .createproject import validation_message


class Command(BaseCommand):
    help = "Issue an API token for a project. The token is printed once; only a hash is kept."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--ip", default=None, help="only accept the token from this address")

    def handle(self, project, name, ip, **options):
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"No project with slug {project!r}.")
        if ip:
            try:
                validate_ipv46_address(ip)
            except ValidationError as exc:
                raise CommandError(f"{ip!r} is not an IP address.") from exc
        name = name.strip()
        try:
            ApiToken(project=found, name=name, allowed_ip=ip or None).full_clean(
                exclude=["token_hash", "token_prefix"]
            )
        except ValidationError as exc:
            raise CommandError(validation_message(exc)) from exc
        _, raw = ApiToken.issue(found, name, allowed_ip=ip)
        self.stdout.write(raw)
