"""The stream's process function: running count, sum and average of numVotes and the running
top-N, folded one micro-batch at a time. Pure: plain Python in, plain Python out.

State is the current set of titles (latest record wins): a record for a title seen before
replaces its earlier values, a deletion (a title gone from a newer dump) removes it. So the
running average is always the mean numVotes over the current titles, nothing counts twice,
and a refresh that replays only new and changed records ends where a fresh run on the new
file ends.

Ranking: ranking_score = numVotes / averageNumberOfVotes * averageRating. The average is one
positive number at any moment, so the order is the order of numVotes x averageRating (exact:
ratings are kept in tenths), then more numVotes, then the smaller tconst. While records only
add titles, the top-N of everything so far is the top-N of (previous top-N + this batch); a
batch that changes or removes a known title recomputes the top-N from the current titles.

:func:`tenths` turns the feeds' and the tables' ratings (pyarrow decimals) into the whole
tenths the fold keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc


def tenths(ratings: pa.Array) -> pa.Array:
    """averageRating (decimal(3,1)) as whole tenths: ``7.3`` -> ``73`` (int32; nulls stay null)."""
    return pc.cast(pc.multiply(ratings, pa.scalar(10, pa.int32())), pa.int32())


@dataclass(frozen=True)
class Rated:
    """A title as the ranking sees it: its votes and its rating in whole tenths (exact)."""

    tconst: str
    num_votes: int
    rating_tenths: int  # averageRating x 10, exact

    @property
    def average_rating(self) -> Decimal:
        """The rating as IMDb writes it, e.g. ``Decimal("7.3")``."""
        return Decimal(self.rating_tenths) / 10

    def sort_key(self) -> tuple:
        """Ascending order is the ranking: larger numVotes x averageRating first (the order
        of ranking_score, see the module docstring), then more votes, then the smaller tconst."""
        return (-(self.num_votes * self.rating_tenths), -self.num_votes, self.tconst)


@dataclass
class RunningState:
    """Everything the stream knows after its last micro-batch."""

    batches: int = 0  # micro-batches folded so far
    records: int = 0  # feed records folded so far (the stream's offset)
    ratings_processed: int = 0  # current titles
    votes_sum: int = 0
    top: tuple[Rated, ...] = ()
    titles: dict[str, tuple[int, int]] = field(default_factory=dict)  # tconst -> (votes, tenths)

    @property
    def average_number_of_votes(self) -> float | None:
        """The mean numVotes over the current titles; None while there are none."""
        return self.votes_sum / self.ratings_processed if self.ratings_processed else None

    def ranking_score(self, rated: Rated) -> float:
        """numVotes / averageNumberOfVotes * averageRating of ``rated`` over the current
        titles; ZeroDivisionError while their votes sum to 0."""
        return rated.num_votes * self.ratings_processed / self.votes_sum * rated.rating_tenths / 10

    def ranked(self) -> list[dict]:
        """The running top-N, best first, as ``imdb_stream.batches.top`` holds it: rank (from
        1), tconst, num_votes, average_rating (a Decimal) and ranking_score."""
        return [
            {
                "rank": rank,
                "tconst": r.tconst,
                "num_votes": r.num_votes,
                "average_rating": r.average_rating,
                "ranking_score": self.ranking_score(r),
            }
            for rank, r in enumerate(self.top, start=1)
        ]


@dataclass(frozen=True)
class Rules:
    """Who can be ranked: the eligible title ids (chosen title types) and the vote floor."""

    eligible: frozenset[str] | set[str]
    min_votes: int
    top_n: int

    def ranks(self, tconst: str, num_votes: int) -> bool:
        """True if the title can be ranked: at least ``min_votes`` votes and eligible."""
        return num_votes >= self.min_votes and tconst in self.eligible


def top_of(records, top_n: int) -> tuple[Rated, ...]:
    """The best ``top_n`` of ``records`` (one entry per tconst, the best one)."""
    best: dict[str, Rated] = {}
    for r in records:
        if r.tconst not in best or r.sort_key() < best[r.tconst].sort_key():
            best[r.tconst] = r
    return tuple(sorted(best.values(), key=Rated.sort_key)[:top_n])


def fold(state: RunningState, records: list[tuple], rules: Rules) -> tuple[RunningState, list]:
    """Fold one micro-batch into ``state`` (mutated and returned).

    ``records``: (tconst, rating_tenths | None, num_votes | None, is_deleted) in feed order.
    Returns the state and, per record, the votes the title had before it (None if new):
    the ratings log keeps them so a replayed micro-batch computes the same thing.
    """
    titles = state.titles
    previous_votes = []
    candidates = []
    changed_known = False
    for tconst, tenths, votes, is_deleted in records:
        before = titles.get(tconst)
        previous_votes.append(before[0] if before else None)
        if before is not None:
            state.votes_sum -= before[0]
            state.ratings_processed -= 1
            changed_known = changed_known or _in_top(state.top, tconst)
            del titles[tconst]
        if not is_deleted:
            titles[tconst] = (votes, tenths)  # re-inserted: a dict keeps the latest last
            state.votes_sum += votes
            state.ratings_processed += 1
            if rules.ranks(tconst, votes):
                candidates.append(Rated(tconst, votes, tenths))
    if changed_known:
        state.top = top_of(
            (Rated(t, v, r) for t, (v, r) in titles.items() if rules.ranks(t, v)), rules.top_n
        )
    else:
        current = [c for c in candidates if titles.get(c.tconst) == (c.num_votes, c.rating_tenths)]
        state.top = top_of([*state.top, *current], rules.top_n)
    state.batches += 1
    state.records += len(records)
    return state, previous_votes


def _in_top(top: tuple[Rated, ...], tconst: str) -> bool:
    return any(r.tconst == tconst for r in top)
