with source as (
    select * from {{ source('imdb_lookup', 'ingest_checks') }}
),

renamed as (
    select
        ingest_id,
        imdb_file,
        lookup_table,
        key_columns,
        rows_read,
        rows_written,
        rows_rejected,
        null_keys,
        duplicate_keys,
        converted_in
    from source
)

select * from renamed
