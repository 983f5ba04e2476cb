{#-
    The tconsts of a small relation that is already built (the top movies), to filter a large
    lookup by literals: Spark prunes the tconst_bucket partitions and skips the Parquet row
    groups whose tconst min/max cannot hold them, which a join alone does not do. None while
    dbt parses the project or compiles a unit test (there the join gives the same rows).
-#}
{% macro tconsts_of(relation) -%}
    {%- if not execute or model.resource_type == 'unit_test' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set rows = run_query('select distinct tconst from ' ~ relation ~ ' order by tconst') -%}
    {{ return(rows.columns[0].values() | list) }}
{%- endmacro %}
