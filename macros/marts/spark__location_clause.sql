{#-
    dbt-spark's spark__location_clause (the `location '...'` of a model's CREATE TABLE AS
    SELECT), overridden for the marts built as plain Parquet in the candidate schema
    (dbt_project.yml): they are written at an explicit location, <the schema's location>/<the
    model's name>, the folder Spark would give them as managed tables. A CREATE TABLE AS SELECT
    cut short (a kill) leaves its folder without a table; a managed table's next CREATE then
    stops with LOCATION_ALREADY_EXISTS until someone deletes the folder, while at an explicit
    location, with spark.sql.legacy.allowNonEmptyLocationInCTAS (the marts' pre-hook), it
    overwrites the folder. Any other node gets dbt-spark's clause unchanged (the model's
    `location_root` config).
-#}
{% macro spark__location_clause() -%}
    {%- set location_root = config.get('location_root') -%}
    {%- set identifier = model['alias'] -%}
    {%- if location_root is none and execute and model.resource_type == 'model'
          and config.get('file_format') == 'parquet' and config.get('materialized') == 'table' -%}
        {%- set schema_info = run_query('describe schema ' ~ this.schema) -%}
        {%- set locations = [] -%}
        {%- for row in schema_info.rows if row['info_name'] == 'Location' -%}
            {%- do locations.append(row['info_value'].rstrip('/')) -%}
        {%- endfor -%}
        {%- set location_root = locations | first -%}
    {%- endif -%}
    {{ ("location '" ~ location_root ~ "/" ~ identifier ~ "'") if location_root else '' }}
{%- endmacro %}
