"""Signed, retried and logged deliveries to a project's webhooks.

`enqueue` writes a Delivery row (the exact JSON body) and hands it to a worker once the
transaction commits. `deliver` claims it (one worker at a time: the row is taken with
SKIP LOCKED and moved to "sending"), POSTs it through picky.outbound (SSRF guard, timeout,
size cap), logs the attempt and either marks it succeeded or schedules the next try after
RETRY_DELAYS. The beat sweep (`sweep`) hands out due retries and recovers deliveries whose
worker died; no retry waits in the broker. A receiver whose deliveries have all been given
up for PICKY_WEBHOOK_DISABLE_AFTER_HOURS is disabled, and its project's owners and admins
get one e-mail.

Every delivery is signed: `X-Picky-Signature: t=<unix time>,v1=<hex>`, where hex is the
HMAC-SHA256 of "<unix time>.<body>" under the project's webhook secret.
"""

import hashlib
import hmac
import json
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from picky import alerts, outbound
from picky.dispatch import enqueue as publish
from picky.models import Membership

from .models import Delivery, DeliveryAttempt, WebhookSettings

logger = logging.getLogger(__name__)

DELIVER = "webhooks.tasks.deliver"
# The waits before each retry: seven attempts over about 18 hours.
RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
EXCERPT_CHARS = 1000
SWEEP_BATCH = 200
ALERT_SOURCE = "webhooks"
OPEN = [Delivery.Status.PENDING, Delivery.Status.FAILED]

# {delivery kind: [function(delivery, response)]}, called after a delivery succeeds.
SUCCESS_HOOKS = {}


def on_success(kind):
    """Register a function called with (delivery, OutboundResponse) once a delivery of
    `kind` has succeeded (again after a successful Redeliver)."""

    def register(function):
        SUCCESS_HOOKS.setdefault(kind, []).append(function)
        return function

    return register


def settings_of(project):
    return WebhookSettings.objects.filter(project=project).first()


def signature(secret, timestamp, body):
    message = f"{timestamp}.{body}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def enqueue(project, kind, url, payload, *, event=None, message=None):
    """A new Delivery of `payload` to `url` (see enqueue_many); None when the project's
    webhooks are disabled."""
    found = enqueue_many(settings_of(project), kind, [(url, payload, message)], event=event)
    return found[0] if found else None


def enqueue_many(hooks, kind, items, *, event=None):
    """New Deliveries, one per (url, payload, message) of `items`, written in bulk and
    handed to workers once the transaction commits; [] when the webhooks `hooks`
    (WebhookSettings) are disabled."""
    if hooks is None or not hooks.enabled or not items:
        return []
    now = timezone.now()
    created = Delivery.objects.bulk_create(
        [
            Delivery(
                project_id=hooks.project_id,
                kind=kind,
                event=event,
                message=message,
                url=url,
                body=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                next_attempt_at=now,
                handed_out_at=now,
            )
            for url, payload, message in items
        ]
    )
    ids = [delivery.pk for delivery in created]
    transaction.on_commit(lambda: [publish(DELIVER, delivery_id) for delivery_id in ids])
    return created


def deliver(delivery_id):
    """Send one due delivery and log the attempt; the delivery, or None when it was not
    due or another worker holds it."""
    delivery = claim(delivery_id)
    if delivery is None:
        return None
    hooks_settings = settings_of(delivery.project)
    secret = hooks_settings.secret if hooks_settings else ""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-Picky-Event": str(delivery.event or delivery.kind),
        "X-Picky-Delivery": str(delivery.pk),
        "X-Picky-Signature": f"t={timestamp},v1={signature(secret, timestamp, delivery.body)}",
    }
    started = time.monotonic()
    response, error, retryable = None, "", True
    try:
        response = outbound.send(
            "POST",
            delivery.url,
            headers=headers,
            data=delivery.body.encode(),
            timeout=settings.PICKY_WEBHOOK_TIMEOUT_SECONDS,
        )
    except outbound.OutboundError as exc:
        error, retryable = exc.message, exc.retryable
    duration_ms = round((time.monotonic() - started) * 1000)
    record_attempt(delivery, response, error, retryable, duration_ms)
    if delivery.status == Delivery.Status.SUCCEEDED:
        call_success_hooks(delivery, response)
    return delivery


