import sys

from django.core.management.base import BaseCommand, CommandError

from connectors.transfer import ConnectorImportError, import_connector
from picky.json_input import JSONInputError, parse_json
from picky.models import Project


class Command(BaseCommand):
    help = (
        "Import a connector from picky.connector/v1 JSON. Prints the new connector's URL; "
        "on invalid JSON, prints every problem with its JSON path."
    )
    # Tests pass `stdin=` to call_command, as Django's createsuperuser does.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument("file", help="the JSON file, or - for stdin")
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--name", help="import under this name instead of the file's")

    def handle(self, file, project, name, **options):
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"No project with slug {project!r}.")
        data = self.read_json(file, options.get("stdin") or sys.stdin)
        try:
            connector = import_connector(found, data, name=name)
        except ConnectorImportError as exc:
            count = len(exc.errors)
            raise CommandError(
                f"{file}: the connector JSON has {count} problem{'s' * (count != 1)}:\n"
                + "\n".join(exc.messages)
            ) from exc
        self.stdout.write(f"Imported {connector.name!r} (id {connector.pk}): {connector.url}")

    def read_json(self, file, stdin):
        try:
            if file == "-":
                text = stdin.read()
            else:
                with open(file, "rb") as handle:
                    text = handle.read()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} is not UTF-8 text (byte {exc.start}).") from exc
        try:
            return parse_json(text)
        except JSONInputError as exc:
            raise CommandError(f"{file}: {exc.message}") from exc
