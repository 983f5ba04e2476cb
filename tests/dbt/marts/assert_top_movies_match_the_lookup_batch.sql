-- The streamed answer (top_movies) names the same movies, in the same order, with the same
-- votes, rating and score as the batch ranking over the partitioned title_ratings lookup,
-- whenever the stream has processed every record of the lookup's ingest (a stream still
-- behind, or of another ingest, is allowed to differ).
with summary as (
    select ingest_id from {{ ref('run_summary') }}
    where is_complete
),

lookup_ingest as (
    select ingest_id from {{ ref('stg_imdb__ingest_checks') }}
    where lookup_table = 'title_ratings'
),

comparable as (
    select summary.ingest_id
    from summary
    inner join lookup_ingest on summary.ingest_id = lookup_ingest.ingest_id
),

batch_top as (
    select movie_rank as rank, tconst, num_votes, average_rating, ranking_score
    from {{ ref('int_movies_ranked_from_lookup') }}
    where movie_rank <= {{ var('top_n') }} and exists (select 1 from comparable)
),

streamed_top as (
    select rank, tconst, num_votes, average_rating, ranking_score
    from {{ ref('top_movies') }}
    where exists (select 1 from comparable)
),

final as (
    select
        coalesce(streamed_top.rank, batch_top.rank) as rank,
        streamed_top.tconst as streamed_tconst,
        batch_top.tconst as batch_tconst,
        streamed_top.ranking_score as streamed_score,
        batch_top.ranking_score as batch_score
    from streamed_top
    full outer join batch_top on streamed_top.rank = batch_top.rank
    where
        streamed_top.tconst is null
        or batch_top.tconst is null
        or streamed_top.tconst != batch_top.tconst
        or streamed_top.num_votes != batch_top.num_votes
        or streamed_top.average_rating != batch_top.average_rating
        or abs(streamed_top.ranking_score - batch_top.ranking_score)
        > 1e-9 * abs(batch_top.ranking_score)
)

select * from final
