"""The IMDb dataset files: their exact headers, column types and lake table names.

One source of truth for every reader in the project: the converter, the generator, the
stream source and the tests' second engine all take the expected headers from here.

Column types (``kind``):
  string  text, ``\\N`` -> null
  int     whole number (years, counts, orderings)
  bool    ``0``/``1``
  rating  averageRating, one decimal (1.0-10.0): kept exact as DECIMAL(3,1)
  list    comma-separated list -> array<string>
  list02  ``\\x02``-separated list (title.akas types/attributes) -> array<string>
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    imdb_name: str  # as in the file header
    name: str  # snake_case name in the lake and in SQL
    kind: str


@dataclass(frozen=True)
class ImdbFile:
    name: str  # e.g. "title.ratings"
    table: str  # lake/metastore table name, e.g. "title_ratings"
    columns: tuple[Column, ...]
    required: bool

    @property
    def header(self) -> list[str]:
        return [c.imdb_name for c in self.columns]

    @property
    def key(self) -> str:
        return self.columns[0].name


def _cols(*spec: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*s) for s in spec)


TITLE_BASICS = ImdbFile(
    "title.basics",
    "title_basics",
    _cols(
        ("tconst", "tconst", "string"),
        ("titleType", "title_type", "string"),
        ("primaryTitle", "primary_title", "string"),
        ("originalTitle", "original_title", "string"),
        ("isAdult", "is_adult", "bool"),
        ("startYear", "start_year", "int"),
        ("endYear", "end_year", "int"),
        ("runtimeMinutes", "runtime_minutes", "int"),
        ("genres", "genres", "list"),
    ),
    required=True,
)
TITLE_RATINGS = ImdbFile(
    "title.ratings",
    "title_ratings",
    _cols(
        ("tconst", "tconst", "string"),
        ("averageRating", "average_rating", "rating"),
        ("numVotes", "num_votes", "int"),
    ),
    required=True,
)
TITLE_PRINCIPALS = ImdbFile(
    "title.principals",
    "title_principals",
    _cols(
        ("tconst", "tconst", "string"),
        ("ordering", "ordering", "int"),
        ("nconst", "nconst", "string"),
        ("category", "category", "string"),
        ("job", "job", "string"),
        ("characters", "characters", "string"),
    ),
    required=True,
)
NAME_BASICS = ImdbFile(
    "name.basics",
    "name_basics",
    _cols(
        ("nconst", "nconst", "string"),
        ("primaryName", "primary_name", "string"),
        ("birthYear", "birth_year", "int"),
        ("deathYear", "death_year", "int"),
        ("primaryProfession", "primary_professions", "list"),
        ("knownForTitles", "known_for_titles", "list"),
    ),
    required=True,
)
TITLE_AKAS = ImdbFile(
    "title.akas",
    "title_akas",
    _cols(
        ("titleId", "tconst", "string"),
        ("ordering", "ordering", "int"),
        ("title", "title", "string"),
        ("region", "region", "string"),
        ("language", "language", "string"),
        ("types", "types", "list02"),
        ("attributes", "attributes", "list02"),
        ("isOriginalTitle", "is_original_title", "bool"),
    ),
    required=False,
)
TITLE_CREW = ImdbFile(
    "title.crew",
    "title_crew",
    _cols(
        ("tconst", "tconst", "string"),
        ("directors", "directors", "list"),
        ("writers", "writers", "list"),
    ),
    required=False,
)
TITLE_EPISODE = ImdbFile(
    "title.episode",
    "title_episode",
    _cols(
        ("tconst", "tconst", "string"),
        ("parentTconst", "parent_tconst", "string"),
        ("seasonNumber", "season_number", "int"),
        ("episodeNumber", "episode_number", "int"),
    ),
    required=False,
)

ALL_FILES: tuple[ImdbFile, ...] = (
    TITLE_BASICS,
    TITLE_RATINGS,
    TITLE_PRINCIPALS,
    NAME_BASICS,
    TITLE_AKAS,
    TITLE_CREW,
    TITLE_EPISODE,
)
BY_NAME = {f.name: f for f in ALL_FILES}

NULL = "\\N"
