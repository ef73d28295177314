"""Demo profiles that meet the demo library's rules in different ways.

Ada (gold, US) sees the lounge pass and Black Friday; Bruno (silver, France) sees neither;
Chen (gold, Canada) sees the lounge pass only. Event times are relative to the load, so the
profiles keep recent events whatever the date.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from nextoffer.timeutil import format_utc


def _event(now: datetime, hours_ago: float, event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "eventType": event_type,
        "timestamp": format_utc(now - timedelta(hours=hours_ago)),
        **fields,
    }


def demo_profiles(now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "identityMap": {
                "email": [{"id": "ada.lovelace@example.com"}],
                "ecid": [{"id": "10000000000000000000000000000000000001"}],
            },
            "attributes": {
                "person": {"name": {"firstName": "Ada", "lastName": "Lovelace"}},
                "loyalty": {"tier": "gold", "points": 48200},
                "homeAddress": {"countryCode": "US", "city": "Boston"},
            },
            "segmentMembership": {
                "ups": {
                    "frequent-flyers": {"status": "realized"},
                    "newsletter": {"status": "existing"},
                }
            },
            "events": [
                _event(now, 2, "web.webpagedetails.pageViews", web={"url": "/offers/lounge"}),
                _event(now, 30, "commerce.purchases", commerce={"order": {"priceTotal": 320}}),
            ],
        },
        {
            "identityMap": {
                "email": [{"id": "bruno.silva@example.com"}],
                "phone": [{"id": "+33612345678"}],
            },
            "attributes": {
                "person": {"name": {"firstName": "Bruno", "lastName": "Silva"}},
                "loyalty": {"tier": "silver", "points": 5100},
                "homeAddress": {"countryCode": "FR", "city": "Lyon"},
            },
            "segmentMembership": {"ups": {"newsletter": {"status": "realized"}}},
            "events": [_event(now, 5, "web.webpagedetails.pageViews")],
        },
        {
            "identityMap": {"email": [{"id": "chen.wei@example.com"}]},
            "attributes": {
                "person": {"name": {"firstName": "Chen", "lastName": "Wei"}},
                "loyalty": {"tier": "gold", "points": 22000},
                "homeAddress": {"countryCode": "CA", "city": "Toronto"},
            },
            "segmentMembership": {"ups": {"frequent-flyers": {"status": "exited"}}},
        },
    ]
