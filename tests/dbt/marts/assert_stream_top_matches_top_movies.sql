-- The stream's own running top-N after its last micro-batch names the same movies, in the
-- same order, as the top_movies mart, whenever both used the same parameters: two
-- implementations of the ranking (Python in the stream, SQL in dbt) must agree.
with summary as (
    select stream_id, min_votes, top_n, title_types from {{ ref('run_summary') }}
),

last_batch as (
    select batches.stream_id, batches.top
    from {{ ref('stg_imdb__stream_batches') }} as batches
    inner join summary
        on
            batches.stream_id = summary.stream_id
            and batches.min_votes = summary.min_votes
            and batches.top_n = summary.top_n
            and batches.title_types = summary.title_types
    where batches.batches = (
        select max(stream_batches.batches)
        from {{ ref('stg_imdb__stream_batches') }} as stream_batches
        where stream_batches.stream_id = summary.stream_id
    )
),

stream_top as (
    select entry.rank, entry.tconst
    from last_batch
        lateral view explode(last_batch.top) as entry
),

dbt_top as (
    select rank, tconst from {{ ref('top_movies') }}
    where exists (select 1 from last_batch)
),

final as (
    select
        coalesce(stream_top.rank, dbt_top.rank) as rank,
        stream_top.tconst as stream_tconst,
        dbt_top.tconst as dbt_tconst
    from stream_top
    full outer join dbt_top on stream_top.rank = dbt_top.rank
    where stream_top.tconst is null or dbt_top.tconst is null or stream_top.tconst != dbt_top.tconst
)

select * from final
