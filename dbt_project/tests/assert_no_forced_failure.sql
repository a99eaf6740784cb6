-- fails only when asked (var force_test_failure), to exercise dbt_test_failures: warn|fail
select 1 as failure
{% if not var('force_test_failure') %} where 1 = 0 {% endif %}
