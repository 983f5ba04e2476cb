{#-
    The bucket a title's credits, alternative titles and title_names row are partitioned by
    in the lake, as ingest.names.tconst_bucket computes it: numeric part of the tconst modulo
    var('tconst_buckets') (= ingest.names.TCONST_BUCKETS, pinned by tests/unit/test_dbt_vars.py).
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
