"""Partition-sized reads and writes against a warehouse target (DuckDB file or PostgreSQL):
delete+insert of one partition, so loading the same partition twice is idempotent."""

from __future__ import annotations

from contextlib import contextmanager

import pandas as pd
import sqlalchemy as sa

from .targets import WarehouseTarget


class Warehouse:
    def __init__(self, target: WarehouseTarget):
        self.target = target

    @property
    def schema(self) -> str:
        if self.target.type == "duckdb":
            return self.target.schema or "main"
        return self.target.schema if self.target.schema != "main" else "public"

    @contextmanager
    def _duck(self):
        from pathlib import Path

        import duckdb

        Path(self.target.path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.target.path)
        try:
            yield con
        finally:
            con.close()  # release the file: dbt and PyAirbyte open it next

    def _engine(self) -> sa.Engine:
        return sa.create_engine(self.target.sqlalchemy_url())

    def replace_partition(self, table: str, df: pd.DataFrame, where: dict[str, object]) -> int:
        """Delete the rows of this partition, insert ``df``: one transaction."""
        cond = " and ".join(f"{k} = ?" for k in where) or "1=1"
        if self.target.type == "duckdb":
            with self._duck() as con:
                con.execute(f'create schema if not exists "{self.schema}"')
                fq = f'"{self.schema}"."{table}"'
                con.register("incoming", df)
                exists = con.execute(
                    "select count(*) from information_schema.tables where table_schema = ? "
                    "and table_name = ?", [self.schema, table]).fetchone()[0]
                con.execute("begin")
                if not exists:
                    con.execute(f"create table {fq} as select * from incoming limit 0")
                con.execute(f"delete from {fq} where {cond}", list(where.values()))
                con.execute(f"insert into {fq} by name select * from incoming")
                con.execute("commit")
                con.unregister("incoming")
            return len(df)
        eng = self._engine()
        try:
            with eng.begin() as c:
                c.execute(sa.text(f'create schema if not exists "{self.schema}"'))
                if sa.inspect(c).has_table(table, schema=self.schema):
                    params = {f"p{i}": v for i, v in enumerate(where.values())}
                    pg_cond = " and ".join(f"{k} = :p{i}" for i, k in enumerate(where)) or "true"
                    c.execute(sa.text(f'delete from "{self.schema}"."{table}" where {pg_cond}'),
                              params)
                df.to_sql(table, c, schema=self.schema, if_exists="append", index=False)
        finally:
            eng.dispose()
        return len(df)

    def query(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        """``sql`` may use {schema}; parameters are named (:name)."""
        sql = sql.replace("{schema}", f'"{self.schema}"')
        if self.target.type == "duckdb":
            import re

            with self._duck() as con:
                q = re.sub(r"(?<![:\w]):(\w+)", r"$\1", sql)  # duckdb names params $name
                return con.execute(q, params or {}).df()
        eng = self._engine()
        try:
            with eng.connect() as c:
                return pd.read_sql(sa.text(sql), c, params=params or {})
        finally:
            eng.dispose()
