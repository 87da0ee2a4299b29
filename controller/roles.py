"""Who may do what, and where: the staff's roles and the controller's check of each request.

A district keeps one staff file (`--staff-file`, YAML) and gives the same file to every school's
controller; each controller checks a request that changes something against the role its user
holds in the controller's own site. The broker's ACL is the first lock (docs/security.md); this
is the second, so a mistake in one does not hand a school to the wrong people.

```yaml
alice: {role: operator, sites: [north]}
bob:   {role: operator, sites: all}
```
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

from campus.config import SITE_ID
from campus.problems import ConfigError, Position, Problem
from campus.yamlmodel import Decoder, Located, compose

ALL = "all"
"""``sites: all``: the role holds in every site of the district."""


class Role(IntEnum):
    """What a member of staff may do in a site; each role may also do what those below may."""

    VIEWER = 1
    """Reads: explain, trends, events (who may read at all is the broker's ACL's to say)."""
    OPERATOR = 2
    """Overrides and releases actuators, acknowledges alarms."""
    AUTHOR = 3
    """Enables and disables rules and reloads them: everything."""

    @property
    def a(self) -> str:
        """``a viewer``, ``an operator``, ``an author``."""
        word = self.name.lower()
        return f"an {word}" if word[0] in "aeiou" else f"a {word}"

    @property
    def or_above(self) -> str:
        """Who holds this role or a higher one, in words: ``an operator or an author``."""
        return " or ".join(role.a for role in Role if role >= self)


@dataclass(frozen=True, slots=True)
class Grant:
    """One member's role, in the sites it names (None: every site of the district)."""

    role: Role
    sites: tuple[str, ...] | None

    def covers(self, site: str) -> bool:
        return self.sites is None or site in self.sites

    @property
    def where(self) -> str:
        """``north``, ``north and east``, ``every site``."""
        if self.sites is None:
            return "every site"
        if len(self.sites) == 1:
            return self.sites[0]
        return f"{', '.join(self.sites[:-1])} and {self.sites[-1]}"


@dataclass(frozen=True)
class Staff:
    """The members of staff the controller knows, by the user name their requests state."""

    grants: Mapping[str, Grant]
    source: str
    """Where the list came from, for refusals: ``staff file`` or ``--staff list``."""

    @classmethod
    def authors(cls, users: Iterable[str]) -> Staff:
        """``campusctl run --staff alice,bob``: authors of the controller's site."""
        return cls({user: Grant(Role.AUTHOR, None) for user in users}, "--staff list")

    def anyone_may_change(self, site: str) -> bool:
        """Whether anyone holds a role above viewer in `site`."""
        return any(g.covers(site) and g.role > Role.VIEWER for g in self.grants.values())

    def refusal(self, user: str, site: str, action: str, needs: Role) -> str | None:
        """Why `user` may not do `action` (needing `needs`) in `site`, or None if they may."""
        user = user.strip()
        grant = self.grants.get(user)
        if grant is None:
            return f"{user} has no role in this controller's {self.source} and may not {action}"
        if not grant.covers(site):
            return (
                f"{user} is {grant.role.a} of {grant.where}, not of {site}, "
                f"and may not {action} here"
            )
        if grant.role < needs:
            return (
                f"{user} is {grant.role.a} of {grant.where} and may not {action}: "
                f"that takes {needs.or_above} of {site}"
            )
        return None


@dataclass(frozen=True)
class MemberSection:
    """A member of staff: one role, in the sites named or in every site of the district."""

    role: Literal["viewer", "operator", "author"] = field(
        metadata={
            "doc": "viewer: reads; operator: also overrides, releases, acknowledges; "
            "author: also enables, disables and reloads rules"
        }
    )
    sites: Located[Any] = field(
        metadata={"doc": "where the role holds: a site id, a list of them, or all"}
    )
    pos: Position | None = None


def load_staff_file(path: Path) -> Staff:
    """The staff file at `path`; ConfigError with every problem (FILE:LINE:COL) found."""
    node, problems = compose(path)
    if node is None:
        raise ConfigError(problems)
    decoder = Decoder(str(path))
    members = decoder.decode(node, dict[str, MemberSection], "")
    problems = list(decoder.problems)
    grants: dict[str, Grant] = {}
    if isinstance(members, dict):
        for user, member in members.items():
            sites = _sites(user, member.sites, problems)
            if not user.strip():
                problems.append(Problem(member.pos or member.sites.pos, "a user name is empty"))
            grants[user.strip()] = Grant(Role[member.role.upper()], sites)
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.pos.line, p.pos.col)))
    return Staff(grants, "staff file")


def _sites(user: str, raw: Located[Any], problems: list[Problem]) -> tuple[str, ...] | None:
    """``all`` -> None; ``north`` or ``[north, south]`` -> the ids, each checked."""
    value = raw.value
    if value == ALL:
        return None
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int):
            problems.append(
                Problem(raw.pos, f"{user}.sites must be a site id, a list of them, or all")
            )
            return ()
        site = str(item)
        if site == ALL:
            problems.append(Problem(raw.pos, f"{user}.sites: write 'sites: all' on its own"))
        elif not SITE_ID.fullmatch(site):
            problems.append(
                Problem(
                    raw.pos,
                    f"{user}.sites: {site!r} is not a site id (lower-case letters, digits and -, "
                    "as site.id in campus.yaml)",
                )
            )
        elif site not in ids:
            ids.append(site)
    if not items:
        problems.append(Problem(raw.pos, f"{user}.sites is empty: name the sites, or write all"))
    return tuple(ids)
