"""Events are now marked processed when their run is created (in the run's transaction),
not when it ends: an event whose run waits at a delay was left queued, and the stuck
sweep re-published it every lease period. Mark those processed too."""

from django.db import migrations

HAND_EVENTS_WITH_RUNS = """
UPDATE connectors_event SET status = 'processed'
WHERE status = 'queued' AND id IN (SELECT event_id FROM connectors_run)
"""


class Migration(migrations.Migration):
    dependencies = [("connectors", "0005_connector_sample_signature")]

    operations = [migrations.RunSQL(HAND_EVENTS_WITH_RUNS, migrations.RunSQL.noop)]
