select id as order_id, user_id as customer_id, cast(order_date as date) as order_date, status
from {{ ref('raw_orders') }}
where cast(order_date as date) <= cast('{{ var("as_of") }}' as date)
{% if var("inject_bad_status", false) %}
-- lets a test break the accepted_values test (and see dbt skip what depends on it)
union all select 99, 1, cast('2024-01-01' as date), 'lost'
{% endif %}
