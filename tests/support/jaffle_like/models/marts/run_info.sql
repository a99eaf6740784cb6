select cast('{{ var("as_of") }}' as date) as as_of, count(*) as orders_included
from {{ ref('stg_orders') }}
