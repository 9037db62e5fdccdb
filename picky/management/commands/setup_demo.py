from django.core.management.base import BaseCommand

from picky.demo import DEMO_PASSWORD, DEMO_USERNAME, setup_demo


class Command(BaseCommand):
    help = "Create (or keep) the demo project, admin user and connector; print how to try it."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, base_url, **options):
        connector = setup_demo()
        url = f"{base_url.rstrip('/')}/hooks/{connector.token}"
        sample = (
            '{"name": "Asha Rao", "email": "asha@example.com", "phone": "+91 98470 12345", '
            '"state": "Kerala", "product": "Solar Lamp", "message": "Please call me"}'
        )
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "Picky is running.",
                    f"  Admin:      {base_url.rstrip('/')}/admin/",
                    f"  Login:      {DEMO_USERNAME} / {DEMO_PASSWORD}",
                    f"  Connector:  {url}",
                    "  Try it:",
                    f"    curl -X POST {url} -H 'Content-Type: application/json' -d '{sample}'",
                    "",
                ]
            )
        )
