{#-
    The md5 of what a kept mart is built from (see kept_mart.sql): the top movies (the rows
    kept_mart read: tconst, primary_title, original_title by tconst), the ingests that
    converted the lookups it reads, and var('build_fingerprint'). None without those rows
    (dbt parses or compiles a unit test), without the var, or when a lookup's converted_in
    is null.
-#}
{% macro mart_inputs_key(top, ingest_checks, lookup_tables) -%}
    {%- set fingerprint = var('build_fingerprint', none) -%}
    {%- if top is none or fingerprint is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set converted = run_query(
        'select lookup_table, converted_in from ' ~ ingest_checks
        ~ ' where lookup_table in (' ~ sql_string_list(lookup_tables) ~ ') order by lookup_table'
    ) -%}
    {%- set found = converted.columns['converted_in'].values() | reject('none') | list -%}
    {%- if found | length != lookup_tables | length -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set parts = [fingerprint] -%}
    {%- for row in top.rows -%}
        {%- do parts.append(row | join('\t')) -%}
    {%- endfor -%}
    {%- for row in converted.rows -%}
        {%- do parts.append(row | join('=')) -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join('\n'))) }}
{%- endmacro %}
