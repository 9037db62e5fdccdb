"""A WAHA gateway stand-in on pytest-httpserver that keeps its groups' state and answers
WAHA's wire format (NOWEB engine) as teambox/channels/whatsapp_web.py documents it:
group creation, members (participants/v2), participants add/remove, admin promotion,
settings, and sending. Like
WhatsApp, it refuses a participant beyond GROUP_LIMIT members ("500", the group is full),
one who blocks group invites ("403") and any change to a group it is not admin of ("401")."""

import itertools
import json
import re

from werkzeug import Response

GROUP_LIMIT = 256
GROUPS = re.compile(r"^/api/(?P<session>[^/]+)/groups(?:/(?P<group>[^/]+)(?P<rest>/.*)?)?$")


class WahaGateway:
    def __init__(self, httpserver, api_key="waha-secret-key"):
        self.api_key = api_key
        self.groups = {}
        self.blocked = set()
        self.not_admin = set()
        self.sent = []
        self.ids = itertools.count(1)
        httpserver.expect_request(re.compile(r"^/api/.*")).respond_with_handler(self.handle)

    def add_group(self, subject, numbers=(), **settings):
        gid = f"1203630{next(self.ids):011d}@g.us"
        self.groups[gid] = {
            "subject": subject,
            "participants": set(numbers),
            "admins": set(),
            "description": "",
            "admins_only": False,
            **settings,
        }
        return gid

    def members(self, gid):
        return self.groups[gid]["participants"]

    def handle(self, request):
        if request.headers.get("X-Api-Key") != self.api_key:
            return Response(json.dumps({"message": "Unauthorized"}), status=401)
        body = request.get_json(silent=True) or {}
        if request.path.startswith("/api/send"):
            self.sent.append((request.path.rsplit("/", 1)[-1], body))
            return Response(
                json.dumps({"key": {"id": f"BAE5{next(self.ids):012X}"}}),
                status=201,
                content_type="application/json",
            )
        match = GROUPS.match(request.path)
        if match is None:
            return Response("not found", status=404)
        gid, rest = match.group("group"), match.group("rest") or ""
        if gid is None and request.method == "POST":
            # Like WhatsApp, a group is created without those who refuse invites.
            numbers = [number(p) for p in body["participants"] if number(p) not in self.blocked]
            new = self.add_group(body["name"], numbers)
            return self.json({"id": new, "subject": body["name"]}, status=201)
        group = self.groups.get(gid)
        if group is None:
            return self.json({"statusCode": 404, "message": "group not found"}, status=404)
        numbers = [number(p) for p in body.get("participants", [])]
        if rest == "/participants/v2" and request.method == "GET":
            return self.json(
                [
                    {"id": f"{n}@c.us", "role": "admin" if n in group["admins"] else "participant"}
                    for n in sorted(group["participants"])
                ]
            )
        if rest == "/participants/add":
            return self.json([self.add(gid, n) for n in numbers])
        if rest == "/participants/remove":
            outcomes = []
            for n in numbers:
                code = "401" if gid in self.not_admin else "200"
                if code == "200":
                    group["participants"].discard(n)
                outcomes.append({"status": code, "jid": f"{n}@s.whatsapp.net"})
            return self.json(outcomes)
        if rest == "/admin/promote":
            group["admins"].update(n for n in numbers if n in group["participants"])
            return self.json([{"status": "200", "jid": f"{n}@s.whatsapp.net"} for n in numbers])
        if rest == "/description":
            group["description"] = body["description"]
            return self.json({})
        if rest == "/settings/security/messages-admin-only":
            group["admins_only"] = body["adminsOnly"]
            return self.json({})
        return Response("not found", status=404)

    def add(self, gid, n):
        group = self.groups[gid]
        if gid in self.not_admin:
            code = "401"
        elif n in self.blocked:
            code = "403"
        elif n in group["participants"]:
            code = "409"
        elif len(group["participants"]) >= GROUP_LIMIT:
            code = "500"
        else:
            group["participants"].add(n)
            code = "200"
        return {"status": code, "jid": f"{n}@s.whatsapp.net"}

    @staticmethod
    def json(value, status=200):
        return Response(json.dumps(value), status=status, content_type="application/json")


def number(participant):
    return participant["id"].split("@")[0]
