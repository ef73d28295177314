"""The Arrow schemas of batch decisioning: profiles in, decision rows out (README "Batch").

Profiles travel between the source, the workers and Ray as record batches of `PROFILES`, so a
worker receives the same thing whether it came from a Parquet file, a JSONL file or the profile
store. JSON-valued columns stay JSON text until a worker parses them: parsing is the part that
parallelises.
"""

from __future__ import annotations

import pyarrow as pa

PROFILES = pa.schema(
    [
        pa.field("profileId", pa.string()),
        pa.field("identityMap", pa.string()),
        pa.field("attributes", pa.string()),
        pa.field("segmentMembership", pa.string()),
        pa.field("events", pa.string()),
    ]
)
"""Input profiles. Every column is nullable; JSON columns hold JSON text:

- `profileId`: the profile's id (default: `<namespace>:<id>` of its primary identity);
- `identityMap`: `{"email": [{"id": "ada@example.com", "primary": true}]}`;
- `attributes`: the profile's attributes, as rules read them (`profile.<path>`);
- `segmentMembership`: `{"ups": {"<audience id>": {"status": "realized"}}}` (when absent,
  `attributes.segmentMembership` is read);
- `events`: experience events, most recent first (a JSON array).

Parquet input may also give the JSON columns as nested (struct, map or list) columns.
"""

COUNTS = "_counts"
"""Added to input batches by the coordinator when per-profile caps apply: the profile's
non-zero per-profile counters (`{"<counter key>": count}` as JSON text; null: none)."""
PROFILES_WITH_COUNTS = PROFILES.append(pa.field(COUNTS, pa.string()))

JSON_COLUMNS = ("identityMap", "attributes", "segmentMembership", "events")

OFFER = pa.struct(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("rank", pa.int32(), nullable=False),
        pa.field("score", pa.float64()),
        pa.field("content", pa.string()),
    ]
)

DECISIONS = pa.schema(
    [
        pa.field("propositionId", pa.string(), nullable=False),
        pa.field("timestamp", pa.timestamp("ms", tz="UTC"), nullable=False),
        pa.field("profileId", pa.string()),
        pa.field("identityNamespace", pa.string()),
        pa.field("identityId", pa.string()),
        pa.field("scopeIndex", pa.int32(), nullable=False),
        pa.field("activityId", pa.string(), nullable=False),
        pa.field("placementId", pa.string(), nullable=False),
        pa.field("offers", pa.list_(OFFER), nullable=False),
        pa.field("fallbackId", pa.string()),
        pa.field("fallbackContent", pa.string()),
    ]
)
"""Output: one row per profile and scope, in input order then scope order.

`offers` are the proposed offers in rank order (empty when the fallback or nothing was
proposed), each with its id, rank (1-based), score (formula or model; null when ranked by
priority) and, with include-content, its content as JSON text (`@type`, `dc:format`,
`dc:language`, `xdm:content`, `xdm:deliveryURL`: the Decisioning API's option fields).
`fallbackId` is set when no offer qualified and the decision's fallback was proposed.
"""

CAPPED = "_capped"
SUBJECT = "_subject"
WORKER_DECISIONS = DECISIONS.append(pa.field(CAPPED, pa.string())).append(
    pa.field(SUBJECT, pa.string())
)
"""What workers return: the output plus, on the first row of a profile that was proposed an
offer under a total cap, the cap keys it used (JSON) and the profile itself (JSON) so that the
coordinator can charge the caps in input order and decide again where a cap ran out (with the
profile's per-profile counts: `[row, counts]`)."""
