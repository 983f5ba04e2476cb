{#-
    The version of `published` (the mart's copy in var('answer_schema'), a Delta table) whose
    rows were built from `key` (mart_inputs_key), or none: the table's latest commit must be the
    publish hook's CREATE TABLE AS SELECT that recorded that key with its rows
    (publish_answer.sql); any later commit, or a copy published without the key, is computed
    again. Logs `dbt: <mart>: kept from version N` when there is one.
-#}
{% macro kept_version(published, key) -%}
    {%- if key is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set existing = adapter.get_relation(
        published.database, published.schema, published.identifier
    ) -%}
    {%- if existing is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set recorded = run_query('show tblproperties ' ~ published ~ " ('imdb.inputs_key')") -%}
    {%- if recorded.columns['value'].values() | list != [key] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set latest = run_query('describe history ' ~ published ~ ' limit 1') -%}
    {%- set table_as_select = [
        'CREATE TABLE AS SELECT', 'CREATE OR REPLACE TABLE AS SELECT', 'REPLACE TABLE AS SELECT'
    ] -%}
    {%- if latest.columns['operation'].values() | list | reject('in', table_as_select) | list
          or latest.rows | length != 1 -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set version = latest.columns['version'].values()[0] | int -%}
    {%- set message = 'dbt: ' ~ this.identifier ~ ': kept from version ' ~ version -%}
    {{ log(message ~ ' (the same top movies, lookups and code)', info=true) }}
    {{ return(version) }}
{%- endmacro %}
