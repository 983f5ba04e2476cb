-- sqlfluff:indentation:template_blocks_indent:False
-- The different titles of each top movie: primary, original and every aka title, with
-- the regions and languages each is used in.
{%- set kept = kept_mart(
    ref('top_movies'), ref('stg_imdb__ingest_checks'), ['title_akas']
) %}
{{ kept.key_line }}
{%- if kept.version is not none %}
-- The same top movies, lookup and code as published version {{ kept.version }} (macros/marts).
select
    tconst, title, regions, languages, is_primary, is_original,
    '{{ invocation_id }}' as invocation_id
from {{ kept.published }} version as of {{ kept.version }}  -- noqa: AL01,AL05,RF04
{%- else %}
{%- set top_tconsts = kept.top_tconsts %}
with top_movies as (
    select tconst, primary_title, original_title from {{ ref('top_movies') }}
),

akas as (
    select tconst, title, region, language, tconst_bucket
    from {{ ref('stg_imdb__title_akas') }}
    {%- if top_tconsts is not none %}
    where {{ lookup_rows_of(top_tconsts) }}
    {%- endif %}
),

aka_titles as (
    select
        akas.tconst,
        akas.title,
        akas.region,
        akas.language
    from akas
    inner join top_movies
        on
            akas.tconst = top_movies.tconst
            and akas.tconst_bucket = {{ tconst_bucket('top_movies.tconst') }}
),

all_titles as (
    select
        tconst,
        primary_title as title,
        cast(null as string) as region,
        cast(null as string) as language
    from top_movies
    union all
    select tconst, original_title as title, null as region, null as language
    from top_movies
    union all
    select tconst, title, region, language
    from aka_titles
),

grouped as (
    select
        tconst,
        title,
        array_sort(collect_set(region)) as regions,
        array_sort(collect_set(language)) as languages
    from all_titles
    where title is not null
    group by tconst, title
),

final as (
    select
        grouped.tconst,
        grouped.title,
        grouped.regions,
        grouped.languages,
        coalesce(grouped.title = top_movies.primary_title, false) as is_primary,
        coalesce(grouped.title = top_movies.original_title, false) as is_original,
        '{{ invocation_id }}' as invocation_id
    from grouped
    inner join top_movies on grouped.tconst = top_movies.tconst
)

select * from final
{%- endif %}
