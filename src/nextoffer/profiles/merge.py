"""Identity-merge rules (pure): which profile a write lands on, and what it changes.

A write names identities; the profile owning any of them is the one it replaces, two owners are
a 409, identities the old profile had and the new body lacks are released, and events are kept
within the window.

Claims: an anonymous Edge call's identities are claims, not proof. Such a call never attaches
an identity to an existing profile (its events go to the profile an identity already leads
to); only when none does is a new profile made, holding the identities as claims. A write by
the tenant (or a verified identity) that names a claimed identity takes it over: the identity
leaves the claiming profile (which keeps its events and other identities, and goes when it has
none left) or, on the same profile, becomes firm. So anonymous traffic can never make the
tenant's own writes fail with 409, nor slip its events into the tenant's profiles.

A `MergePlan` holds the profiles one write touches — as stored and as they
will be — and who owns each identity looked at; the store feeds it the rows it read and writes
the `ProfileChange`s it plans. No I/O, no clock: the store passes the time in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from nextoffer.errors import Conflict, FieldError, InvalidInput, NotFound, PreconditionFailed
from nextoffer.profiles.documents import Identity, ProfileData, namespace_key, parse_profile
from nextoffer.profiles.events import newest_first, within
from nextoffer.profiles.model import Profile


class ExpectedEtag(Protocol):
    """What a write's `If-Match` named (`records.etags.ETagCondition` is one)."""

    @property
    def header(self) -> str: ...

    def matches(self, etag: int) -> bool: ...


def identity_keys(identities: Iterable[tuple[str, str]]) -> list[Identity]:
    """Identities as stored (namespaces lower-case), duplicates dropped, order kept."""
    return list(dict.fromkeys((namespace_key(ns), value) for ns, value in identities))


def describe(key: Identity) -> str:
    return f"{key[0]}:{key[1]}"


def no_profile(key: tuple[str, str]) -> NotFound:
    return NotFound.at(  # type: ignore[return-value]
        f"no profile has the identity {describe(key)} in this sandbox",
        parameter="identity",
        code="no-profile",
    )


def with_identity(data: ProfileData, key: tuple[str, str]) -> ProfileData:
    """`data` owning `key` too (the identity in a PUT's path)."""
    ns, value = identity_keys([key])[0]
    ids = data.identities.get(ns, ())
    if value in ids:
        return data
    return ProfileData(
        {**data.identities, ns: (*ids, value)}, data.attributes, data.segments, data.events
    )


def at_line(exc: InvalidInput | Conflict, line: int) -> InvalidInput | Conflict:
    """A bulk load's error, naming the line (1-based) that caused it."""
    errors = tuple(
        FieldError(e.message, e.pointer, e.parameter, e.code, {**(e.details or {}), "line": line})
        for e in exc.errors
    )
    return type(exc)(
        f"line {line}: {exc.detail}", code=exc.code, errors=errors, extra={"line": line}
    )


@dataclass(frozen=True, slots=True)
class ProfileChange:
    """One profile's difference between its stored and its planned state (None: absent)."""

    profile_id: str
    old: Profile | None
    new: Profile | None

    def identities_removed(self) -> set[Identity]:
        return self._ids(self.old) - self._ids(self.new)

    def identities_added(self) -> set[Identity]:
        return self._ids(self.new) - self._ids(self.old)

    def segments_added(self) -> dict[str, str]:
        old = self.old.segments if self.old else {}
        return {a: s for a, s in (self.new.segments if self.new else {}).items() if a not in old}

    def segments_changed(self) -> dict[str, str]:
        old = self.old.segments if self.old else {}
        new = self.new.segments if self.new else {}
        return {a: s for a, s in new.items() if a in old and old[a] != s}

    def segments_removed(self) -> list[str]:
        new = self.new.segments if self.new else {}
        return [a for a in (self.old.segments if self.old else {}) if a not in new]

    @staticmethod
    def _ids(profile: Profile | None) -> set[Identity]:
        return set(profile.identity_pairs()) if profile else set()


