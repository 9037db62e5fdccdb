from django.core.management.base import BaseCommand

from picky.schedules import ensure_system_schedules


class Command(BaseCommand):
    help = "Create or update the system's celery-beat schedules (sweeps, alert mail, pruning)."

    def handle(self, **options):
        count = ensure_system_schedules()
        self.stdout.write(f"{count} system schedules are in place.")
