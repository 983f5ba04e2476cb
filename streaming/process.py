"""The stream's process function: running count, sum and average of numVotes, running top-N.

Two halves, both pure:
- ``summarise_batch`` (DataFrames in, DataFrames out): one micro-batch's count and sum of
  numVotes over every record, and its best ``top_n`` eligible records;
- ``advance`` (plain Python): folds that summary into the running state.

Ranking: ranking_score = numVotes / averageNumberOfVotes * averageRating. The average is one
positive number at any moment, so the order is the order of numVotes x averageRating, an
exact decimal here (averageRating is DECIMAL(3,1)); ties go to more numVotes, then the
smaller tconst. The running top-N therefore never needs re-sorting when the average moves:
the top-N of all records so far is the top-N of (previous top-N + this batch's top-N).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True)
class Rated:
    tconst: str
    num_votes: int
    average_rating: Decimal

    @property
    def weight(self) -> Decimal:  # numVotes x averageRating, exact
        return self.num_votes * self.average_rating

    def sort_key(self) -> tuple:
        return (-self.weight, -self.num_votes, self.tconst)


@dataclass(frozen=True)
class RunningState:
    batches: int = 0
    ratings_processed: int = 0
    votes_sum: int = 0
    top: tuple[Rated, ...] = field(default_factory=tuple)

    @property
    def average_number_of_votes(self) -> float | None:
        if not self.ratings_processed:
            return None
        return self.votes_sum / self.ratings_processed

    def ranking_score(self, rated: Rated) -> float:
        return float(Decimal(rated.num_votes) * self.ratings_processed / self.votes_sum
                     * rated.average_rating)

    def ranked(self) -> list[dict]:
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


def top_of(records, top_n: int) -> tuple[Rated, ...]:
    """The best ``top_n`` records by the ranking order (a tconst appears once)."""
    best: dict[str, Rated] = {}
    for r in records:
        if r.tconst not in best or r.sort_key() < best[r.tconst].sort_key():
            best[r.tconst] = r
    return tuple(sorted(best.values(), key=Rated.sort_key)[:top_n])


def advance(
    state: RunningState, count: int, votes_sum: int, candidates, top_n: int
) -> RunningState:
    """Fold one micro-batch's totals and top candidates into the running state."""
    return replace(
        state,
        batches=state.batches + 1,
        ratings_processed=state.ratings_processed + count,
        votes_sum=state.votes_sum + votes_sum,
        top=top_of([*state.top, *candidates], top_n),
    )


def ranking_order():
    """The ranking order as Spark sort expressions (the Python twin is Rated.sort_key)."""
    weight = F.col("num_votes").cast("decimal(12,0)") * F.col("average_rating")
    return [weight.desc(), F.col("num_votes").desc(), F.col("tconst").asc()]


def summarise_batch(
    batch: DataFrame, eligible: DataFrame, min_votes: int, top_n: int
) -> tuple[DataFrame, DataFrame]:
    """(totals, candidates) of one micro-batch.

    totals: one row (records, votes_sum) over every record, eligible or not.
    candidates: the batch's best ``top_n`` records among eligible titles (``eligible`` holds
    the tconsts of the chosen title types) with numVotes >= ``min_votes``.
    """
    totals = batch.agg(
        F.count(F.lit(1)).alias("records"),
        F.coalesce(F.sum("num_votes"), F.lit(0)).cast("bigint").alias("votes_sum"),
    )
    candidates = (
        batch.where(F.col("num_votes") >= min_votes)
        .join(F.broadcast(eligible), "tconst", "left_semi")
        .orderBy(*ranking_order())
        .limit(top_n)
        .select("tconst", "num_votes", "average_rating")
    )
    return totals, candidates
