import json

from django.core.management.base import BaseCommand, CommandError

from connectors.models import Connector
from connectors.transfer import export_connector
from picky.models import Project


class Command(BaseCommand):
    help = "Export a connector as picky.connector/v1 JSON (to stdout or a file)."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project slug")
        parser.add_argument("--name", required=True, help="connector name")
        parser.add_argument("--output", help="write to this file instead of stdout")

    def handle(self, project, name, output, **options):
        found = Project.objects.filter(slug=project).first()
        if found is None:
            raise CommandError(f"No project with slug {project!r}.")
        connector = Connector.objects.filter(project=found, name=name).first()
        if connector is None:
            raise CommandError(f"Project {project!r} has no connector named {name!r}.")
        text = json.dumps(export_connector(connector), indent=2, ensure_ascii=False) + "\n"
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            with open(output, "w", encoding="utf-8") as file:
                file.write(text)
        except OSError as exc:
            raise CommandError(f"Cannot write {output}: {exc.strerror}.") from exc
        self.stderr.write(f"Exported {connector.name!r} to {output}.")
