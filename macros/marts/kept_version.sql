{#-
    The version of `this` whose rows were built from `key` (mart_inputs_key), or none: the
    table's latest commit must be the property change that recorded that key. Logs
    `dbt: <mart>: kept from version N` when there is one.
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
    {%- if latest.columns['operation'].values() | list != ['SET TBLPROPERTIES'] -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set version = latest.columns['version'].values()[0] | int -%}
    {%- set message = 'dbt: ' ~ this.identifier ~ ': kept from version ' ~ version -%}
    {{ log(message ~ ' (the same top movies, lookups and code)', info=true) }}
    {{ return(version) }}
{%- endmacro %}
