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

OPTIONAL_NAMES = tuple(f.name for f in ALL_FILES if not f.required)
DEFAULT_OPTIONAL = ("title.akas",)  # the marts use it; title.crew and title.episode they do not


def tables_to_ingest(with_tables=None) -> tuple[str, ...]:
    """The IMDb names an ingest reads: the four required ones, title.akas, and ``with_tables``.

    ``with_tables``: optional tables to ingest as well, an iterable of IMDb names or one
    comma-separated string (``"title.crew,title.episode"``, ``"all"``, ``""``); the lake names
    (``title_crew``) are accepted too. Returns names in ``ALL_FILES`` order. Raises
    ``ValueError`` (one line) for a name that is no optional IMDb table.
    """
    if with_tables is None:
        asked: list[str] = []
    elif isinstance(with_tables, str):
        asked = [t.strip() for t in with_tables.split(",") if t.strip()]
    else:
        asked = [str(t).strip() for t in with_tables if str(t).strip()]
    chosen = set(DEFAULT_OPTIONAL)
    by_table = {f.table: f.name for f in ALL_FILES}
    for item in asked:
        if item == "all":
            chosen.update(OPTIONAL_NAMES)
            continue
        name = by_table.get(item, item)
        if name not in OPTIONAL_NAMES:
            what = "is required, always ingested" if name in BY_NAME else "is no IMDb table"
            raise ValueError(
                f"{item} {what}: name optional tables among {', '.join(OPTIONAL_NAMES)} (or all)"
            )
        chosen.add(name)
    return tuple(f.name for f in ALL_FILES if f.required or f.name in chosen)
