"""Smart replies: the first enabled rule of a project whose keywords a message matches
answers it on its channel and may tag or categorise the contact."""

import logging

from crm import services as crm
from picky.templating import render
from teambox import services as messaging

from .. import matching
from .models import SmartReply

logger = logging.getLogger(__name__)


def enabled_rules(project_id):
    """The project's enabled rules, in the order they are tried."""
    return list(
        SmartReply.objects.filter(project_id=project_id, enabled=True).order_by("position", "pk")
    )


def rule_for(rules, text):
    """The first of `rules` that `text` matches, or None."""
    return next((rule for rule in rules if matching.matches(text, rule.match, rule.phrases)), None)


def reply_key(message):
    """One smart reply per inbound message, should the message be handed over twice."""
    return f"smart-reply:{message.pk}"


def apply_rule(rule, message, channel):
    """Answer `message` (of a contact, on `channel`) by `rule`: its reply, tags, categories."""
    contact = message.contact
    if rule.tags:
        crm.add_tags(contact, rule.tags)
    if rule.categories:
        crm.add_categories(contact, rule.categories)
    if not rule.reply:
        return None
    text = render(rule.reply, {"contact": crm.contact_as_context(contact)})
    try:
        return messaging.queue_message(
            channel, contact, body=text, idempotency_key=reply_key(message)
        )
    except messaging.MessagingError as exc:
        # A contact who must not be messaged (blacklisted, say) gets no reply.
        logger.info("Smart reply %r not sent to contact %s: %s", rule.name, contact.pk, exc.message)
        return None
