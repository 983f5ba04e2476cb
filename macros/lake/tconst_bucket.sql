{#-
    The bucket a title's credits and alternative titles are partitioned by in the lake
    (ingest.names.tconst_bucket): numeric part of the tconst modulo var('tconst_buckets').
    Joining on it as well as on tconst lets Spark prune the partitions it does not need.
-#}
{% macro tconst_bucket(tconst) -%}
    {{ return(adapter.dispatch('tconst_bucket')(tconst)) }}
{%- endmacro %}

{% macro default__tconst_bucket(tconst) -%}
    cast(mod(cast(substring({{ tconst }}, 3) as bigint), {{ var('tconst_buckets') }}) as int)
{%- endmacro %}

{% macro spark__tconst_bucket(tconst) -%}
    cast(pmod(cast(substr({{ tconst }}, 3) as bigint), {{ var('tconst_buckets') }}) as int)
{%- endmacro %}
