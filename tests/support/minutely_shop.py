"""The shop graph with its orders schedule ticking every minute, so a test can watch
`dagster-daemon` fire a partitioned schedule without waiting for 01:00."""

from databuild_assets.core import Graph
from databuild_assets.examples import shop


class MinutelyOrders(shop.IngestOrders):
    schedule = {"cron_schedule": "* * * * *"}


graph = Graph([MinutelyOrders(), *shop.JOBS[1:]], name="shop")
