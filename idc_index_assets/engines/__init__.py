"""Where index queries run. `base` is what every engine hands back (Arrow record batches and
metadata) and raises; `duckdb` is the embedded engine over a local source snapshot, `bigquery` the
production one; `semantics` turns BigQuery SQL into DuckDB SQL with BigQuery's results (the part
that grows as more BigQuery constructs are covered); `resource` is the Dagster resource that picks
one. Imports only `sources`."""
