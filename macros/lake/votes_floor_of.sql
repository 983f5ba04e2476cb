{#-
    The votes_floor partition that holds the smallest numVotes a `num_votes >= min_votes`
    filter keeps: the largest of var('votes_floors') (ingest.lake.VOTE_FLOORS, the ranges the
    ingest partitions title_ratings by) not above min_votes. `votes_floor >= votes_floor_of(m)`
    beside `num_votes >= m` lets Spark skip every partition below it at planning time.
-#}
{% macro votes_floor_of(min_votes) -%}
    {%- set floors = var('votes_floors') | select('le', min_votes | int) | list -%}
    {{- floors | max if floors else 0 -}}
{%- endmacro %}
