import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_records"),
        ("teambox", "0008_message_latest_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="macro_button",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="crm.macrobutton",
            ),
        ),
    ]
