-- The top var('top_n') movies by ranking_score, with their titles and the people known
-- for them.
with ranked as (
    select
        tconst,
        primary_title,
        original_title,
        start_year,
        average_rating,
        num_votes,
        ranking_score,
        movie_rank
    from {{ ref('int_movies_ranked') }}
    where movie_rank <= {{ var('top_n') }}
),

title_names as (
    select tconst, known_for, tconst_bucket
    from {{ ref('stg_imdb__title_names') }}
),

known_for_named as (
    select
        ranked.tconst,
        array_sort(
            transform(
                filter(title_names.known_for, person -> person.primary_name is not null),
                person -> person.primary_name
            )
        ) as known_for_names
    from ranked
    inner join title_names
        on
            ranked.tconst = title_names.tconst
            and title_names.tconst_bucket = {{ tconst_bucket('ranked.tconst') }}
),

final as (
    select
        ranked.movie_rank as rank,
        ranked.tconst,
        ranked.primary_title,
        ranked.original_title,
        ranked.start_year,
        ranked.average_rating,
        ranked.num_votes,
        ranked.ranking_score,
        coalesce(known_for_named.known_for_names, array()) as known_for_names,
        '{{ invocation_id }}' as invocation_id
    from ranked
    left join known_for_named on ranked.tconst = known_for_named.tconst
)

select * from final
