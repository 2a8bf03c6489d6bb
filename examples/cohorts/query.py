"""Query a cohort dataset with DuckDB (or pandas when DuckDB is not installed).

    dermasim cohort examples/cohorts/age_and_depth.toml --out cohort_out
    python examples/cohorts/query.py cohort_out [plot.png]
"""

import os
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "cohort_out"
members = os.path.join(out, "members", "*", "*.parquet")
timeline = os.path.join(out, "timeline", "*", "*.parquet")

try:
    import duckdb
except ImportError:
    duckdb = None

if duckdb is not None:
    con = duckdb.connect()
    print("collagen at the end of follow-up, by protocol and sex (DuckDB):")
    print(
        con.sql(
            f"""
            SELECT protocol, "patient.sex" AS sex, count(*) AS n,
                   quantile_cont(collagen_total_rel_end, 0.05) AS p05,
                   median(collagen_total_rel_end) AS p50,
                   quantile_cont(collagen_total_rel_end, 0.95) AS p95
            FROM read_parquet('{members}', hive_partitioning = true)
            GROUP BY ALL ORDER BY ALL
            """
        )
    )
    print("paired gain of 1.5 mm over 0.5 mm, by decade of age:")
    print(
        con.sql(
            f"""
            WITH m AS (SELECT * FROM read_parquet('{members}', hive_partitioning = true))
            SELECT floor(a."patient.age_years" / 10) * 10 AS decade, count(*) AS n,
                   median(a.collagen_total_rel_end - b.collagen_total_rel_end) AS median_gain
            FROM m a JOIN m b USING (member)
            WHERE a.protocol = 'pen_1.0mm' AND b.protocol = 'pen_0.5mm'
            GROUP BY ALL ORDER BY ALL
            """
        )
    )
    if os.path.isdir(os.path.join(out, "timeline")):
        print("cohort median collagen by day (first rows):")
        print(
            con.sql(
                f"""
                SELECT protocol, t_day, median(collagen_total_rel) AS median
                FROM read_parquet('{timeline}', hive_partitioning = true)
                GROUP BY ALL ORDER BY protocol, t_day LIMIT 8
                """
            )
        )
else:
    import pandas as pd

    df = pd.read_parquet(os.path.join(out, "members"))
    print(df.groupby(["protocol", "patient.sex"])["collagen_total_rel_end"].describe())

import dermasim  # noqa: E402

print(dermasim.cohort_summary(out, by=["protocol", "age_band"]).round(4).to_string())
if len(sys.argv) > 2:
    print("wrote", dermasim.plot_cohort(out, sys.argv[2]))
