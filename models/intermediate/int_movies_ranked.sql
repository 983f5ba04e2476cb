-- Every eligible title (a chosen title type, at least min_votes votes) with its titles, its
-- ranking_score and its rank: the exact order of the ranking_order macro.
with ratings as (
    select tconst, average_rating, num_votes
    from {{ ref('int_ratings_streamed') }}
),

streams as (
    select average_number_of_votes from {{ ref('int_streams_summarised') }}
),

titles as (
    select tconst, title_type, primary_title, original_title, start_year
    from {{ ref('stg_imdb__title_basics') }}
),

eligible as (
    select
        ratings.tconst,
        titles.primary_title,
        titles.original_title,
        titles.start_year,
        ratings.average_rating,
        ratings.num_votes
    from ratings
    inner join titles on ratings.tconst = titles.tconst
    where
        titles.title_type in ({{ sql_string_list(var('title_types')) }})
        and ratings.num_votes >= {{ var('min_votes') }}
),

scored as (
    select
        eligible.*,
        streams.average_number_of_votes,
        {{ ranking_score(
            'eligible.num_votes', 'eligible.average_rating', 'streams.average_number_of_votes'
        ) }} as ranking_score
    from eligible
    cross join streams
),

ranked as (
    select
        *,
        row_number() over (
            order by {{ ranking_order('num_votes', 'average_rating', 'tconst') }}
        ) as movie_rank
    from scored
)

select * from ranked
