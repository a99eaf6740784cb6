select order_id from {{ ref('orders') }}
where order_date > cast('{{ var("as_of") }}' as date)
