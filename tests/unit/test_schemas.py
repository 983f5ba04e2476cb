"""ingest.schemas, the registry every reader takes the IMDb files from: the seven files with
their exact headers, unique snake_case names, a key first, documented column kinds that have
an Arrow type, and which tables an ingest reads (``tables_to_ingest``, its one-line errors)."""

from __future__ import annotations

import re

import pytest

from ingest.schemas import (
    ALL_FILES,
    BY_NAME,
    DEFAULT_OPTIONAL,
    NULL,
    OPTIONAL_NAMES,
    TITLE_AKAS,
    TYPES,
    tables_to_ingest,
)

REQUIRED = ("title.basics", "title.ratings", "title.principals", "name.basics")
KINDS = {"string", "int", "bool", "rating", "list", "list02"}  # the module docstring's list
# the first line of each file as IMDb publishes it (developer.imdb.com/non-commercial-datasets)
IMDB_HEADERS = {
    "title.basics": "tconst\ttitleType\tprimaryTitle\toriginalTitle\tisAdult\tstartYear\t"
    "endYear\truntimeMinutes\tgenres",
    "title.ratings": "tconst\taverageRating\tnumVotes",
    "title.principals": "tconst\tordering\tnconst\tcategory\tjob\tcharacters",
    "name.basics": "nconst\tprimaryName\tbirthYear\tdeathYear\tprimaryProfession\tknownForTitles",
    "title.akas": "titleId\tordering\ttitle\tregion\tlanguage\ttypes\tattributes\tisOriginalTitle",
    "title.crew": "tconst\tdirectors\twriters",
    "title.episode": "tconst\tparentTconst\tseasonNumber\tepisodeNumber",
}
SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


def test_the_registry_holds_the_seven_files_once_with_their_lake_tables():
    assert [(f.name, f.table, f.required) for f in ALL_FILES] == [
        ("title.basics", "title_basics", True),
        ("title.ratings", "title_ratings", True),
        ("title.principals", "title_principals", True),
        ("name.basics", "name_basics", True),
        ("title.akas", "title_akas", False),
        ("title.crew", "title_crew", False),
        ("title.episode", "title_episode", False),
    ]
    assert len(BY_NAME) == 7 and all(BY_NAME[f.name] is f for f in ALL_FILES)
    assert OPTIONAL_NAMES == ("title.akas", "title.crew", "title.episode")
    assert set(DEFAULT_OPTIONAL) <= set(OPTIONAL_NAMES)
    assert NULL == "\\N" and len(NULL) == 2  # backslash, N


def test_headers_are_the_imdb_files_own_and_the_key_comes_first():
    assert {f.name: "\t".join(f.header) for f in ALL_FILES} == IMDB_HEADERS
    assert TITLE_AKAS.columns[0].name == "tconst"  # titleId is a tconst in the lake
    assert {f.name: f.key for f in ALL_FILES} == {
        **{f.name: "tconst" for f in ALL_FILES},
        "name.basics": "nconst",
    }


@pytest.mark.parametrize("spec", ALL_FILES, ids=lambda f: f.name)
def test_every_file_has_unique_snake_case_columns_of_a_documented_kind(spec):
    assert spec.header and len(spec.header) == len(set(spec.header))
    names = [c.name for c in spec.columns]
    assert len(names) == len(set(names)) and all(SNAKE.match(n) for n in names), names
    assert {c.kind for c in spec.columns} <= KINDS
    assert all(c.kind in TYPES for c in spec.columns)  # one Arrow and one SQL type each


def test_an_ingest_reads_the_required_files_and_title_akas_by_default():
    default = (*REQUIRED, "title.akas")
    assert tables_to_ingest() == default
    assert tables_to_ingest("") == default
    assert tables_to_ingest(" , ,") == default
    assert tables_to_ingest([]) == default
    assert tables_to_ingest("title.akas") == default


def test_optional_tables_by_imdb_or_lake_name_come_back_in_registry_order():
    assert tables_to_ingest("title_episode, title.crew") == (
        *REQUIRED,
        "title.akas",
        "title.crew",
        "title.episode",
    )
    assert tables_to_ingest(["title.episode", " title.episode "]) == (
        *REQUIRED,
        "title.akas",
        "title.episode",
    )
    assert tables_to_ingest(iter(["title_crew"])) == (*REQUIRED, "title.akas", "title.crew")
    assert tables_to_ingest("all") == tuple(f.name for f in ALL_FILES)


@pytest.mark.parametrize(
    ("asked", "item", "what"),
    [
        ("title.ratings", "title.ratings", "is required, always ingested"),
        ("title.crew,title_basics", "title_basics", "is required, always ingested"),
        (["title.plots"], "title.plots", "is no IMDb table"),
    ],
)
def test_a_name_that_is_no_optional_table_is_one_line_error(asked, item, what):
    with pytest.raises(ValueError) as error:
        tables_to_ingest(asked)
    assert str(error.value) == (
        f"{item} {what}: name optional tables among title.akas, title.crew, title.episode (or all)"
    )
