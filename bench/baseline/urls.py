"""The bare ingest: parse the JSON body, INSERT one jsonb row, answer 200."""

import json

from django.db import connection
from django.http import JsonResponse
from django.urls import path
from django.utils import timezone

from . import TABLE


def bare_ingest(request, token):
    payload = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (payload, received_at) VALUES (%s, %s) RETURNING id",
            [json.dumps(payload), timezone.now()],
        )
        row_id = cursor.fetchone()[0]
    return JsonResponse({"status": "accepted", "event": str(row_id)})


urlpatterns = [path("hooks/<str:token>", bare_ingest)]
