-- One row describing the answer in the other marts: the stream it came from, the ranking
-- parameters, and the build that made it (each mart of the answer carries the same
-- invocation_id).
with streams as (
    select * from {{ ref('int_streams_summarised') }}
),

ratings_checks as (
    select ingest_id, duplicate_keys
    from {{ ref('stg_imdb__ingest_checks') }}
    where lookup_table = 'title_ratings'
),

final as (
    select
        streams.stream_id,
        streams.ingest_id,
        streams.ratings_processed,
        ratings_checks.duplicate_keys,
        streams.average_number_of_votes,
        streams.batches,
        streams.records_per_batch,
        streams.feed_rows,
        streams.is_complete,
        streams.last_batch_at,
        {{ var('min_votes') }} as min_votes,
        {{ var('top_n') }} as top_n,
        array({{ sql_string_list(var('title_types') | sort) }}) as title_types,
        '{{ invocation_id }}' as invocation_id,
        current_timestamp() as built_at
    from streams
    left join ratings_checks on streams.ingest_id = ratings_checks.ingest_id
)

select * from final
