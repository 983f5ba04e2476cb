{#-
    The version of `this` whose rows were built from `key` (mart_inputs_key), or none: the
    table's latest commit must be a CREATE TABLE AS SELECT that recorded that key with its
    rows (spark__tblproperties_clause.sql); any later commit, or a table written without the
    key, is computed again. Logs `dbt: <mart>: kept from version N` when there is one.
-#}
{% macro kept_version(key) -%}
    {%- if key is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if adapter.get_relation(this.database, this.schema, this.identifier) is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set recorded = run_query('show tblproperties ' ~ this ~ " ('imdb.inputs_key')") -%}
    {%- if recorded.columns['value'].values() | list != [key] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set latest = run_query('describe history ' ~ this ~ ' limit 1') -%}
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
