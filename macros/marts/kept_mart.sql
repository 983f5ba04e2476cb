{#-
    Keeping a mart on a refresh. top_movie_credits and top_movie_titles read, of the large
    lookups, only the rows of the top movies, and a refresh seldom changes the top movies or
    the files those lookups come from (the ingest keeps an unchanged file's lookup). When a
    mart's inputs are those its published rows were built from, the build copies the rows from
    that version of the published table (var('answer_schema'), a Delta table) with this build's
    invocation_id instead of reading the lookups again (each mart's node 14-18 s in a refresh
    at IMDb's full size, 5-6 s kept).

    The inputs, hashed into one key:
      * the top movies: tconst, primary_title and original_title (ref('top_movies'));
      * for each lookup the mart reads, the ingest whose conversion wrote its rows
        (converted_in in stg_imdb__ingest_checks; null when not known: no key);
      * var('build_fingerprint'): the dbt project's files, the vars, the target and the dbt,
        dbt-spark and pyspark versions, which `imdb-pipeline transform` passes. Without it (dbt
        typed by hand) there is no key and the mart is always computed.
    The model prints the key as its compiled SQL's `-- inputs_key: <key>` line (inputs_key_of
    reads it back); the publish hook records it on the published copy as the table property
    imdb.inputs_key, in the same CREATE TABLE AS SELECT as the rows ('none' without a key). A
    mart is kept only when its published copy's latest commit is that statement and the
    property holds the same key (kept_version.sql). The candidate itself is plain Parquet,
    rewritten on every build: it has no versions to go back to.
-#}
{#-
    What a kept mart's model starts with, a dict of:
      * 'published': its copy in var('answer_schema');
      * 'version': kept_version(published, mart_inputs_key(...)), the version of it to copy;
      * 'key_line': the `-- inputs_key: <key>` line the publish hook records (inputs_key_of;
        `-- inputs_key: none` without a key);
      * 'top_tconsts': the tconsts of the top movies, for lookup_rows_of.
    'published' and 'top_tconsts' are none while dbt parses or compiles a unit test. The model
    selects from 'published' at 'version' when it is not none, and computes its rows otherwise.
    The top movies are read once, for both the key and the tconsts (one query fewer per mart on
    the build's critical path).
-#}
{% macro kept_mart(top_movies, ingest_checks, lookup_tables) -%}
    {%- set top, published = none, none -%}
    {%- if execute and model.resource_type != 'unit_test' -%}
        {%- set top = run_query(
            'select tconst, primary_title, original_title from ' ~ top_movies ~ ' order by tconst'
        ) -%}
        {%- set published = api.Relation.create(
            database=this.database, schema=var('answer_schema'), identifier=this.identifier,
            type='table'
        ) -%}
    {%- endif -%}
    {%- set key = mart_inputs_key(top, ingest_checks, lookup_tables) -%}
    {{ return({
        'published': published,
        'version': kept_version(published, key),
        'key_line': '-- inputs_key: ' ~ ('none' if key is none else key),
        'top_tconsts': none if top is none else top.columns['tconst'].values() | unique | list,
    }) }}
{%- endmacro %}
