{#-
    The inputs key a kept mart's compiled SQL carries on its `-- inputs_key: <key>` line
    (kept_mart.sql): 32 hex digits, 'none' (no key: dbt typed by hand), or none for SQL without
    the line (every other model).
-#}
{% macro inputs_key_of(compiled_code) -%}
    {%- set found = modules.re.search(
        '^-- inputs_key: ([0-9a-f]{32}|none)$', compiled_code or '', modules.re.M
    ) -%}
    {{ return(found.group(1) if found else none) }}
{%- endmacro %}