def claim(delivery_id):
    """Move a due delivery to "sending" and count the attempt; None when it is not due,
    finished, or being sent by another worker."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(pk=delivery_id, status__in=OPEN, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        delivery.status = Delivery.Status.SENDING
        delivery.sending_since = now
        delivery.attempts += 1
        delivery.save(update_fields=["status", "sending_since", "attempts", "updated_at"])
    return delivery


def record_attempt(delivery, response, error, retryable, duration_ms):
    """Log the attempt and move the delivery on: succeeded, failed with its next try, or
    given up (which may disable the project's webhooks)."""
    now = timezone.now()
    status_code = response.status if response is not None else None
    if response is not None and not response.ok:
        error = f"The receiver answered {response.status}."
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=status_code,
            duration_ms=duration_ms,
            response_excerpt=response.text[:EXCERPT_CHARS] if response is not None else "",
            error=error,
        )
        if not error:
            status, next_attempt_at = Delivery.Status.SUCCEEDED, None
        elif retryable and delivery.attempts < MAX_ATTEMPTS:
            status = Delivery.Status.FAILED
            next_attempt_at = now + RETRY_DELAYS[delivery.attempts - 1]
        else:
            status, next_attempt_at = Delivery.Status.GIVEN_UP, None
        # Only the attempt that holds the delivery moves it on: one the sweep took for dead
        # and counted already is logged, and changes nothing.
        moved = Delivery.objects.filter(
            pk=delivery.pk, status=Delivery.Status.SENDING, attempts=delivery.attempts
        ).update(
            status=status,
            next_attempt_at=next_attempt_at,
            handed_out_at=None,  # the sweep hands the retry out when it is due
            last_status_code=status_code,
            sending_since=None,
            updated_at=now,
        )
        if not moved:
            return
        delivery.status, delivery.next_attempt_at = status, next_attempt_at
        delivery.last_status_code, delivery.sending_since = status_code, None
        hooks_settings = WebhookSettings.objects.filter(project_id=delivery.project_id)
        if delivery.status == Delivery.Status.SUCCEEDED:
            hooks_settings.filter(failing_since__isnull=False).update(failing_since=None)
        elif delivery.status == Delivery.Status.GIVEN_UP:
            hooks_settings.filter(failing_since__isnull=True).update(failing_since=now)
            disable_if_failing(delivery.project, error, now)


def call_success_hooks(delivery, response):
    for hook in SUCCESS_HOOKS.get(delivery.kind, []):
        try:
            hook(delivery, response)
        except Exception:
            # The receiver has its delivery: a hook's failure is Picky's, logged, not a retry.
            logger.exception("Webhook success hook %s failed for delivery %s", hook, delivery.pk)


def disable_if_failing(project, error, now):
    """Disable the project's webhooks when every delivery has been given up for longer
    than PICKY_WEBHOOK_DISABLE_AFTER_HOURS, and alert its owners and admins once."""
    hours = settings.PICKY_WEBHOOK_DISABLE_AFTER_HOURS
    disabled = WebhookSettings.objects.filter(
        project=project, enabled=True, failing_since__lte=now - timedelta(hours=hours)
    ).update(enabled=False, disabled_at=now)
    if not disabled:
        return
    Delivery.objects.filter(project=project, status__in=OPEN).update(
        status=Delivery.Status.GIVEN_UP, next_attempt_at=None
    )
    recipients = list(
        Membership.objects.filter(
            project=project, role__in=[Membership.Role.OWNER, Membership.Role.ADMIN]
        )
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )
    alerts.reset_mail_timeout(project, ALERT_SOURCE)
    alerts.record_failure(
        project,
        ALERT_SOURCE,
        label="Webhook deliveries",
        error=f"Every delivery to your webhooks has failed for more than {hours} hours, so "
        f"Picky has disabled them. The last error: {error} Fix the receiver, then tick "
        '"Enabled" in Webhooks → Webhook settings, and use "Redeliver" on the deliveries '
        "you need.",
        recipients=recipients,
    )


def redeliver(delivery):
    """Send a delivery again at once, to its kind's URL as now set, with fresh retries;
    False when the project's webhooks are disabled or that URL is empty."""
    hooks_settings = settings_of(delivery.project)
    url = url_of(hooks_settings, delivery.kind)
    if not (hooks_settings and hooks_settings.enabled and url):
        return False
    now = timezone.now()
    updated = Delivery.objects.filter(pk=delivery.pk).exclude(status=Delivery.Status.SENDING)
    if not updated.update(
        url=url,
        status=Delivery.Status.PENDING,
        attempts=0,
        next_attempt_at=now,
        handed_out_at=now,
        updated_at=now,
    ):
        return False
    transaction.on_commit(lambda: publish(DELIVER, delivery.pk))
    return True


def url_of(hooks_settings, kind):
    if hooks_settings is None:
        return ""
    return hooks_settings.event_url if kind == Delivery.Kind.EVENT else hooks_settings.inbound_url


def sweep(now=None):
    """Hand out the due deliveries not handed out within a lease, and count the attempt of
    a worker that died while sending as failed; returns how many were handed out."""
    now = now or timezone.now()
    lease = timedelta(seconds=settings.PICKY_WEBHOOK_LEASE_SECONDS)
    recover_stuck(now - lease)
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status__in=OPEN, next_attempt_at__lte=now)
            .exclude(handed_out_at__gt=now - lease)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        Delivery.objects.filter(pk__in=ids).update(handed_out_at=now)
    for delivery_id in ids:
        publish(DELIVER, delivery_id)
    return len(ids)


def recover_stuck(started_before):
    """Deliveries left "sending" by a worker that died: the attempt counts as failed."""
    with transaction.atomic():
        stuck = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(status=Delivery.Status.SENDING, sending_since__lt=started_before)
            .select_related("project")[:SWEEP_BATCH]
        )
    for delivery in stuck:
        record_attempt(delivery, None, "The worker stopped while sending it.", True, duration_ms=0)
