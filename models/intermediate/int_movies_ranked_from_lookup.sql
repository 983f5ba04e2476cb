-- The ranking computed in one batch from the partitioned title_ratings lookup instead of the
-- stream: the average over every partition, the eligible titles from the partitions at or
-- above min_votes' votes_floor only (pruned when Spark plans the scan). A cross-check of
-- the streamed answer (tests/dbt/marts/assert_top_movies_match_the_lookup_batch.sql).
with average as (
    select avg(num_votes) as average_number_of_votes
    from {{ ref('stg_imdb__title_ratings') }}
),

ratings as (
    select tconst, average_rating, num_votes
    from {{ ref('stg_imdb__title_ratings') }}
    where
        votes_floor >= {{ votes_floor_of(var('min_votes')) }}
        and num_votes >= {{ var('min_votes') }}
),

titles as (
    select tconst, title_type
    from {{ ref('stg_imdb__title_basics') }}
),

eligible as (
    select ratings.*
    from ratings
    inner join titles on ratings.tconst = titles.tconst
    where titles.title_type in ({{ sql_string_list(var('title_types')) }})
),

ranked as (
    select
        eligible.tconst,
        eligible.average_rating,
        eligible.num_votes,
        {{ ranking_score(
            'eligible.num_votes', 'eligible.average_rating', 'average.average_number_of_votes'
        ) }} as ranking_score,
        row_number() over (
            order by {{ ranking_order(
                'eligible.num_votes', 'eligible.average_rating', 'eligible.tconst'
            ) }}
        ) as movie_rank
    from eligible
    cross join average
)

select * from ranked