class MergePlan:
    """The profiles one write transaction touches: their stored and their final states.

    `owner` maps every identity looked at to the profile that holds it firmly, as of now
    (after the writes planned so far), and `claimed_by` each claimed one to the profile that
    claims it; `stored` holds each touched profile as it is in the store (None: new), `final`
    as it will be (None: deleted). `changes` lists the differences, `promoted` the claims that
    became firm on the profile that held them.
    """

    def __init__(
        self,
        *,
        stamp: str,
        oldest: str,
        max_events: int,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.stamp = stamp
        """The write's time, in the stored spelling (created/modified)."""
        self.oldest = oldest
        """Events older than this are dropped."""
        self.max_events = max_events
        self.new_id = new_id
        self.owner: dict[Identity, str] = {}
        self.claimed_by: dict[Identity, str] = {}
        self.promoted: dict[Identity, str] = {}
        self._looked_up: set[Identity] = set()
        self.stored: dict[str, Profile | None] = {}
        self.final: dict[str, Profile | None] = {}

    # -- what the store reads for the plan ------------------------------------------------------

    def unknown(self, keys: Iterable[Identity]) -> list[Identity]:
        """Those of `keys` whose owner the plan has not looked up yet (now marked looked up)."""
        wanted = [k for k in dict.fromkeys(keys) if k not in self._looked_up]
        self._looked_up.update(wanted)
        return wanted

    def learn_owners(
        self, owners: Mapping[Identity, str], claims: Iterable[Identity] = ()
    ) -> list[str]:
        """Record who owns what as stored (`claims`: those of `owners` held as claims); the
        profile ids whose rows the plan still needs."""
        claimed = set(claims)
        for k, pid in owners.items():
            if k in claimed:
                self.claimed_by.setdefault(k, pid)
            else:
                self.owner.setdefault(k, pid)
        return list({pid for pid in owners.values() if pid not in self.stored})

    def holder(self, key: Identity) -> str | None:
        """The profile holding `key`, firmly or as a claim."""
        return self.owner.get(key) or self.claimed_by.get(key)

    def is_claim(self, key: Identity, pid: str) -> bool:
        """Whether profile `pid` holds `key` as a claim (after the planned writes)."""
        return self.claimed_by.get(key) == pid

    def learn_profile(self, profile: Profile) -> None:
        """A touched profile as stored (events included, untrimmed)."""
        self.stored[profile.profile_id] = self.final[profile.profile_id] = profile

    # -- rules ----------------------------------------------------------------------------------

    def check_etag(self, pid: str | None, expected_etag: ExpectedEtag | None) -> None:
        if expected_etag is None:
            return
        current = self.final.get(pid) if pid else None
        if current is None or not expected_etag.matches(current.etag):
            have = f"the current etag {current.etag}" if current else "no profile"
            raise PreconditionFailed.at(
                f"If-Match {expected_etag.header} does not match {have}", parameter="If-Match"
            )

    def upsert(
        self,
        data: ProfileData,
        *,
        expected_etag: ExpectedEtag | None = None,
        target: str | None = None,
        claimed: Iterable[Identity] = (),
    ) -> tuple[str, bool]:
        """Plan the profile owning `data`'s identities to become `data`: (its id, created?).

        `target` is the profile the write addresses besides its identities (a path's key);
        the owners of `data`'s identities must have been looked up (`unknown`/`learn_*`).
        `claimed` are those of `data`'s identities the profile holds as claims; every other
        one is held firmly, taken over from whichever profile claimed it.
        """
        keys = data.identity_pairs()
        claims = set(claimed)
        owners = {k: self.owner[k] for k in keys if k in self.owner}
        pids = list(dict.fromkeys(([target] if target else []) + list(owners.values())))
        if len(pids) > 1:
            mine = pids[0]
            raise Conflict.many(
                "identities of this profile belong to another profile",
                [
                    FieldError(
                        f"the identity {describe(k)} belongs to profile {pid}",
                        pointer=f"/identityMap/{k[0]}",
                        code="identity-conflict",
                    )
                    for k, pid in owners.items()
                    if pid != mine
                ],
                code="identity-conflict",
            )
        pid = pids[0] if pids else None
        self.check_etag(pid, expected_etag)
        for k in keys:
            holder = self.claimed_by.get(k)
            if holder is not None and k not in claims:
                if holder == pid:
                    self.promoted[k] = pid
                else:
                    self._release(k, holder)
                self.claimed_by.pop(k, None)
        old = self.final.get(pid) if pid else None
        created = old is None
        if pid is None:
            pid = self.new_id()
            self.stored[pid] = None
        elif pid not in self.stored:  # pragma: no cover - the store loads every owner
            raise AssertionError(pid)
        events = tuple(within(newest_first(data.events), self.oldest, self.max_events))
        profile = Profile(
            pid,
            data.identities,
            data.attributes,
            data.segments,
            events,
            1 if old is None else old.etag + 1,
            self.stamp if old is None else old.created,
            self.stamp,
        )
        if old is not None:
            for k in old.identity_pairs():
                if self.owner.get(k) == pid:
                    del self.owner[k]
                if self.claimed_by.get(k) == pid and k not in claims:
                    del self.claimed_by[k]
        for k in keys:
            if k in claims:
                self.claimed_by[k] = pid
            else:
                self.owner[k] = pid
            self._looked_up.add(k)
        self.final[pid] = profile
        return pid, created

    def _release(self, key: Identity, pid: str) -> None:
        """Profile `pid` gives up its claim `key` (and goes when no identity is left)."""
        profile = self.final.get(pid)
        if profile is None:  # pragma: no cover - the store loads every claimant
            raise AssertionError(pid)
        identities = {
            ns: tuple(v for v in ids if (ns, v) != key) for ns, ids in profile.identities.items()
        }
        identities = {ns: ids for ns, ids in identities.items() if ids}
        if not identities:
            self.remove(pid)
            return
        self.final[pid] = Profile(
            pid,
            identities,
            profile.attributes,
            profile.segments,
            profile.events,
            profile.etag + 1,
            profile.created,
            self.stamp,
        )

    def stitch(
        self, keys: list[Identity], events: Iterable[Mapping[str, Any]], *, create: bool
    ) -> tuple[str, bool]:
        """Add `events` to the profile owning any of `keys`, which also takes those of `keys`
        nobody owns (or only claims); without an owner, a new profile with `keys` (unless not
        `create`: 404). A trusted write: `keys` are held firmly."""
        pid = next((self.owner[k] for k in keys if k in self.owner), None)
        if pid is None and not create:
            raise no_profile(keys[0])
        attach = [k for k in keys if self.owner.get(k, pid) == pid]
        kept_claims = [k for k in self._claims_of(pid) if k not in keys]
        return self._add_events(pid, attach, events, kept_claims)

    def stitch_anonymous(
        self,
        verified: list[Identity],
        claims: list[Identity],
        events: Iterable[Mapping[str, Any]],
        *,
        create: bool,
    ) -> tuple[str, bool]:
        """An anonymous call's events: to the profile any of its identities leads to (firm or
        claimed; `verified` ones first), attaching only `verified` identities nobody holds
        firmly; without one, a new profile holding `verified` firmly and `claims` as claims."""
        keys = [*verified, *(k for k in claims if k not in verified)]
        pid = next((h for h in map(self._holder_for_anonymous(verified), keys) if h), None)
        if pid is None and not create:
            raise no_profile(keys[0])
        if pid is None:
            return self._add_events(None, keys, events, [k for k in keys if k not in verified])
        attach = [k for k in verified if self.owner.get(k, pid) == pid]
        kept_claims = [k for k in self._claims_of(pid) if k not in verified]
        return self._add_events(pid, attach, events, kept_claims)

    def _holder_for_anonymous(self, verified: list[Identity]) -> Callable[[Identity], str | None]:
        """Where an anonymous call's identity leads: a verified one only to a firm holder (a
        claim of it is taken over), any other to its holder, firm or claimed."""
        return lambda k: self.owner.get(k) if k in verified else self.holder(k)

    def _claims_of(self, pid: str | None) -> list[Identity]:
        profile = self.final.get(pid) if pid else None
        return [k for k in profile.identity_pairs() if self.is_claim(k, pid)] if profile else []

    def _add_events(
        self,
        pid: str | None,
        attach: list[Identity],
        events: Iterable[Mapping[str, Any]],
        claimed: list[Identity],
    ) -> tuple[str, bool]:
        """Profile `pid` (None: a new one) with `attach` among its identities and `events`
        among its events; `claimed` are the identities it holds as claims afterwards."""
        current = self.final.get(pid) if pid else None
        identities_now: dict[str, list[str]] = {}
        for ns, value in current.identity_pairs() if current else ():
            identities_now.setdefault(ns, []).append(value)
        for k in attach:
            if k[1] not in identities_now.get(k[0], []):
                identities_now.setdefault(k[0], []).append(k[1])
        data = ProfileData(
            {ns: tuple(ids) for ns, ids in identities_now.items()},
            dict(current.attributes) if current else {},
            dict(current.segments) if current else {},
            tuple(newest_first([*events, *(current.events if current else ())])),
        )
        return self.upsert(data, target=pid, claimed=claimed)

    def remove(self, pid: str) -> None:
        old = self.final.get(pid)
        if old is not None:
            for k in old.identity_pairs():
                if self.owner.get(k) == pid:
                    del self.owner[k]
                if self.claimed_by.get(k) == pid:
                    del self.claimed_by[k]
        self.final[pid] = None

    def final_profile(self, pid: str) -> Profile:
        profile = self.final[pid]
        assert profile is not None
        return profile

    def changes(self) -> Iterator[ProfileChange]:
        """Every profile whose final state differs from its stored one."""
        for pid, new in self.final.items():
            old = self.stored.get(pid)
            if new is not old:
                yield ProfileChange(pid, old, new)


@dataclass(frozen=True, slots=True)
class Written:
    """A write's outcome: the profile as stored, and whether the write created it."""

    profile: Profile
    created: bool


@dataclass(frozen=True, slots=True)
class BulkResult:
    created: int
    replaced: int

    @property
    def total(self) -> int:
        return self.created + self.replaced

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "replaced": self.replaced, "total": self.total}


def data_of(item: Any, line: int) -> ProfileData:
    """A bulk load's item as a profile body (a 400 naming its line when it is none)."""
    if isinstance(item, ProfileData):
        return item
    try:
        return parse_profile(item)
    except InvalidInput as exc:
        raise at_line(exc, line) from None
