"""The inbound-mail URL of a connector, /hooks/<token>/mail, for mail providers that POST
inbound mail (connectors/inbound_mail.py reads their forms); authenticated by the
connector's token in the URL, stored as the webhook's events are."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from picky.json_input import JSONInputError, check_storable
from picky.net import client_ip
from picky.request_body import BodyError

from . import services
from .inbound_mail import InboundMailError, provider_payload, rules_for_token, with_fields
from .ingest import IngestError, kept_headers, parse_request
from .views import refuse


@csrf_exempt
@require_POST
def inbound_mail(request, token):
    meta = {"method": "EMAIL", "headers": kept_headers(request), "source_ip": client_ip(request)}
    try:
        payload = provider_payload(parse_request(request), request.FILES)
        payload = with_fields(rules_for_token(token), payload)
        check_storable(payload)
    except InboundMailError as exc:
        problem = IngestError(400, "not_a_mail", exc.message)
        return refuse(request, services.connector_for_ingest(token), meta, problem)
    except (IngestError, JSONInputError, BodyError) as problem:
        return refuse(request, services.connector_for_ingest(token), meta, problem)
    connector, event_id = services.accept_event(token, payload, **meta)
    if event_id is not None:
        return JsonResponse({"status": "accepted", "event": str(event_id)})
    return refuse(request, connector, meta)
