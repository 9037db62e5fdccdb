import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "picky.settings")

app = Celery("picky")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(task=None, **kwargs):
    """Keep database connections across tasks as Django keeps them across requests:
    closed when broken or older than CONN_MAX_AGE. (Celery's own handling, turned off
    with CELERY_DB_REUSE_MAX, closes them around every task: one new PostgreSQL
    connection per run, which cost more than the run itself.)"""
    if task is not None and task.request.is_eager:
        # Run in the caller's process, inside its connection (and maybe its transaction).
        return
    from django.db import close_old_connections

    close_old_connections()
