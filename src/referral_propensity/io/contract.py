"""The data contract: required and optional columns of each input table."""

from __future__ import annotations

from typing import Literal

Kind = Literal["id", "timestamp", "number", "text", "flag"]

#: table -> column -> kind, for the columns every table must have
REQUIRED: dict[str, dict[str, Kind]] = {
    "transactions": {"customer_id": "id", "timestamp": "timestamp", "amount": "number"},
    "customers": {"customer_id": "id"},
    "engagement": {"customer_id": "id", "timestamp": "timestamp", "event_type": "text"},
    "offers": {"customer_id": "id", "sent_at": "timestamp", "offer_type": "text"},
}

#: table -> column -> kind, for the columns a table may have
OPTIONAL: dict[str, dict[str, Kind]] = {
    "transactions": {
        "order_id": "id",
        "quantity": "number",
        "category": "text",
        "channel": "text",
        "discount": "number",
    },
    "customers": {
        "signup_date": "timestamp",
        "birth_year": "number",
        "age": "number",
        "gender": "text",
        "region": "text",
        "income": "number",
        "income_band": "text",
        "interests": "text",
        "marketing_opt_in": "flag",
    },
    "engagement": {"channel": "text", "campaign_id": "id"},
    "offers": {
        "group": "text",
        "channel": "text",
        "responded_at": "timestamp",
        "referrals": "number",
    },
}

#: tables whose columns outside the contract are kept as attributes
KEEPS_EXTRA_COLUMNS = {"customers"}
