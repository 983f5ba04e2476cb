{#-
    A lookup's key is never null and never repeated, as the ingest counted while it read every
    row (imdb_lookup.ingest_checks, one row per lookup table of the current ingest). Reads that
    small table instead of scanning the lookup again: at IMDb's full size `unique` over 99M
    credits took minutes. Fails with the counts when a key was null or repeated, or when the
    ingest did not check the table.
-#}
{% test lookup_keys_checked(model, lookup_table) %}
with checks as (
    select lookup_table, imdb_file, key_columns, rows_written, null_keys, duplicate_keys
    from {{ ref('stg_imdb__ingest_checks') }}
    where lookup_table = '{{ lookup_table }}'
),

missing as (
    select
        '{{ lookup_table }}' as lookup_table,
        cast(null as string) as imdb_file,
        cast(null as array<string>) as key_columns,
        cast(null as bigint) as rows_written,
        cast(null as bigint) as null_keys,
        cast(null as bigint) as duplicate_keys
    where not exists (select 1 from checks)
)

select * from checks where null_keys > 0 or duplicate_keys > 0
union all
select * from missing
{% endtest %}
