from django.db import migrations, models

from picky.paths import paths_signature


def sign_existing_samples(apps, schema_editor):
    Connector = apps.get_model("connectors", "Connector")
    for connector in Connector.objects.filter(sample_payload__isnull=False).only("mapped_paths"):
        connector.sample_signature = paths_signature(connector.mapped_paths or [])
        connector.save(update_fields=["sample_signature"])


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0004_run_delay_done_step"),
    ]

    operations = [
        migrations.AddField(
            model_name="connector",
            name="sample_signature",
            field=models.CharField(
                blank=True, editable=False, help_text="Digest of the sample's paths.", max_length=64
            ),
        ),
        migrations.RunPython(sign_existing_samples, migrations.RunPython.noop),
    ]
