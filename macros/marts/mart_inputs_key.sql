{#-
    The md5 of what a kept mart is built from (see kept_mart.sql): the top movies, the ingests
    that converted the lookups it reads, and var('build_fingerprint'). None while dbt parses or
    compiles a unit test, without the var, or when a lookup's converted_in is null.
-#}
{% macro mart_inputs_key(top_movies, ingest_checks, lookup_tables) -%}
    {%- set fingerprint = var('build_fingerprint', none) -%}
    {%- if not execute or fingerprint is none or model.resource_type == 'unit_test' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set top = run_query(
        'select tconst, primary_title, original_title from ' ~ top_movies ~ ' order by tconst'
    ) -%}
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
