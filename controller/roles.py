"""Who may do what, and where: the staff's roles and the controller's check of each request.

A district keeps one staff file (`--staff-file`, YAML) and gives the same file to every school's
controller; each controller checks a request that changes something against the role its user
holds in the controller's own site. The broker's ACL is the first lock (docs/security.md,
written from the same file by `campusctl district acl`); this is the second, so a mistake in
one does not hand a school to the wrong people.

```yaml
alice: {role: operator, sites: [north]}
bob:   {role: operator, sites: all}
erin:                                   # one person, a role per place
  - {role: author, sites: [north]}
  - {role: viewer, sites: all}
```

A member holds one grant or a list of them. The role that counts in a site is the highest of
the grants that cover it: a site named by two grants (``all`` included) is not a mistake, since
"viewer everywhere, author at home" is the common case, and the higher role wins there, as it
does in the ACL, where lines only ever add rights.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, Literal

import yaml

from campus.config import SITE_ID
from campus.problems import ConfigError, Position, Problem
from campus.yamlmodel import INVALID, Decoder, Located, compose

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
    """One role, in the sites it names (None: every site of the district)."""

    role: Role
    sites: tuple[str, ...] | None
    pos: Position | None = field(default=None, compare=False)
    """Where the file names the sites (None: not from a file), for problems found later, such
    as a site the district does not have (`campusctl district acl`)."""

    def covers(self, site: str) -> bool:
        return self.sites is None or site in self.sites

    @property
    def where(self) -> str:
        """``north``, ``north and east``, ``every site``."""
        if self.sites is None:
            return "every site"
        return and_list(self.sites)

    @property
    def words(self) -> str:
        """``an operator of north and east``."""
        return f"{self.role.a} of {self.where}"


def and_list(words: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} and {words[-1]}"


def in_words(grants: Sequence[Grant]) -> str:
    """A member's grants: ``an author of north and a viewer of every site``."""
    return and_list([grant.words for grant in grants])


@dataclass(eq=False)
class Staff:
    """The members of staff the controller knows, by the user name their requests state.

    One object per controller, shared by whoever checks requests: a reload (`replace`) swaps
    its members in place, so the control plane checks the next request against the new roles
    without being rebuilt."""

    grants: Mapping[str, tuple[Grant, ...]]
    """User name -> their grants, in the file's order (never empty)."""
    source: str
    """Where the list came from, for refusals: ``staff file`` or ``--staff list``."""
    path: Path | None = None
    """The staff file (None: ``--staff``), read again on each reload (controller.reload)."""

    @classmethod
    def authors(cls, users: Iterable[str]) -> Staff:
        """``campusctl run --staff alice,bob``: authors of the controller's site."""
        return cls({user: (Grant(Role.AUTHOR, None),) for user in users}, "--staff list")

    def role(self, user: str, site: str) -> Role | None:
        """The highest role `user` holds in `site` (None: none there)."""
        best = self._best(self.grants.get(user.strip(), ()), site)
        return None if best is None else best.role

    def anyone_may_change(self, site: str) -> bool:
        """Whether anyone holds a role above viewer in `site`."""
        return any(
            g.covers(site) and g.role > Role.VIEWER
            for grants in self.grants.values()
            for g in grants
        )

    def refusal(self, user: str, site: str, action: str, needs: Role) -> str | None:
        """Why `user` may not do `action` (needing `needs`) in `site`, or None if they may.

        The words name what the user is and where, so whoever reads the refusal knows which
        line of the staff file to change: all their grants when none covers the site, else the
        one that counts there (the highest), and the others in brackets."""
        user = user.strip()
        grants = self.grants.get(user)
        if not grants:
            return f"{user} has no role in this controller's {self.source} and may not {action}"
        best = self._best(grants, site)
        if best is None:
            return f"{user} is {in_words(grants)}, not of {site}, and may not {action} here"
        if best.role >= needs:
            return None
        others = [g for g in grants if g is not best]
        also = f" (and {in_words(others)})" if others else ""
        return (
            f"{user} is {best.words}{also} and may not {action}: "
            f"that takes {needs.or_above} of {site}"
        )

    def replace(self, new: Staff) -> list[str]:
        """Take `new`'s members in place of these (see the class) and say what changed, one
        line per member: ``+ staff carol: a viewer of south``, ``- staff eve``, ``~ staff
        alice: an author of north (was an operator of north)``."""
        old = self.grants
        changes: list[str] = []
        for user, grants in new.grants.items():
            if user not in old:
                changes.append(f"+ staff {user}: {in_words(grants)}")
            elif old[user] != grants:
                changes.append(f"~ staff {user}: {in_words(grants)} (was {in_words(old[user])})")
        changes += [f"- staff {user}" for user in old if user not in new.grants]
        self.grants = new.grants
        return changes

    @staticmethod
    def _best(grants: Iterable[Grant], site: str) -> Grant | None:
        """The grant that counts in `site`: the highest covering it (the first of equals)."""
        best: Grant | None = None
        for grant in grants:
            if grant.covers(site) and (best is None or grant.role > best.role):
                best = grant
        return best


