-- One row describing the answer in the other marts: the stream it came from and the
-- ranking parameters.
with streams as (
    select * from {{ ref('int_streams_summarised') }}
),

final as (
    select
        stream_id,
        ingest_id,
        ratings_processed,
        average_number_of_votes,
        batches,
        records_per_batch,
        feed_rows,
        is_complete,
        last_batch_at,
        {{ var('min_votes') }} as min_votes,
        {{ var('top_n') }} as top_n,
        array({{ sql_string_list(var('title_types') | sort) }}) as title_types
    from streams
)

select * from final
