# Copyright 2026 queue_job_sh contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""queue_job's channels: names, configuration and tree (no Odoo import).

Channel semantics are those of queue_job's ``ChannelManager``
(``queue_job/jobrunner/channels.py``): capacity, sequential, throttle,
paused, and the defaults of unconfigured subchannels. They are evaluated from
the database at every claim (``claim.py``) instead of from an in-memory copy,
so they hold across every thread and process that claims jobs.
"""

import dataclasses

ROOT = "root"

# A job's ``channel`` column, as queue_job stores it: a complete name
# (``root.mail``), a name below the root (``mail``) or nothing (the root).
# The same rule as complete_name(), in SQL, for the views that group jobs.
COMPLETE_NAME_SQL = """CASE WHEN {column} IS NULL OR {column} = 'root' THEN 'root'
            WHEN starts_with({column}, 'root.') THEN {column}
            ELSE 'root.' || {column} END"""


def complete_name(channel):
    """Full dotted name of a job's channel, as queue_job resolves it."""
    if not channel or channel == ROOT:
        return ROOT
    if not channel.startswith(ROOT + "."):
        return ROOT + "." + channel
    return channel


def stored_names(name):
    """The values a job's ``channel`` column may hold for the channel
    ``name`` (a complete name): the complete name, and below the root the
    name without ``root.``."""
    if name == ROOT:
        return [ROOT]
    return [name, name[len(ROOT) + 1 :]]


@dataclasses.dataclass(frozen=True)
class ChannelConfig:
    """Configuration of one channel, with queue_job's meaning of each key.

    ``capacity`` 0 or None means unlimited (bounded by the parents);
    ``capacity_default`` and ``sequential_default`` apply to unconfigured
    direct subchannels.
    """

    name: str
    capacity: int | None = None
    sequential: bool = False
    throttle: int = 0
    paused: bool = False
    capacity_default: int | None = None
    sequential_default: bool = False


class Channels:
    """The channel tree built from a list of :class:`ChannelConfig`.

    ``root_capacity`` is the capacity of the root channel after queue_job's
    server-wide limits (``max_capacity`` / ``db_max_capacity``); 0 pauses
    everything, like queue_job does for a database set at 0. Raises
    ``ValueError`` for a configuration queue_job refuses.
    """

    def __init__(self, configs, root_capacity):
        self._configs = {complete_name(c.name): c for c in configs}
        root = self._configs.get(ROOT, ChannelConfig(ROOT))
        self._configs[ROOT] = dataclasses.replace(
            root,
            name=ROOT,
            capacity=root_capacity or None,
            paused=root.paused or not root_capacity,
        )
        for config in self._configs.values():
            if config.sequential and config.capacity != 1:
                raise ValueError(
                    f"Channel {config.name}: a sequential channel must have "
                    "a capacity of 1"
                )
        self._chains = {}

    @property
    def root_capacity(self):
        """Jobs that may run at once in the database (0 when paused)."""
        root = self._configs[ROOT]
        return 0 if root.paused else root.capacity

    def chain(self, job_channel):
        """The channels a job of ``job_channel`` counts in, root first.

        Unconfigured channels take their capacity and sequential mode from
        their parent's ``capacity_default`` / ``sequential_default``.
        """
        name = complete_name(job_channel)
        if name not in self._chains:
            parts = name.split(".")
            chain = [self._configs[ROOT]]
            for depth in range(2, len(parts) + 1):
                sub_name = ".".join(parts[:depth])
                config = self._configs.get(sub_name)
                if config is None:
                    parent = chain[-1]
                    config = ChannelConfig(
                        sub_name,
                        capacity=parent.capacity_default or None,
                        sequential=parent.sequential_default,
                    )
                chain.append(config)
            self._chains[name] = tuple(chain)
        return self._chains[name]

    def capacity(self, job_channel):
        """Jobs of ``job_channel`` that may run at once: the smallest
        capacity up its chain (0: unlimited)."""
        return min(
            (c.capacity for c in self.chain(job_channel) if c.capacity), default=0
        )

    def paused(self, job_channel):
        """Whether ``job_channel`` or one of its parents is paused."""
        return any(c.paused for c in self.chain(job_channel))


def from_option(items):
    """The channels of queue_job's ``channels`` option, parsed by queue_job's
    ``ChannelManager.parse_simple_config`` into ``items`` (dicts). The root
    channel has a capacity of 1 unless configured, as in queue_job."""
    configs = [
        ChannelConfig(
            name=item["name"],
            capacity=int(item.get("capacity") or 0),
            sequential=bool(item.get("sequential")),
            throttle=int(item.get("throttle") or 0),
            paused=bool(item.get("paused")),
            capacity_default=int(item.get("capacity_default") or 0),
            sequential_default=bool(item.get("sequential_default")),
        )
        for item in items
    ]
    root = next((c for c in configs if complete_name(c.name) == ROOT), None)
    return Channels(configs, root.capacity if root else 1)


def from_records(rows, db_max_capacity):
    """The channels kept in ``queue.job.channel`` records (queue_job 18.0),
    ``rows`` of (complete_name, capacity, sequential, throttle, paused,
    capacity_default, sequential_default); the root capacity is bounded by
    the server's ``db_max_capacity`` for this database."""
    configs = [ChannelConfig(*row) for row in rows]
    root = next((c for c in configs if c.name == ROOT), None)
    if root and root.capacity:
        return Channels(configs, min(root.capacity, db_max_capacity))
    return Channels(configs, db_max_capacity)