@dataclass(frozen=True)
class MemberSection:
    """One grant of a member of staff: a role, in the sites named or in every site."""

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


EXAMPLE = "user names to their roles, like alice: {role: operator, sites: [north]}"


def load_staff_file(path: Path) -> Staff:
    """The staff file at `path`; ConfigError with every problem (FILE:LINE:COL) found.

    Each member is one grant (``{role: ..., sites: ...}``) or a list of them."""
    node, problems = compose(path)
    if node is None:
        raise ConfigError(problems)
    decoder = Decoder(str(path))
    found: list[Problem] = []
    grants: dict[str, tuple[Grant, ...]] = {}
    if not isinstance(node, yaml.MappingNode):
        found.append(Problem(decoder.pos(node), f"the staff file must map {EXAMPLE}"))
    else:
        for key_node, value_node in decoder.pairs(node):
            user = str(decoder.scalar(key_node))
            if not user.strip():
                found.append(Problem(decoder.pos(key_node), "a user name is empty"))
            member = _member(decoder, user, key_node, value_node, found)
            if member:
                grants[user.strip()] = member
    problems = [*decoder.problems, *found]
    if problems:
        raise ConfigError(sorted(problems, key=lambda p: (p.pos.line, p.pos.col)))
    return Staff(grants, "staff file", path)


def _member(
    decoder: Decoder, user: str, key: yaml.Node, node: yaml.Node, problems: list[Problem]
) -> tuple[Grant, ...]:
    """One member's grants: a single ``{role, sites}`` or a non-empty list of them."""
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        problems.append(
            Problem(
                decoder.pos(key),
                f"{user} has no role: give {{role: ..., sites: ...}}, or a list of them",
            )
        )
        return ()
    if isinstance(node, yaml.SequenceNode):
        if not node.value:
            problems.append(
                Problem(
                    decoder.pos(node),
                    f"{user} has an empty list of roles: give one or more "
                    "{role: ..., sites: ...}, or remove the user",
                )
            )
            return ()
        labelled = [(f"{user}[{i}]", item) for i, item in enumerate(node.value)]
    else:
        labelled = [(user, node)]
    grants: list[Grant] = []
    for what, item in labelled:
        section = decoder.decode(item, MemberSection, what)
        if section is INVALID:
            continue
        sites = _sites(what, section.sites, problems)
        grants.append(Grant(Role[section.role.upper()], sites, section.sites.pos))
    return tuple(grants)


def _sites(what: str, raw: Located[Any], problems: list[Problem]) -> tuple[str, ...] | None:
    """``all`` -> None; ``north`` or ``[north, south]`` -> the ids, each checked."""
    value = raw.value
    if value == ALL:
        return None
    items = value if isinstance(value, list) else [value]
    ids: list[str] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int):
            problems.append(
                Problem(raw.pos, f"{what}.sites must be a site id, a list of them, or all")
            )
            return ()
        site = str(item)
        if site == ALL:
            problems.append(Problem(raw.pos, f"{what}.sites: write 'sites: all' on its own"))
        elif not SITE_ID.fullmatch(site):
            problems.append(
                Problem(
                    raw.pos,
                    f"{what}.sites: {site!r} is not a site id (lower-case letters, digits and -, "
                    "as site.id in campus.yaml)",
                )
            )
        elif site not in ids:
            ids.append(site)
    if not items:
        problems.append(Problem(raw.pos, f"{what}.sites is empty: name the sites, or write all"))
    return tuple(ids)
