{#-
    Use a folder's `+schema` as the schema name itself (`imdb`, `imdb_staging`), not
    dbt's default `<target schema>_<custom schema>`: SQL clients query `imdb.top_movies`.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
