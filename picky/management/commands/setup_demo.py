from django.conf import settings
from django.core.management.base import BaseCommand

from picky.demo import demo_guide, setup_demo


class Command(BaseCommand):
    help = "Create (or keep) the demo project, admin user and connector; print how to try it."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, base_url, **options):
        connector = setup_demo()
        guide = demo_guide(connector, base_url, settings.PUBLIC_BASE_URL)
        self.stdout.write(f"The demo is ready.\n{guide}")
