"""The modules every project starts with (Leads, Deals, Meetings, Company, Support
Cases), editable like any other. Written with the model classes passed in, so the data
migration that gives them to existing projects runs the same code on its historical
models."""

# (module name, [(key, label, type, options)]); a relation's option names its module.
PREBUILT_MODULES = [
    (
        "Company",
        [
            ("company_name", "Company name", "text", {"required": True}),
            ("website", "Website", "url", {}),
            ("phone", "Phone", "phone", {}),
            ("email", "E-mail", "email", {}),
            (
                "industry",
                "Industry",
                "choice",
                {"choices": ["Retail", "Services", "Manufacturing", "Healthcare", "Other"]},
            ),
            ("employees", "Employees", "number", {}),
            ("address", "Address", "long_text", {}),
        ],
    ),
    (
        "Leads",
        [
            ("first_name", "First name", "text", {}),
            ("last_name", "Last name", "text", {}),
            ("email", "E-mail", "email", {}),
            ("phone", "Phone", "phone", {}),
            ("company", "Company", "text", {}),
            (
                "source",
                "Source",
                "choice",
                {"choices": ["Website", "WhatsApp", "Referral", "Advertisement", "Event", "Other"]},
            ),
            (
                "status",
                "Status",
                "choice",
                {"choices": ["New", "Contacted", "Qualified", "Lost"]},
            ),
            ("notes", "Notes", "long_text", {}),
        ],
    ),
    (
        "Deals",
        [
            ("title", "Title", "text", {"required": True}),
            ("amount", "Amount", "decimal", {}),
            (
                "stage",
                "Stage",
                "choice",
                {"choices": ["Prospecting", "Proposal", "Negotiation", "Won", "Lost"]},
            ),
            ("close_date", "Expected close date", "date", {}),
            ("company", "Company", "relation", {"related_module": "Company"}),
        ],
    ),
    (
        "Meetings",
        [
            ("subject", "Subject", "text", {"required": True}),
            ("starts_at", "Starts at", "datetime", {"required": True}),
            ("ends_at", "Ends at", "datetime", {}),
            ("location", "Location", "text", {}),
            ("attendee_email", "Attendee e-mail", "email", {}),
        ],
    ),
    (
        "Support Cases",
        [
            ("subject", "Subject", "text", {"required": True}),
            ("description", "Description", "long_text", {}),
            (
                "priority",
                "Priority",
                "choice",
                {"choices": ["Low", "Normal", "High", "Urgent"]},
            ),
            (
                "status",
                "Status",
                "choice",
                {"choices": ["Open", "Pending", "Resolved", "Closed"]},
            ),
        ],
    ),
]


def create_prebuilt_modules(project, module_model, field_model):
    """Give `project` the prebuilt modules it lacks (by name)."""
    existing = set(
        module_model.objects.filter(project=project, kind="module").values_list("name", flat=True)
    )
    made = {}
    for name, _fields in PREBUILT_MODULES:
        if name in existing:
            continue
        made[name] = module_model.objects.create(
            project=project, name=name, kind="module", prebuilt=True
        )
    for name, fields in PREBUILT_MODULES:
        if name not in made:
            continue
        related = {
            key: module_model.objects.filter(
                project=project, kind="module", name=options["related_module"]
            ).first()
            for key, _, _, options in fields
            if "related_module" in options
        }
        field_model.objects.bulk_create(
            field_model(
                module=made[name],
                key=key,
                label=label,
                type=type_,
                required=options.get("required", False),
                choices=options.get("choices", []),
                related_module=related.get(key),
                position=position,
            )
            for position, (key, label, type_, options) in enumerate(fields)
        )
